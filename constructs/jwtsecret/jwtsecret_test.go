package jwtsecret_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/constructs/encryptionkey"
	"github.com/acme/module-registry/constructs/internal/synthtest"
	"github.com/acme/module-registry/constructs/jwtsecret"
	"github.com/acme/module-registry/constructs/removal"
)

const sharedKeyArn = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"

var valuePattern = regexp.MustCompile(`^\$\{jsonencode\(\{(.*)\}\)\}$`)

// value parses the secret_string_wo expression into its fields, unevaluated.
func value(t *testing.T, version map[string]any) map[string]string {
	t.Helper()
	expr, _ := version["secret_string_wo"].(string)
	m := valuePattern.FindStringSubmatch(expr)
	require.NotNil(t, m, "secret_string_wo is not a jsonencode expression: %q", expr)
	out := map[string]string{}
	for _, pair := range strings.Split(m[1], ", ") {
		k, v, ok := strings.Cut(pair, " = ")
		require.True(t, ok, "malformed field %q", pair)
		out[k] = v
	}
	return out
}

func TestDefaultsAreSecure(t *testing.T) {
	stack := synthtest.NewStack(t)
	key := encryptionkey.New(stack, "Key", nil)
	jwtsecret.New(stack, "Jwt", &jwtsecret.Props{EncryptionKey: key})
	out := synthtest.Synth(t, stack)

	secret := out.Resource(t, "aws_secretsmanager_secret")
	assert.Equal(t, "acme-jwt-secret", secret["name"])
	assert.Equal(t, jwtsecret.DefaultDescription, secret["description"])
	assert.Regexp(t, `^\$\{aws_kms_key\.[^.]+\.arn\}$`, secret["kms_key_id"], "encrypted with the project key")
	assert.EqualValues(t, 7, secret["recovery_window_in_days"])

	version := out.Resource(t, "aws_secretsmanager_secret_version")
	assert.Regexp(t, `^\$\{aws_secretsmanager_secret\.[^.]+\.id\}$`, version["secret_id"])
	assert.NotContains(t, version, "secret_string", "the value goes only to the write-only argument")
	assert.NotContains(t, version, "secret_binary")
	assert.NotNil(t, version["secret_string_wo_version"])

	ephemeral := out.Tree["ephemeral"].(map[string]any)["aws_secretsmanager_random_password"].(map[string]any)
	require.Len(t, ephemeral, 1)
	var name string
	var password map[string]any
	for name = range ephemeral {
		password = ephemeral[name].(map[string]any)
	}
	assert.EqualValues(t, 64, password["password_length"])
	assert.Equal(t, true, password["exclude_punctuation"])
	assert.Equal(t, true, password["require_each_included_type"])

	assert.Equal(t, map[string]string{
		"jwt_secret":           "ephemeral.aws_secretsmanager_random_password." + name + ".random_password",
		"jwt_algorithm":        `"HS256"`,
		"jwt_expiration_hours": "10",
		"jwt_max_uses":         "1000",
	}, value(t, version), "exactly the four fields, the secret by reference only")

	tf := out.Tree["terraform"].(map[string]any)
	assert.Equal(t, jwtsecret.RequiredAWSProvider, tf["required_providers"].(map[string]any)["aws"].(map[string]any)["version"])
	assert.Equal(t, jwtsecret.RequiredTerraform, tf["required_version"])

	// No grants, no key-policy statements: Secrets Manager works with the caller's IAM
	// permissions, so the key policy stays root administration only.
	assert.Empty(t, out.Resources("aws_iam_role_policy"))
	assert.Len(t, key.PolicyStatements(), 1)
}

func TestNoSecretMaterialInSynthesizedJSON(t *testing.T) {
	stack := synthtest.NewStack(t)
	jwtsecret.New(stack, "Jwt", &jwtsecret.Props{EncryptionKey: encryptionkey.FromKeyArn(stack, "Key", sharedKeyArn)})
	out := synthtest.Synth(t, stack)
	// Nothing Terraform would persist: no plain or binary secret argument, no random
	// provider resource, no long random-looking literal anywhere.
	assert.NotContains(t, out.Raw, `"secret_string"`)
	assert.NotContains(t, out.Raw, `"secret_binary"`)
	assert.NotContains(t, out.Raw, `"random_password"`, "no random provider resource (its result would be in state)")
	assert.NotContains(t, out.Tree, "output")
	assert.Empty(t, regexp.MustCompile(`[A-Za-z0-9+/=]{32,}`).FindAllString(out.Raw, -1), "no literal key material")
}

