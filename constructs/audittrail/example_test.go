package audittrail_test

import (
	"github.com/aws/jsii-runtime-go"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/dynamodbtable"
	"github.com/hashicorp/terraform-cdk-go/cdktf"

	"github.com/acme/module-registry/constructs/audittrail"
	"github.com/acme/module-registry/constructs/encryptionkey"
	"github.com/acme/module-registry/constructs/securebucket"
)

// The registry's audit trail: the seed's names and retention, data events on the
// artifacts bucket and the packages table, everything encrypted with the project key.
func ExampleNew() {
	app := cdktf.NewApp(nil)
	stack := cdktf.NewTerraformStack(app, jsii.String("registry"))

	key := encryptionkey.New(stack, "ProjectKey", nil)
	artifacts := securebucket.New(stack, "Artifacts", &securebucket.Props{EncryptionKey: key})
	packages := dynamodbtable.NewDynamodbTable(stack, jsii.String("Packages"), &dynamodbtable.DynamodbTableConfig{
		Name:        jsii.String("packages"),
		BillingMode: jsii.String("PAY_PER_REQUEST"),
		HashKey:     jsii.String("pkg_key"),
		Attribute:   &[]*dynamodbtable.DynamodbTableAttribute{{Name: jsii.String("pkg_key"), Type: jsii.String("S")}},
	})
	trail := audittrail.New(stack, "AuditTrail", &audittrail.Props{
		EncryptionKey:      key,
		DataEventBuckets:   []*securebucket.Bucket{artifacts},
		DataEventTableArns: []string{*packages.Arn()},
	})
	cdktf.NewTerraformOutput(stack, jsii.String("trail_arn"), &cdktf.TerraformOutputConfig{Value: trail.TrailArn()})
}
