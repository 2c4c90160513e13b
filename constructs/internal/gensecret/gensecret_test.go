package gensecret_test

import (
	"strings"
	"testing"

	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/constructs/encryptionkey"
	"github.com/acme/module-registry/constructs/internal/gensecret"
	"github.com/acme/module-registry/constructs/internal/synthtest"
	"github.com/acme/module-registry/constructs/removal"
)

var spec = gensecret.Spec{
	DefaultSecretName: "core-secret", DefaultDescription: "a generated secret",
	Field: "value", Length: 24, LengthProp: "Length", MinLength: 20,
	Value:   func(generated string) string { return "${jsonencode({value = " + generated + "})}" },
	Subject: "CoreSecret",
}

func newCore(t *testing.T, p gensecret.Props, s gensecret.Spec) (*synthtest.Result, *gensecret.Core, func(string) map[string]any) {
	stack := synthtest.NewStack(t)
	if p.EncryptionKey == nil {
		p.EncryptionKey = encryptionkey.New(stack, "Key", nil)
	}
	core := gensecret.New(constructs.NewConstruct(stack, jsii.String("Secret")), p, s, nil)
	core.GrantRead(synthtest.Role(stack, "Reader"))
	core.GrantRotate(synthtest.Role(stack, "Rotator"))
	out := synthtest.Synth(t, stack)
	statements := map[string]map[string]any{}
	for _, pol := range out.Resources("aws_iam_role_policy") {
		for sid, st := range synthtest.BySid(out.PolicyStatements(t, pol["policy"])) {
			statements[sid] = st
		}
	}
	return out, core, func(sid string) map[string]any {
		require.Contains(t, statements, sid)
		return statements[sid]
	}
}

// Reading and rotating touch this secret only, and the key only through Secrets Manager.
func TestGrantsAreThisSecretOnly(t *testing.T) {
	_, _, statement := newCore(t, gensecret.Props{}, spec)
	read, rotate := statement("ReadCoreSecret"), statement("RotateCoreSecret")
	assert.ElementsMatch(t, []string{"secretsmanager:GetSecretValue"}, synthtest.Strings(read["actions"]))
	assert.ElementsMatch(t, []string{"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret", "secretsmanager:PutSecretValue"},
		synthtest.Strings(rotate["actions"]))
	for _, st := range []map[string]any{read, rotate} {
		assert.Regexp(t, `^\$\{aws_secretsmanager_secret\.[^.]+\.arn\}$`, synthtest.Strings(st["resources"])[0])
	}
	for sid, actions := range map[string][]string{
		"UseKeyDecrypt":        {"kms:Decrypt"},
		"UseKeyEncryptDecrypt": {"kms:GenerateDataKey", "kms:Decrypt"},
	} {
		st := statement(sid)
		assert.ElementsMatch(t, actions, synthtest.Strings(st["actions"]), sid)
		via := synthtest.Conditions(st)["StringEquals kms:ViaService"]
		require.Len(t, via, 1, sid)
		assert.True(t, strings.HasPrefix(via[0], "secretsmanager."), via[0])
	}
}

func TestDefaultsAndRemovalPolicy(t *testing.T) {
	out, core, _ := newCore(t, gensecret.Props{}, spec)
	secret := out.Resource(t, "aws_secretsmanager_secret")
	assert.Equal(t, "core-secret", secret["name"])
	assert.Equal(t, "a generated secret", secret["description"])
	assert.EqualValues(t, gensecret.DefaultRecoveryWindowDays, secret["recovery_window_in_days"])
	assert.Equal(t, "value", core.Field())

	out, _, _ = newCore(t, gensecret.Props{RemovalPolicy: removal.Destroy}, spec)
	assert.EqualValues(t, 0, out.Resource(t, "aws_secretsmanager_secret")["recovery_window_in_days"], "deleted at once")
}

func TestEveryViolationIsListed(t *testing.T) {
	stack := synthtest.NewStack(t)
	bad := spec
	bad.Field, bad.FieldProp, bad.Length = "1x", "Field", 8
	gensecret.New(constructs.NewConstruct(stack, jsii.String("Secret")), gensecret.Props{
		SecretName: "bad name", Description: strings.Repeat("d", 2049), RecoveryWindowDays: 5,
		RemovalPolicy: removal.Destroy, Generation: -1,
	}, bad, nil).GrantRead(nil)
	assert.ElementsMatch(t, []string{
		"[test/Secret] EncryptionKey: is required: the secret is encrypted with the project's customer-managed key",
		`[test/Secret] SecretName: "bad name" must be 1-512 letters, digits or /_+=.@- characters`,
		"[test/Secret] Description: must be at most 2048 characters, got 2049",
		`[test/Secret] Field: "1x" must be a letter or underscore followed by up to 63 letters, digits or underscores`,
		"[test/Secret] Length: must be between 20 and 4096 characters, got 8",
		"[test/Secret] RecoveryWindowDays: is 5 but RemovalPolicy is removal.Destroy (deletion without recovery); set one or the other",
		"[test/Secret] Generation: must be at least 1, got -1",
		"[test/Secret] GrantRead: role is nil",
	}, synthtest.ValidationErrors(t, stack))
}
