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
	assert.ElementsMatch(t, []string{"secretsmanager:GetSecretValue"}, synthtest.Strings(read["actions"]))
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