func TestPropsOverrideDefaults(t *testing.T) {
	stack := synthtest.NewStack(t)
	jwtsecret.New(stack, "Jwt", &jwtsecret.Props{
		EncryptionKey: encryptionkey.FromKeyArn(stack, "Key", sharedKeyArn),
		SecretName:    "team-b/jwt", Description: "team b", Algorithm: "HS512",
		ExpirationHours: 24, MaxUses: 1, SecretLength: 128, RecoveryWindowDays: 30,
	})
	out := synthtest.Synth(t, stack)
	secret := out.Resource(t, "aws_secretsmanager_secret")
	assert.Equal(t, "team-b/jwt", secret["name"])
	assert.Equal(t, "team b", secret["description"])
	assert.Equal(t, sharedKeyArn, secret["kms_key_id"])
	assert.EqualValues(t, 30, secret["recovery_window_in_days"])
	v := value(t, out.Resource(t, "aws_secretsmanager_secret_version"))
	assert.Equal(t, `"HS512"`, v["jwt_algorithm"])
	assert.Equal(t, "24", v["jwt_expiration_hours"])
	assert.Equal(t, "1", v["jwt_max_uses"])
	for _, p := range out.Tree["ephemeral"].(map[string]any)["aws_secretsmanager_random_password"].(map[string]any) {
		assert.EqualValues(t, 128, p.(map[string]any)["password_length"])
	}
}

func TestRemovalPolicyDestroyDeletesWithoutRecovery(t *testing.T) {
	stack := synthtest.NewStack(t)
	jwtsecret.New(stack, "Jwt", &jwtsecret.Props{
		EncryptionKey: encryptionkey.FromKeyArn(stack, "Key", sharedKeyArn), RemovalPolicy: removal.Destroy,
	})
	out := synthtest.Synth(t, stack)
	assert.EqualValues(t, 0, out.Resource(t, "aws_secretsmanager_secret")["recovery_window_in_days"])
}

func TestValueVersionFollowsTheWriteOnlyInputs(t *testing.T) {
	version := func(p jwtsecret.Props) any {
		stack := synthtest.NewStack(t)
		p.EncryptionKey = encryptionkey.FromKeyArn(stack, "Key", sharedKeyArn)
		jwtsecret.New(stack, "Jwt", &p)
		return synthtest.Synth(t, stack).Resource(t, "aws_secretsmanager_secret_version")["secret_string_wo_version"]
	}
	base := version(jwtsecret.Props{})
	assert.Equal(t, base, version(jwtsecret.Props{Generation: 1, ExpirationHours: 10}), "same inputs, same version: no rewrite")
	assert.NotEqual(t, base, version(jwtsecret.Props{Generation: 2}), "bumping Generation rewrites")
	assert.NotEqual(t, base, version(jwtsecret.Props{ExpirationHours: 12}), "a new expiry reaches the value")
	assert.NotEqual(t, base, version(jwtsecret.Props{Algorithm: "HS384"}))
	assert.NotEqual(t, base, version(jwtsecret.Props{MaxUses: 5}))
}

func TestTwoSecretsInOneStack(t *testing.T) {
	stack := synthtest.NewStack(t)
	key := encryptionkey.FromKeyArn(stack, "Key", sharedKeyArn)
	jwtsecret.New(stack, "A", &jwtsecret.Props{EncryptionKey: key, SecretName: "a-jwt"})
	jwtsecret.New(stack, "B", &jwtsecret.Props{EncryptionKey: key, SecretName: "b-jwt"})
	out := synthtest.Synth(t, stack)
	passwords := out.Tree["ephemeral"].(map[string]any)["aws_secretsmanager_random_password"].(map[string]any)
	assert.Len(t, passwords, 2, "each secret has its own generator")
	refs := map[string]bool{}
	for _, v := range out.Resources("aws_secretsmanager_secret_version") {
		refs[value(t, v)["jwt_secret"]] = true
	}
	assert.Len(t, refs, 2, "each version uses its own generator")
}

func TestGrantReadIsLeastPrivilege(t *testing.T) {
	stack := synthtest.NewStack(t)
	key := encryptionkey.New(stack, "Key", nil)
	s := jwtsecret.New(stack, "Jwt", &jwtsecret.Props{EncryptionKey: key})
	role := synthtest.Role(stack, "Task")
	s.GrantRead(role)
	out := synthtest.Synth(t, stack)
	statements := map[string]map[string]any{}
	for _, p := range out.Resources("aws_iam_role_policy") {
		assert.Regexp(t, `^\$\{aws_iam_role\.[^.]+\.name\}$`, p["role"])
		for _, st := range out.PolicyStatements(t, p["policy"]) {
			statements[st["sid"].(string)] = st
		}
	}
	require.Len(t, statements, 2)
	read := statements["ReadJwtSecret"]
	require.NotNil(t, read)
	assert.ElementsMatch(t, []string{"secretsmanager:GetSecretValue"}, synthtest.Strings(read["actions"]))
	assert.Regexp(t, `^\$\{aws_secretsmanager_secret\.[^.]+\.arn\}$`, synthtest.Strings(read["resources"])[0])
	assert.Len(t, synthtest.Strings(read["resources"]), 1, "this secret only")
	decrypt := statements["UseKeyDecrypt"]
	require.NotNil(t, decrypt)
	assert.Equal(t, []string{"kms:Decrypt"}, synthtest.Strings(decrypt["actions"]))
	assert.Regexp(t, `^\$\{aws_kms_key\.[^.]+\.arn\}$`, synthtest.Strings(decrypt["resources"])[0])
	via := synthtest.Conditions(decrypt)["StringEquals kms:ViaService"]
	require.Len(t, via, 1)
	assert.Regexp(t, `^secretsmanager\.\$\{data\.aws_region\.[^}]+\}\.`, via[0])
}

