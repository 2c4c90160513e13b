// Package awsenv gives constructs the account, partition and region they are deployed to,
// read once per stack by data sources, so policies never hard-code them.
package awsenv

import (
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/dataawscalleridentity"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/dataawspartition"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/dataawsregion"
	"github.com/hashicorp/terraform-cdk-go/cdktf"
)

const id = "AwsEnvironment"

// Env holds tokens for the deployment's account id, partition and region.
type Env struct {
	AccountID *string
	Partition *string
	Region    *string
	DNSSuffix *string
}

// Of returns the environment of scope's stack, creating its data sources on first use.
func Of(scope constructs.Construct) Env {
	stack := cdktf.TerraformStack_Of(scope)
	holder, ok := stack.Node().TryFindChild(jsii.String(id)).(constructs.Construct)
	if !ok || holder == nil {
		holder = constructs.NewConstruct(stack, jsii.String(id))
		dataawscalleridentity.NewDataAwsCallerIdentity(holder, jsii.String("Caller"), nil)
		dataawspartition.NewDataAwsPartition(holder, jsii.String("Partition"), nil)
		dataawsregion.NewDataAwsRegion(holder, jsii.String("Region"), nil)
	}
	caller := holder.Node().FindChild(jsii.String("Caller")).(dataawscalleridentity.DataAwsCallerIdentity)
	partition := holder.Node().FindChild(jsii.String("Partition")).(dataawspartition.DataAwsPartition)
	region := holder.Node().FindChild(jsii.String("Region")).(dataawsregion.DataAwsRegion)
	return Env{
		AccountID: caller.AccountId(),
		Partition: partition.Partition(),
		Region:    region.Name(),
		DNSSuffix: partition.DnsSuffix(),
	}
}

// ServiceEndpoint is the regional service name used in kms:ViaService, e.g. s3.us-east-1.amazonaws.com.
func (e Env) ServiceEndpoint(service string) string {
	return service + "." + *e.Region + "." + *e.DNSSuffix
}

// RootArn is the account root principal's ARN.
func (e Env) RootArn() string {
	return "arn:" + *e.Partition + ":iam::" + *e.AccountID + ":root"
}
