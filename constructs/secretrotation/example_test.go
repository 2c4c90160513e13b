package secretrotation_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/acme/module-registry/constructs/encryptionkey"
	"github.com/acme/module-registry/constructs/internal/synthtest"
	"github.com/acme/module-registry/constructs/jwtsecret"
	"github.com/acme/module-registry/constructs/secretrotation"
)

// The JWT signing secret rotated every 30 days by the Go rotation function, deployed from
// the zip main.go builds before synth (a stand-in here).
func ExampleNew() {
	stack := synthtest.ExampleStack("registry")
	dir, _ := os.MkdirTemp("", "rotation")
	defer os.RemoveAll(dir)
	zip := filepath.Join(dir, "rotate-secret.zip")
	_ = os.WriteFile(zip, []byte("PK\x03\x04"), 0o644)

	key := encryptionkey.New(stack, "ProjectKey", nil)
	jwt := jwtsecret.New(stack, "JwtSecret", &jwtsecret.Props{EncryptionKey: key})
	rotation := secretrotation.New(stack, "JwtRotation", &secretrotation.Props{
		Secret: jwt, EncryptionKey: key, FunctionZip: zip,
		FunctionName: "acme-jwt-secret-rotation",
		Environment:  map[string]string{"ROTATION_STRATEGY": "jwt"},
	})

	synthtest.Print(stack, "aws_lambda_function", "function_name", "runtime", "handler")
	synthtest.Print(stack, "aws_secretsmanager_secret_rotation", "rotation_rules")
	fmt.Println("every", rotation.RotationDays(), "days")
	// Output:
	// aws_lambda_function function_name: "acme-jwt-secret-rotation"
	// aws_lambda_function runtime: "provided.al2023"
	// aws_lambda_function handler: "bootstrap"
	// aws_secretsmanager_secret_rotation rotation_rules: {"automatically_after_days":30}
	// every 30 days
}
