package secretrotation_test

import (
	"crypto/sha256"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/constructs/encryptionkey"
	"github.com/acme/module-registry/constructs/internal/synthtest"
	"github.com/acme/module-registry/constructs/passwordsecret"
	"github.com/acme/module-registry/constructs/secretrotation"
)

// zip writes a stand-in deployment package (synth reads only its bytes).
func zip(t *testing.T) (string, string) {
	t.Helper()
	body := []byte("PK\x03\x04 stand-in bootstrap")
	path := filepath.Join(t.TempDir(), "rotate.zip")
	require.NoError(t, os.WriteFile(path, body, 0o644))
	sum := sha256.Sum256(body)
	return path, base64.StdEncoding.EncodeToString(sum[:])
}

func synth(t *testing.T, p secretrotation.Props) (*synthtest.Result, *secretrotation.Rotation) {
	t.Helper()
	stack := synthtest.NewStack(t)
	key := encryptionkey.New(stack, "Key", nil)
	p.EncryptionKey = key
	p.Secret = passwordsecret.New(stack, "Admin", &passwordsecret.Props{EncryptionKey: key})
	r := secretrotation.New(stack, "AdminRotation", &p)
	return synthtest.Synth(t, stack), r
}

func TestDefaultsAreSecure(t *testing.T) {
	path, hash := zip(t)
	out, r := synth(t, secretrotation.Props{FunctionZip: path, Environment: map[string]string{"ROTATION_STRATEGY": "admin-password"}})

	fn := out.Resource(t, "aws_lambda_function")
	assert.Equal(t, "acme-rotate-adminrotation", fn["function_name"])
	assert.Equal(t, "provided.al2023", fn["runtime"])
	assert.Equal(t, "bootstrap", fn["handler"])
	assert.Equal(t, []any{"arm64"}, fn["architectures"])
	assert.Equal(t, path, fn["filename"])
	assert.Equal(t, hash, fn["source_code_hash"], "a changed binary redeploys")
	assert.Equal(t, hash, r.CodeSha256())
	assert.Regexp(t, `^\$\{aws_kms_key\.[^.]+\.arn\}$`, fn["kms_key_arn"], "environment under the project key")
	assert.Equal(t, map[string]any{"ROTATION_STRATEGY": "admin-password"}, fn["environment"].(map[string]any)["variables"])
	assert.EqualValues(t, 30, fn["timeout"])

	rot := out.Resource(t, "aws_secretsmanager_secret_rotation")
	assert.Regexp(t, `^\$\{aws_secretsmanager_secret\.[^.]+\.arn\}$`, rot["secret_id"])
	assert.Regexp(t, `^\$\{aws_lambda_function\.[^.]+\.arn\}$`, rot["rotation_lambda_arn"])
	assert.EqualValues(t, 30, rot["rotation_rules"].(map[string]any)["automatically_after_days"])
	deps := strings.Join(synthtest.Strings(rot["depends_on"]), " ")
	assert.Contains(t, deps, "aws_secretsmanager_secret_version.", "the first rotation reads the deployed value")
	assert.Contains(t, deps, "aws_lambda_permission.")

	perm := out.Resource(t, "aws_lambda_permission")
	assert.Equal(t, "secretsmanager.amazonaws.com", perm["principal"])
	assert.Equal(t, "lambda:InvokeFunction", perm["action"])
	assert.Equal(t, rot["secret_id"], perm["source_arn"], "invoked for this secret only")
	assert.Regexp(t, `^\$\{data\.aws_caller_identity\.`, perm["source_account"])

	logs := out.Resource(t, "aws_cloudwatch_log_group")
	assert.Equal(t, "/aws/lambda/acme-rotate-adminrotation", logs["name"])
	assert.EqualValues(t, 90, logs["retention_in_days"])
	assert.Regexp(t, `^\$\{aws_kms_key\.`, logs["kms_key_id"])
}

// The role rotates this secret only, uses the key only through Secrets Manager and
// writes only its own log group; only Lambda may assume it.
func TestRoleIsLeastPrivilege(t *testing.T) {
	path, _ := zip(t)
	out, _ := synth(t, secretrotation.Props{FunctionZip: path})
	statements := map[string]map[string]any{}
	for _, p := range out.Resources("aws_iam_role_policy") {
		for sid, st := range synthtest.BySid(out.PolicyStatements(t, p["policy"])) {
			statements[sid] = st
		}
	}
	assert.Len(t, statements, 3)
	rotate := statements["RotateThisSecret"]
	assert.ElementsMatch(t, secretrotation.Actions, synthtest.Strings(rotate["actions"]))
	require.Len(t, synthtest.Strings(rotate["resources"]), 1, "this secret only")
	assert.Regexp(t, `^\$\{aws_secretsmanager_secret\.Admin_Secret_[^.]+\.arn\}$`, synthtest.Strings(rotate["resources"])[0])
	kms := statements["UseKeyEncryptDecrypt"]
	require.NotNil(t, kms)
	via := synthtest.Conditions(kms)["StringEquals kms:ViaService"]
	require.Len(t, via, 1)
	assert.True(t, strings.HasPrefix(via[0], "secretsmanager."), via[0])
	logs := statements["WriteOwnLogStreams"]
	assert.ElementsMatch(t, []string{"logs:CreateLogStream", "logs:PutLogEvents"}, synthtest.Strings(logs["actions"]))
	assert.Contains(t, synthtest.Strings(logs["resources"])[0], ":log-group:/aws/lambda/acme-rotate-adminrotation:log-stream:*")

	role := out.Resource(t, "aws_iam_role")
	trust := out.PolicyStatements(t, role["assume_role_policy"])
	require.Len(t, trust, 1)
	assert.Equal(t, []any{map[string]any{"identifiers": []any{"lambda.amazonaws.com"}, "type": "Service"}}, trust[0]["principals"])
}

