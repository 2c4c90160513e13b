package jwtsecret_test

import (
	"fmt"

	"github.com/acme/module-registry/constructs/encryptionkey"
	"github.com/acme/module-registry/constructs/internal/synthtest"
	"github.com/acme/module-registry/constructs/jwtsecret"
)

// The registry's signing secret under the project key, with shorter-lived tokens, read by
// the service's task role and rotated by an operator role. The synthesized secret holds
// no value: Terraform generates it at deploy into a write-only argument.
func ExampleNew() {
	stack := synthtest.ExampleStack("registry")

	key := encryptionkey.New(stack, "ProjectKey", nil)
	secret := jwtsecret.New(stack, "JwtSecret", &jwtsecret.Props{
		EncryptionKey:   key,
		ExpirationHours: 4,
	})
	task := synthtest.Role(stack, "Task")
	secret.GrantRead(task)
	ops := synthtest.Role(stack, "Operator")
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
