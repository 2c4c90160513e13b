package encryptionkey_test

import (
	"fmt"

	"github.com/acme/module-registry/constructs/encryptionkey"
	"github.com/acme/module-registry/constructs/iampolicy"
	"github.com/acme/module-registry/constructs/internal/synthtest"
)

// A team's own key: secure defaults, one AWS service allowed to use it (scoped to this
// account), and a role that may decrypt only through S3.
func ExampleNew() {
	stack := synthtest.ExampleStack("team-b")

	key := encryptionkey.New(stack, "Key", &encryptionkey.Props{Alias: "alias/team-b-key"})
	key.AllowServiceUse(encryptionkey.ServiceUse{
		Sid:        "AllowSecretsManagerUse",
		Service:    "secretsmanager.amazonaws.com",
		Actions:    []string{"kms:Decrypt", "kms:GenerateDataKey"},
		Conditions: []iampolicy.Condition{iampolicy.StringEquals("aws:SourceAccount", "111122223333")},
	})
	role := synthtest.Role(stack, "Reader")
	key.GrantDecrypt(role, "s3")

	synthtest.Print(stack, "aws_kms_key", "enable_key_rotation", "deletion_window_in_days")
	synthtest.Print(stack, "aws_kms_alias", "name")
	for _, st := range key.PolicyStatements() {
		fmt.Println(st.Sid, st.Actions)
	}
	// Output:
	// aws_kms_key enable_key_rotation: true
	// aws_kms_key deletion_window_in_days: 7
	// aws_kms_alias name: "alias/team-b-key"
	// EnableRootAccountAdministration [kms:*]
	// AllowSecretsManagerUse [kms:Decrypt kms:GenerateDataKey]
}
