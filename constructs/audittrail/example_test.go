package audittrail_test

import (
	"github.com/aws/jsii-runtime-go"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/dynamodbtable"
	"github.com/hashicorp/terraform-cdk-go/cdktf"

	"github.com/acme/module-registry/constructs/audittrail"
	"github.com/acme/module-registry/constructs/encryptionkey"
	"github.com/acme/module-registry/constructs/internal/synthtest"
	"github.com/acme/module-registry/constructs/securebucket"
)

// The registry's audit trail: the seed's names and retention, data events on the
// artifacts bucket and the packages table, everything encrypted with the project key.
func ExampleNew() {
	stack := synthtest.ExampleStack("registry")

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

	synthtest.Print(stack, "aws_cloudtrail", "name", "is_multi_region_trail", "include_global_service_events", "enable_log_file_validation")
	synthtest.Print(stack, "aws_cloudwatch_log_group", "name", "retention_in_days")
	// Output:
	// aws_cloudtrail name: "acme-audit-trail"
	// aws_cloudtrail is_multi_region_trail: true
	// aws_cloudtrail include_global_service_events: true
	// aws_cloudtrail enable_log_file_validation: true
	// aws_cloudwatch_log_group name: "/aws/cloudtrail/acme-audit-trail"
	// aws_cloudwatch_log_group retention_in_days: 90
}