func TestGrantRotate(t *testing.T) {
	stack := synthtest.NewStack(t)
	s := jwtsecret.New(stack, "Jwt", &jwtsecret.Props{EncryptionKey: encryptionkey.FromKeyArn(stack, "Key", sharedKeyArn)})
	role := synthtest.Role(stack, "Ops")
	s.GrantRotate(role)
	out := synthtest.Synth(t, stack)
	statements := map[string]map[string]any{}
	for _, p := range out.Resources("aws_iam_role_policy") {
		for _, st := range out.PolicyStatements(t, p["policy"]) {
			statements[st["sid"].(string)] = st
		}
	}
	assert.ElementsMatch(t, []string{"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret", "secretsmanager:PutSecretValue"},
		synthtest.Strings(statements["RotateJwtSecret"]["actions"]))
	kms := statements["UseKeyEncryptDecrypt"]
	require.NotNil(t, kms)
	assert.Equal(t, []string{sharedKeyArn}, synthtest.Strings(kms["resources"]))
	assert.Len(t, synthtest.Conditions(kms)["StringEquals kms:ViaService"], 1)
}

func TestInvalidPropsListEveryViolation(t *testing.T) {
	stack := synthtest.NewStack(t)
	s := jwtsecret.New(stack, "Jwt", &jwtsecret.Props{
		SecretName: "bad name!", Algorithm: "none", ExpirationHours: 25, MaxUses: -1,
		SecretLength: 32, RecoveryWindowDays: 3, Generation: -1,
	})
	s.GrantRead(nil)
	errs := synthtest.ValidationErrors(t, stack)
	want := []string{
		"EncryptionKey: is required",
		`SecretName: "bad name!" must be 1-512 letters, digits or /_+=.@- characters`,
		`Algorithm: "none" is not one of HS256, HS384, HS512`,
		"ExpirationHours: must be between 1 and 24, got 25",
		"MaxUses: must be at least 1, got -1",
		"SecretLength: must be between 64 and 4096 characters, got 32",
		"RecoveryWindowDays: must be between 7 and 30 days, got 3",
		"Generation: must be at least 1, got -1",
		"GrantRead: role is nil",
	}
	for _, w := range want {
		assert.True(t, hasPrefix(errs, "[test/Jwt] "+w), "missing %q in:\n%s", w, strings.Join(errs, "\n"))
	}
	assert.Len(t, errs, len(want), "one message per violation:\n%s", strings.Join(errs, "\n"))
}

func TestRecoveryWindowRules(t *testing.T) {
	for _, tc := range []struct {
		props jwtsecret.Props
		want  string
	}{
		{jwtsecret.Props{RecoveryWindowDays: 31}, "RecoveryWindowDays: must be between 7 and 30 days, got 31 (RemovalPolicy removal.Destroy deletes without recovery)"},
		{jwtsecret.Props{RecoveryWindowDays: -1}, "RecoveryWindowDays: must be between 7 and 30 days, got -1 (RemovalPolicy removal.Destroy deletes without recovery)"},
		{jwtsecret.Props{RecoveryWindowDays: 7, RemovalPolicy: removal.Destroy},
			"RecoveryWindowDays: is 7 but RemovalPolicy is removal.Destroy (deletion without recovery); set one or the other"},
		{jwtsecret.Props{RemovalPolicy: 2}, "RemovalPolicy: Policy(2) is not removal.Retain or removal.Destroy"},
		{jwtsecret.Props{ExpirationHours: -3}, "ExpirationHours: must be between 1 and 24, got -3"},
	} {
		stack := synthtest.NewStack(t)
		tc.props.EncryptionKey = encryptionkey.FromKeyArn(stack, "Key", sharedKeyArn)
		jwtsecret.New(stack, "Jwt", &tc.props)
		assert.Equal(t, []string{"[test/Jwt] " + tc.want}, synthtest.ValidationErrors(t, stack))
	}
}

func hasPrefix(lines []string, prefix string) bool {
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}
