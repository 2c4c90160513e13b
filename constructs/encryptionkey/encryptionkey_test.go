package encryptionkey_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/constructs/encryptionkey"
	"github.com/acme/module-registry/constructs/iampolicy"
	"github.com/acme/module-registry/constructs/internal/synthtest"
)

func TestDefaultsAreSecure(t *testing.T) {
	stack := synthtest.NewStack(t)
	encryptionkey.New(stack, "Key", nil)
	out := synthtest.Synth(t, stack)

	key := out.Resource(t, "aws_kms_key")
	assert.Equal(t, true, key["enable_key_rotation"], "rotation on by default")
	assert.EqualValues(t, 7, key["deletion_window_in_days"])
	assert.Equal(t, encryptionkey.DefaultDescription, key["description"])
	assert.NotContains(t, key, "rotation_period_in_days")

	alias := out.Resource(t, "aws_kms_alias")
	assert.Equal(t, "alias/acme-main-key", alias["name"])
	assert.Regexp(t, `^\$\{aws_kms_key\.[^.]+\.key_id\}$`, alias["target_key_id"])

	statements := out.PolicyStatements(t, key["policy"])
	require.Len(t, statements, 1, "only root administration until services are named")
	root := statements[0]
	assert.Equal(t, encryptionkey.RootAdministrationSid, root["sid"])
	assert.Equal(t, []string{"kms:*"}, synthtest.Strings(root["actions"]))
	assert.Equal(t, []string{"*"}, synthtest.Strings(root["resources"]))
	principals := root["principals"].([]any)[0].(map[string]any)
	assert.Equal(t, "AWS", principals["type"])
	assert.Regexp(t, `^arn:\$\{data\.aws_partition\.[^}]+\}:iam::\$\{data\.aws_caller_identity\.[^}]+\}:root$`,
		synthtest.Strings(principals["identifiers"])[0])
}

func TestPropsOverrideDefaults(t *testing.T) {
	stack := synthtest.NewStack(t)
	encryptionkey.New(stack, "Key", &encryptionkey.Props{
		Alias: "alias/team-b-key", Description: "team b", DeletionWindowDays: 30, RotationPeriodDays: 90,
	})
	out := synthtest.Synth(t, stack)
	key := out.Resource(t, "aws_kms_key")
	assert.EqualValues(t, 30, key["deletion_window_in_days"])
	assert.EqualValues(t, 90, key["rotation_period_in_days"])
	assert.Equal(t, "team b", key["description"])
	assert.Equal(t, "alias/team-b-key", out.Resource(t, "aws_kms_alias")["name"])
}

func TestRotationCanBeTurnedOff(t *testing.T) {
	stack := synthtest.NewStack(t)
	encryptionkey.New(stack, "Key", &encryptionkey.Props{DisableRotation: true})
	assert.Equal(t, false, synthtest.Synth(t, stack).Resource(t, "aws_kms_key")["enable_key_rotation"])
}

func TestAllowServiceUseAddsScopedStatement(t *testing.T) {
	stack := synthtest.NewStack(t)
	key := encryptionkey.New(stack, "Key", nil)
	key.AllowServiceUse(encryptionkey.ServiceUse{
		Sid:     "AllowCloudTrailEncrypt",
		Service: "cloudtrail.amazonaws.com",
		Actions: []string{"kms:GenerateDataKey"},
		Conditions: []iampolicy.Condition{
			iampolicy.StringEquals("aws:SourceArn", "arn:aws:cloudtrail:us-east-1:111122223333:trail/t"),
		},
	})
	out := synthtest.Synth(t, stack)
	statements := synthtest.BySid(out.PolicyStatements(t, out.Resource(t, "aws_kms_key")["policy"]))
	require.Contains(t, statements, "AllowCloudTrailEncrypt")
	s := statements["AllowCloudTrailEncrypt"]
	assert.Equal(t, []string{"kms:GenerateDataKey"}, synthtest.Strings(s["actions"]))
	assert.Equal(t, map[string][]string{"StringEquals aws:SourceArn": {"arn:aws:cloudtrail:us-east-1:111122223333:trail/t"}},
		synthtest.Conditions(s))
	principal := s["principals"].([]any)[0].(map[string]any)
	assert.Equal(t, "Service", principal["type"])
	assert.Equal(t, []string{"cloudtrail.amazonaws.com"}, synthtest.Strings(principal["identifiers"]))
}

