package registrytables_test

import (
	"github.com/aws/jsii-runtime-go"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/iamrole"
	"github.com/hashicorp/terraform-cdk-go/cdktf"

	"github.com/acme/module-registry/constructs/encryptionkey"
	"github.com/acme/module-registry/constructs/registrytables"
)

// The registry's tables under the project key: the service's task role reads and writes
// items in all five, a reporting role only reads the downloads table, and the table names
// go to the container as REGISTRY_TABLE_* variables.
func ExampleNew() {
	app := cdktf.NewApp(nil)
	stack := cdktf.NewTerraformStack(app, jsii.String("registry"))

	key := encryptionkey.New(stack, "ProjectKey", nil)
	tables := registrytables.New(stack, "Tables", &registrytables.Props{EncryptionKey: key})

	task := iamrole.NewIamRole(stack, jsii.String("Task"), &iamrole.IamRoleConfig{AssumeRolePolicy: jsii.String("{}")})
	tables.GrantReadWrite(task)
	reports := iamrole.NewIamRole(stack, jsii.String("Reports"), &iamrole.IamRoleConfig{AssumeRolePolicy: jsii.String("{}")})
	tables.Downloads().GrantRead(reports)

	environment := tables.Environment() // {"REGISTRY_TABLE_USERS": <users table name>, ...}
	_ = environment
}

// A second copy for another team in the same account: every name gets a prefix.
func ExampleNew_secondCopy() {
	app := cdktf.NewApp(nil)
	stack := cdktf.NewTerraformStack(app, jsii.String("team-b"))

	key := encryptionkey.FromKeyArn(stack, "SharedKey", "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab")
	registrytables.New(stack, "Tables", &registrytables.Props{
		EncryptionKey: key,
		NamePrefix:    "team-b-", // team-b-users, team-b-tokens, ...
	})
}