func TestPropsOverrideDefaults(t *testing.T) {
	path, _ := zip(t)
	out, r := synth(t, secretrotation.Props{FunctionZip: path, FunctionName: "team-b-rotation", RotationDays: 7,
		Architecture: "x86_64", TimeoutSeconds: 60, MemoryMB: 512, LogRetentionDays: 365})
	fn := out.Resource(t, "aws_lambda_function")
	assert.Equal(t, "team-b-rotation", fn["function_name"])
	assert.Equal(t, []any{"x86_64"}, fn["architectures"])
	assert.EqualValues(t, 60, fn["timeout"])
	assert.EqualValues(t, 512, fn["memory_size"])
	assert.EqualValues(t, 7, out.Resource(t, "aws_secretsmanager_secret_rotation")["rotation_rules"].(map[string]any)["automatically_after_days"])
	assert.EqualValues(t, 365, out.Resource(t, "aws_cloudwatch_log_group")["retention_in_days"])
	assert.Equal(t, 7, r.RotationDays())
}

func TestGrantInvoke(t *testing.T) {
	path, _ := zip(t)
	stack := synthtest.NewStack(t)
	key := encryptionkey.New(stack, "Key", nil)
	r := secretrotation.New(stack, "Rotation", &secretrotation.Props{
		EncryptionKey: key, FunctionZip: path, Secret: passwordsecret.New(stack, "Admin", &passwordsecret.Props{EncryptionKey: key}),
	})
	r.GrantInvoke(synthtest.Role(stack, "Operator"))
	out := synthtest.Synth(t, stack)
	var invoke map[string]any
	for _, p := range out.Resources("aws_iam_role_policy") {
		if st, ok := synthtest.BySid(out.PolicyStatements(t, p["policy"]))["InvokeRotationFunction"]; ok {
			invoke = st
		}
	}
	require.NotNil(t, invoke)
	assert.Equal(t, []string{"lambda:InvokeFunction"}, synthtest.Strings(invoke["actions"]))
	assert.Regexp(t, `^\$\{aws_lambda_function\.`, synthtest.Strings(invoke["resources"])[0])
}

func TestInvalidPropsListEveryViolation(t *testing.T) {
	stack := synthtest.NewStack(t)
	r := secretrotation.New(stack, "Rotation", &secretrotation.Props{
		FunctionZip: filepath.Join(t.TempDir(), "missing.zip"), FunctionName: "bad name", RotationDays: 31,
		Architecture: "386", TimeoutSeconds: 901, MemoryMB: 64, LogRetentionDays: 2,
		Environment: map[string]string{"AWS_REGION": "x", "1X": "y"},
	})
	r.GrantInvoke(nil)
	errs := strings.Join(synthtest.ValidationErrors(t, stack), "\n")
	for _, want := range []string{
		"[test/Rotation] Secret: is required",
		"[test/Rotation] EncryptionKey: is required",
		`[test/Rotation] FunctionName: "bad name" must be 1-64 letters, digits, - or _`,
		"[test/Rotation] RotationDays: must be between 1 and 30 days, got 31",
		`[test/Rotation] Architecture: "386" is not one of arm64, x86_64`,
		"[test/Rotation] TimeoutSeconds: must be between 1 and 900, got 901",
		"[test/Rotation] MemoryMB: must be between 128 and 10240, got 64",
		"[test/Rotation] LogRetentionDays: 2 is not a retention CloudWatch Logs accepts",
		`[test/Rotation] Environment: "1X" is not a variable name`,
		`[test/Rotation] Environment: "AWS_REGION" is reserved by Lambda`,
		"[test/Rotation] FunctionZip: ",
		"[test/Rotation] GrantInvoke: role is nil",
	} {
		assert.Contains(t, errs, want)
	}
	assert.Len(t, strings.Split(errs, "\n"), 12, errs)

	stack = synthtest.NewStack(t)
	notZip := filepath.Join(t.TempDir(), "bootstrap")
	require.NoError(t, os.WriteFile(notZip, []byte("\x7fELF"), 0o755))
	key := encryptionkey.New(stack, "Key", nil)
	secretrotation.New(stack, "Rotation", &secretrotation.Props{EncryptionKey: key, FunctionZip: notZip,
		Secret: passwordsecret.New(stack, "Admin", &passwordsecret.Props{EncryptionKey: key})})
	assert.Equal(t, []string{`[test/Rotation] FunctionZip: "` + notZip + `" is not a zip file`}, synthtest.ValidationErrors(t, stack))
}
