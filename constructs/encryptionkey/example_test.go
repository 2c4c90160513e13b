package encryptionkey_test

import (
	"github.com/aws/jsii-runtime-go"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/iamrole"
	"github.com/hashicorp/terraform-cdk-go/cdktf"

	"github.com/acme/module-registry/constructs/encryptionkey"
	"github.com/acme/module-registry/constructs/iampolicy"
)

// A team's own key: secure defaults, one AWS service allowed to use it (scoped to this
// account), and a role that may decrypt only through S3.
func ExampleNew() {
	app := cdktf.NewApp(nil)
	stack := cdktf.NewTerraformStack(app, jsii.String("team-b"))

	key := encryptionkey.New(stack, "Key", &encryptionkey.Props{Alias: "alias/team-b-key"})
	key.AllowServiceUse(encryptionkey.ServiceUse{
		Sid:        "AllowSecretsManagerUse",
		Service:    "secretsmanager.amazonaws.com",
		Actions:    []string{"kms:Decrypt", "kms:GenerateDataKey*"},
		Conditions: []iampolicy.Condition{iampolicy.StringEquals("aws:SourceAccount", "111122223333")},
	})
	role := iamrole.NewIamRole(stack, jsii.String("Reader"), &iamrole.IamRoleConfig{AssumeRolePolicy: jsii.String("{}")})
	key.GrantDecrypt(role, "s3")
}
