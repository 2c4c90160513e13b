package passwordsecret_test

import (
	"fmt"

	"github.com/aws/jsii-runtime-go"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/iamrole"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/provider"
	"github.com/hashicorp/terraform-cdk-go/cdktf"

	"github.com/acme/module-registry/constructs/encryptionkey"
	"github.com/acme/module-registry/constructs/internal/synthtest"
	"github.com/acme/module-registry/constructs/passwordsecret"
)

// A generated administrator password under the project key, readable by a container's
// execution role and injected as an environment variable through ECS's secret reference.
func ExampleNew() {
	app := cdktf.NewApp(nil)
	stack := cdktf.NewTerraformStack(app, jsii.String("registry"))
	provider.NewAwsProvider(stack, jsii.String("aws"), &provider.AwsProviderConfig{Region: jsii.String("us-east-1")})

	key := encryptionkey.New(stack, "ProjectKey", nil)
	admin := passwordsecret.New(stack, "AdminPassword", &passwordsecret.Props{EncryptionKey: key})
	exec := iamrole.NewIamRole(stack, jsii.String("Execution"), &iamrole.IamRoleConfig{AssumeRolePolicy: jsii.String("{}")})
	admin.GrantRead(exec)

	synthtest.Print(stack, "aws_secretsmanager_secret", "name")
	fmt.Println("valueFrom = <secret arn>:" + admin.Field() + "::")
	// Output:
	// aws_secretsmanager_secret name: "acme-registry-admin"
	// valueFrom = <secret arn>:password::
}
