package passwordsecret_test

import (
	"fmt"

	"github.com/aws/jsii-runtime-go"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/iamrole"
	"github.com/hashicorp/terraform-cdk-go/cdktf"

	"github.com/acme/module-registry/constructs/encryptionkey"
	"github.com/acme/module-registry/constructs/passwordsecret"
)

// A generated administrator password under the project key, readable by a container's
// execution role and injected as an environment variable through ECS's secret reference.
func ExampleNew() {
	app := cdktf.NewApp(nil)
	stack := cdktf.NewTerraformStack(app, jsii.String("registry"))

	key := encryptionkey.New(stack, "ProjectKey", nil)
	admin := passwordsecret.New(stack, "AdminPassword", &passwordsecret.Props{EncryptionKey: key})
	exec := iamrole.NewIamRole(stack, jsii.String("Execution"), &iamrole.IamRoleConfig{AssumeRolePolicy: jsii.String("{}")})
	admin.GrantRead(exec)
	fmt.Println("valueFrom = <secret arn>:" + admin.Field() + "::")
	// Output: valueFrom = <secret arn>:password::
}
