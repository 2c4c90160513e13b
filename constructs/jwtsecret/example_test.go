package jwtsecret_test

import (
	"github.com/aws/jsii-runtime-go"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/iamrole"
	"github.com/hashicorp/terraform-cdk-go/cdktf"

	"github.com/acme/module-registry/constructs/encryptionkey"
	"github.com/acme/module-registry/constructs/jwtsecret"
)

// The registry's signing secret under the project key, with shorter-lived tokens, read by
// the service's task role and rotated by an operator role.
func ExampleNew() {
	app := cdktf.NewApp(nil)
	stack := cdktf.NewTerraformStack(app, jsii.String("registry"))

	key := encryptionkey.New(stack, "ProjectKey", nil)
	secret := jwtsecret.New(stack, "JwtSecret", &jwtsecret.Props{
		EncryptionKey:   key,
		ExpirationHours: 4,
	})
	task := iamrole.NewIamRole(stack, jsii.String("Task"), &iamrole.IamRoleConfig{AssumeRolePolicy: jsii.String("{}")})
	secret.GrantRead(task)
	ops := iamrole.NewIamRole(stack, jsii.String("Operator"), &iamrole.IamRoleConfig{AssumeRolePolicy: jsii.String("{}")})
	secret.GrantRotate(ops)
}