func TestGrantsAreLeastPrivilege(t *testing.T) {
	stack := synthtest.NewStack(t)
	key := encryptionkey.New(stack, "Key", nil)
	role := synthtest.Role(stack, "Reader")
	key.GrantDecrypt(role, "s3")
	key.GrantEncrypt(role)
	out := synthtest.Synth(t, stack)

	policies := out.Resources("aws_iam_role_policy")
	require.Len(t, policies, 2)
	byKind := map[string]map[string]any{}
	for _, p := range policies {
		for _, s := range out.PolicyStatements(t, p["policy"]) {
			byKind[s["sid"].(string)] = s
		}
		assert.Regexp(t, `^\$\{aws_iam_role\.[^.]+\.name\}$`, p["role"])
	}
	decrypt := byKind["UseKeyDecrypt"]
	require.NotNil(t, decrypt)
	assert.Equal(t, []string{"kms:Decrypt"}, synthtest.Strings(decrypt["actions"]))
	assert.Regexp(t, `^\$\{aws_kms_key\.[^.]+\.arn\}$`, synthtest.Strings(decrypt["resources"])[0])
	via := synthtest.Conditions(decrypt)["StringEquals kms:ViaService"]
	require.Len(t, via, 1)
	assert.Regexp(t, `^s3\.\$\{data\.aws_region\.[^}]+\}\.\$\{data\.aws_partition\.[^}]+\.dns_suffix\}$`, via[0])

	encrypt := byKind["UseKeyEncrypt"]
	require.NotNil(t, encrypt)
	assert.Equal(t, []string{"kms:GenerateDataKey"}, synthtest.Strings(encrypt["actions"]), "envelope encryption, named exactly")
	assert.NotContains(t, encrypt, "condition", "no viaServices means no ViaService condition")
}

func TestInvalidPropsListEveryViolation(t *testing.T) {
	stack := synthtest.NewStack(t)
	key := encryptionkey.New(stack, "Key", &encryptionkey.Props{
		Alias: "acme-main-key", DeletionWindowDays: 3, RotationPeriodDays: 30,
	})
	key.AllowServiceUse(encryptionkey.ServiceUse{Sid: "Unscoped", Service: "logs.amazonaws.com", Actions: []string{"kms:*"}})
	key.AllowServiceUse(encryptionkey.ServiceUse{Sid: "Unscoped", Service: "sns", Actions: []string{"kms:Decrypt"},
		Conditions: []iampolicy.Condition{iampolicy.StringEquals("aws:SourceAccount", "111122223333")}})
	key.GrantDecrypt(nil)
	errs := synthtest.ValidationErrors(t, stack)
	for _, want := range []string{
		"Alias: \"acme-main-key\" must be alias/<name>",
		"DeletionWindowDays: must be between 7 and 30 days, got 3",
		"RotationPeriodDays: must be between 90 and 2560 days, got 30",
		"ServiceUses[Unscoped].Actions: \"kms:*\" must be one kms: action named exactly, without wildcards",
		"ServiceUses[Unscoped].Conditions: must constrain one of",
		"ServiceUses[Unscoped].Sid: \"Unscoped\" is used twice",
		"ServiceUses[Unscoped].Service: \"sns\" is not an AWS service principal",
		"GrantDecrypt: role is nil",
	} {
		assert.True(t, containsLine(errs, "[test/Key] "+want), "missing %q in:\n%s", want, strings.Join(errs, "\n"))
	}
	assert.Len(t, errs, 8, "one message per violation:\n%s", strings.Join(errs, "\n"))
}

func TestDeletionWindowUpperBound(t *testing.T) {
	stack := synthtest.NewStack(t)
	encryptionkey.New(stack, "Key", &encryptionkey.Props{DeletionWindowDays: 31})
	errs := synthtest.ValidationErrors(t, stack)
	assert.Equal(t, []string{"[test/Key] DeletionWindowDays: must be between 7 and 30 days, got 31"}, errs)
}

func TestImportedKeyGrantsAndValidates(t *testing.T) {
	stack := synthtest.NewStack(t)
	role := synthtest.Role(stack, "Role")
	good := encryptionkey.FromKeyArn(stack, "Shared", "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab")
	good.GrantDecrypt(role, "secretsmanager")
	out := synthtest.Synth(t, stack)
	policy := out.Resource(t, "aws_iam_role_policy")
	s := out.PolicyStatements(t, policy["policy"])[0]
	assert.Equal(t, []string{"arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"}, synthtest.Strings(s["resources"]))

	bad := synthtest.NewStack(t)
	encryptionkey.FromKeyArn(bad, "Shared", "alias/acme-main-key")
	assert.Equal(t, []string{`[test/Shared] keyArn: "alias/acme-main-key" is not a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)`},
		synthtest.ValidationErrors(t, bad))
}

func containsLine(lines []string, prefix string) bool {
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}
