package passwordsecret_test

import (
	"fmt"

	"github.com/acme/module-registry/constructs/encryptionkey"
	"github.com/acme/module-registry/constructs/internal/synthtest"
	"github.com/acme/module-registry/constructs/passwordsecret"
)

// A generated administrator password under the project key, readable by a container's
// execution role and injected as an environment variable through ECS's secret reference.
func ExampleNew() {
	stack := synthtest.ExampleStack("registry")

	key := encryptionkey.New(stack, "ProjectKey", nil)
	admin := passwordsecret.New(stack, "AdminPassword", &passwordsecret.Props{EncryptionKey: key})
	exec := synthtest.Role(stack, "Execution")
	admin.GrantRead(exec)

	synthtest.Print(stack, "aws_secretsmanager_secret", "name")
	fmt.Println("valueFrom = <secret arn>:" + admin.Field() + "::")
	// Output:
	// aws_secretsmanager_secret name: "acme-registry-admin"
	// valueFrom = <secret arn>:password::
}
