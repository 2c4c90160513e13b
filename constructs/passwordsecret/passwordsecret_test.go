package passwordsecret_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/constructs/encryptionkey"
	"github.com/acme/module-registry/constructs/internal/synthtest"
	"github.com/acme/module-registry/constructs/internal/writeonly"
	"github.com/acme/module-registry/constructs/passwordsecret"
	"github.com/acme/module-registry/constructs/removal"
)

func TestDefaultsAreSecure(t *testing.T) {
	stack := synthtest.NewStack(t)
	key := encryptionkey.New(stack, "Key", nil)
	s := passwordsecret.New(stack, "Admin", &passwordsecret.Props{EncryptionKey: key})
	assert.Equal(t, "password", s.Field())
	out := synthtest.Synth(t, stack)

	secret := out.Resource(t, "aws_secretsmanager_secret")
	assert.Equal(t, "acme-registry-admin", secret["name"])
	assert.Regexp(t, `^\$\{aws_kms_key\.[^.]+\.arn\}$`, secret["kms_key_id"], "encrypted with the project key")
	assert.EqualValues(t, 7, secret["recovery_window_in_days"])

	version := out.Resource(t, "aws_secretsmanager_secret_version")
	assert.NotContains(t, version, "secret_string", "the value goes only to the write-only argument")
	ephemeral := out.Tree["ephemeral"].(map[string]any)["aws_secretsmanager_random_password"].(map[string]any)
	require.Len(t, ephemeral, 1)
	for name, body := range ephemeral {
		assert.EqualValues(t, 32, body.(map[string]any)["password_length"])
		assert.Equal(t, true, body.(map[string]any)["exclude_punctuation"])
		assert.Equal(t, `${jsonencode({"password" = ephemeral.aws_secretsmanager_random_password.`+name+`.random_password})}`,
			version["secret_string_wo"], "the password by reference only")
	}
	tf := out.Tree["terraform"].(map[string]any)
	assert.Equal(t, writeonly.RequiredAWSProvider, tf["required_providers"].(map[string]any)["aws"].(map[string]any)["version"])
	assert.Equal(t, writeonly.RequiredTerraform, tf["required_version"])
}

func TestGrantReadIsThisSecretOnly(t *testing.T) {
	stack := synthtest.NewStack(t)
	key := encryptionkey.New(stack, "Key", nil)
	s := passwordsecret.New(stack, "Admin", &passwordsecret.Props{EncryptionKey: key})
	role := synthtest.Role(stack, "Exec")
	s.GrantRead(role)
	out := synthtest.Synth(t, stack)
	policies := out.Resources("aws_iam_role_policy")
	require.Len(t, policies, 2, "the secret grant and the key's decrypt via Secrets Manager")
	var read map[string]any
	for _, p := range policies {
		if st := synthtest.BySid(out.PolicyStatements(t, p["policy"]))["ReadPasswordSecret"]; st != nil {
			read = st
		}
	}
	require.NotNil(t, read)
	assert.ElementsMatch(t, []string{"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"}, synthtest.Strings(read["actions"]))
	res := synthtest.Strings(read["resources"])
	require.Len(t, res, 1)
	assert.Regexp(t, `^\$\{aws_secretsmanager_secret\.[^.]+\.arn\}$`, res[0])
}

func TestInvalidPropsAreListed(t *testing.T) {
	stack := synthtest.NewStack(t)
	passwordsecret.New(stack, "Admin", &passwordsecret.Props{
		SecretName: "bad name", Field: "1x", Length: 8, RecoveryWindowDays: 3, RemovalPolicy: removal.Destroy, Generation: -1,
	})
	errs := synthtest.ValidationErrors(t, stack)
	for _, want := range []string{"EncryptionKey: is required", `SecretName: "bad name"`, `Field: "1x"`,
		"Length: must be between 20 and 4096", "RecoveryWindowDays: is 3 but RemovalPolicy is removal.Destroy", "Generation: must be at least 1"} {
		found := false
		for _, e := range errs {
			found = found || strings.Contains(e, want)
		}
		assert.True(t, found, "missing %q in %v", want, errs)
	}
}

// Both generated-secret constructs offer the same grants; rotation reads and writes this
// secret only, and uses the key only through Secrets Manager.
func TestGrantRotateIsThisSecretOnly(t *testing.T) {
	stack := synthtest.NewStack(t)
	key := encryptionkey.New(stack, "Key", nil)
	s := passwordsecret.New(stack, "Admin", &passwordsecret.Props{EncryptionKey: key})
	role := synthtest.Role(stack, "Rotator")
	s.GrantRotate(role)
	out := synthtest.Synth(t, stack)
	st := map[string]map[string]any{}
	for _, p := range out.Resources("aws_iam_role_policy") {
		for sid, s := range synthtest.BySid(out.PolicyStatements(t, p["policy"])) {
			st[sid] = s
		}
	}
	require.Contains(t, st, "RotatePasswordSecret")
	assert.ElementsMatch(t, []string{"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret", "secretsmanager:PutSecretValue"},
		synthtest.Strings(st["RotatePasswordSecret"]["actions"]))
	assert.Regexp(t, `^\$\{aws_secretsmanager_secret\.[^.]+\.arn\}$`, synthtest.Strings(st["RotatePasswordSecret"]["resources"])[0])
	require.Contains(t, st, "UseKeyEncryptDecrypt", "a new version is encrypted through Secrets Manager")
	via := synthtest.Conditions(st["UseKeyEncryptDecrypt"])["StringEquals kms:ViaService"]
	require.Len(t, via, 1)
	assert.True(t, strings.HasPrefix(via[0], "secretsmanager."), via[0])
}

func TestDescriptionIsBounded(t *testing.T) {
	stack := synthtest.NewStack(t)
	passwordsecret.New(stack, "Admin", &passwordsecret.Props{
		EncryptionKey: encryptionkey.New(stack, "Key", nil), Description: strings.Repeat("d", 2049),
	})
	assert.Equal(t, []string{"[test/Admin] Description: must be at most 2048 characters, got 2049"}, synthtest.ValidationErrors(t, stack))
}
