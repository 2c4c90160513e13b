package jwtsecret_test

import (
	"fmt"

	"github.com/aws/jsii-runtime-go"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/iamrole"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/provider"
	"github.com/hashicorp/terraform-cdk-go/cdktf"

	"github.com/acme/module-registry/constructs/encryptionkey"
	"github.com/acme/module-registry/constructs/internal/synthtest"
	"github.com/acme/module-registry/constructs/jwtsecret"
)

// The registry's signing secret under the project key, with shorter-lived tokens, read by
// the service's task role and rotated by an operator role. The synthesized secret holds
// no value: Terraform generates it at deploy into a write-only argument.
func ExampleNew() {
	app := cdktf.NewApp(nil)
	stack := cdktf.NewTerraformStack(app, jsii.String("registry"))
	provider.NewAwsProvider(stack, jsii.String("aws"), &provider.AwsProviderConfig{Region: jsii.String("us-east-1")})

	key := encryptionkey.New(stack, "ProjectKey", nil)
	secret := jwtsecret.New(stack, "JwtSecret", &jwtsecret.Props{
		EncryptionKey:   key,
		ExpirationHours: 4,
	})
	task := iamrole.NewIamRole(stack, jsii.String("Task"), &iamrole.IamRoleConfig{AssumeRolePolicy: jsii.String("{}")})
	secret.GrantRead(task)
	ops := iamrole.NewIamRole(stack, jsii.String("Operator"), &iamrole.IamRoleConfig{AssumeRolePolicy: jsii.String("{}")})
	secret.GrantRotate(ops)

	synthtest.Print(stack, "aws_secretsmanager_secret", "name", "recovery_window_in_days")
	synthtest.Print(stack, "aws_secretsmanager_secret_version", "secret_string")
	fmt.Println("injected as", secret.Field())
	// Output:
	// aws_secretsmanager_secret name: "acme-jwt-secret"
	// aws_secretsmanager_secret recovery_window_in_days: 7
	// aws_secretsmanager_secret_version secret_string: null
	// injected as jwt_secret
}
