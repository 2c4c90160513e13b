package configrecorder_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/constructs/compliance"
	"github.com/acme/module-registry/constructs/configrecorder"
	"github.com/acme/module-registry/constructs/encryptionkey"
	"github.com/acme/module-registry/constructs/internal/synthtest"
)

func synth(t *testing.T, p configrecorder.Props) *synthtest.Result {
	t.Helper()
	stack := synthtest.NewStack(t)
	p.EncryptionKey = encryptionkey.New(stack, "Key", nil)
	configrecorder.New(stack, "Config", &p)
	return synthtest.Synth(t, stack)
}

func TestDefaultsRecordEverythingAndDeliverEncrypted(t *testing.T) {
	out := synth(t, configrecorder.Props{})
	rec := out.Resource(t, "aws_config_configuration_recorder")
	assert.Equal(t, "acme-config-recorder", rec["name"])
	group := rec["recording_group"].(map[string]any)
	assert.Equal(t, true, group["all_supported"])
	assert.Equal(t, true, group["include_global_resource_types"], "global resources recorded in this region")
	assert.Regexp(t, `^\$\{aws_iam_role\.`, rec["role_arn"])

	ch := out.Resource(t, "aws_config_delivery_channel")
	assert.Regexp(t, `^\$\{aws_s3_bucket\.[^.]+\.bucket\}$`, ch["s3_bucket_name"])
	assert.Regexp(t, `^\$\{aws_kms_key\.[^.]+\.arn\}$`, ch["s3_kms_key_arn"])
	assert.Regexp(t, `^\$\{aws_sns_topic\.[^.]+\.arn\}$`, ch["sns_topic_arn"])
	assert.Equal(t, true, out.Resource(t, "aws_config_configuration_recorder_status")["is_enabled"])
	assert.Regexp(t, `^\$\{aws_kms_key\.[^.]+\.arn\}$`, out.Resource(t, "aws_sns_topic")["kms_master_key_id"])
	assert.Equal(t, "acme-config-changes", out.Resource(t, "aws_sns_topic")["name"])
	assert.Regexp(t, `^acme-config-\$\{data\.aws_caller_identity\.`, out.ResourceOf(t, "aws_s3_bucket", "Config")["bucket"])

	// The delivery bucket is a securebucket: the aspect finds nothing to object to.
	v, err := compliance.Check([]byte(out.Raw), compliance.Options{})
	require.NoError(t, err)
	assert.Empty(t, v)

	rules := map[string]map[string]any{}
	for _, r := range out.Resources("aws_config_config_rule") {
		rules[r["name"].(string)] = r
	}
	require.Len(t, rules, len(configrecorder.ManagedRules))
	for _, want := range configrecorder.ManagedRules {
		r := rules[want.Name]
		require.NotNil(t, r, want.Name)
		src := r["source"].(map[string]any)
		assert.Equal(t, "AWS", src["owner"])
		assert.Equal(t, want.Identifier, src["source_identifier"])
		assert.Contains(t, r["description"], want.Mirrors)
	}
	assert.JSONEq(t, `{"maximumAllowedRotationFrequency":"30"}`, rules["secretsmanager-rotation-enabled-check"]["input_parameters"].(string))
}

// Every invariant the list names is watched, each mapped to what enforces it at
// synth and to the drift it catches.
func TestEveryRuleIsMapped(t *testing.T) {
	names := map[string]bool{}
	for _, r := range configrecorder.ManagedRules {
		names[r.Name] = true
		assert.NotEmpty(t, r.Mirrors, r.Name)
		assert.NotEmpty(t, r.Drift, r.Name)
	}
	for _, n := range []string{
		"s3-bucket-server-side-encryption-enabled", "s3-bucket-ssl-requests-only", "s3-bucket-public-read-prohibited",
		"cloudtrail-enabled", "cloud-trail-log-file-validation-enabled", "cmk-backing-key-rotation-enabled",
		"dynamodb-pitr-enabled", "ecs-containers-readonly-access", "ecs-task-definition-nonroot-user",
		"alb-http-to-https-redirection-check", "secretsmanager-rotation-enabled-check", "iam-policy-no-statements-with-admin-access",
	} {
		assert.True(t, names[n], n)
	}
}

// Config records with a role only it may assume, for this account, that writes only
// Config's prefix, publishes only to the topic and uses the key only through S3 and SNS.
func TestRoleIsLeastPrivilege(t *testing.T) {
	out := synth(t, configrecorder.Props{})
	role := out.Resource(t, "aws_iam_role")
	trust := out.PolicyStatements(t, role["assume_role_policy"])
	require.Len(t, trust, 1)
	assert.Len(t, synthtest.Conditions(trust[0])["StringEquals aws:SourceAccount"], 1)
	assert.Equal(t, configrecorder.ConfigRolePolicyArn, out.Resource(t, "aws_iam_role_policy_attachment")["policy_arn"])
	sts := map[string]map[string]any{}
	for _, p := range out.Resources("aws_iam_role_policy") {
		for sid, st := range synthtest.BySid(out.PolicyStatements(t, p["policy"])) {
			sts[sid] = st
		}
	}
	assert.Equal(t, []string{"sns:Publish"}, synthtest.Strings(sts["PublishConfigChanges"]["actions"]))
	assert.Equal(t, []string{"s3:GetBucketAcl"}, synthtest.Strings(sts["CheckDeliveryBucketAcl"]["actions"]))
	write := synthtest.Strings(sts["ObjectsWrite"]["resources"])
	require.Len(t, write, 1)
	assert.Contains(t, write[0], "/AWSLogs/")
	assert.True(t, strings.HasSuffix(write[0], "/Config/*"), write[0])
	var via []string
	for _, p := range out.Resources("aws_iam_role_policy") {
		for _, st := range out.PolicyStatements(t, p["policy"]) {
			for _, v := range synthtest.Conditions(st)["StringEquals kms:ViaService"] {
				via = append(via, strings.SplitN(v, ".", 2)[0])
			}
		}
	}
	assert.ElementsMatch(t, []string{"s3", "sns"}, via, "the key only through S3 and SNS")
}

func TestPropsOverrideDefaults(t *testing.T) {
	out := synth(t, configrecorder.Props{RecorderName: "team-b", BucketName: "team-b-config", TopicName: "team-b-config",
		RoleName: "team-b-config", GlobalResourcesElsewhere: true, Rules: configrecorder.ManagedRules[:1]})
	rec := out.Resource(t, "aws_config_configuration_recorder")
	assert.Equal(t, "team-b", rec["name"])
	assert.Equal(t, false, rec["recording_group"].(map[string]any)["include_global_resource_types"])
	assert.Equal(t, "team-b-config", out.ResourceOf(t, "aws_s3_bucket", "Config")["bucket"])
	assert.Len(t, out.Resources("aws_config_config_rule"), 1)
}

func TestInvalidPropsListEveryViolation(t *testing.T) {
	stack := synthtest.NewStack(t)
	configrecorder.New(stack, "Config", &configrecorder.Props{
		RecorderName: "bad name", TopicName: "bad topic!", RoleName: "bad role!", RemovalPolicy: 5,
		Rules: []configrecorder.ManagedRule{{Name: "x", Identifier: "lower"}, {Name: "x", Identifier: "X", Mirrors: "m", Drift: "d"}},
	})
	errs := synthtest.ValidationErrors(t, stack)
	for _, want := range []string{
		"[test/Config] EncryptionKey: is required",
		`[test/Config] RecorderName: "bad name" must be 1-256 letters`,
		`[test/Config] TopicName: "bad topic!" must be 1-256 letters`,
		`[test/Config] RoleName: "bad role!" is not an IAM role name`,
		"[test/Config] RemovalPolicy: Policy(5) is not removal.Retain or removal.Destroy",
		`[test/Config] Rules[0].Identifier: "lower" is not a managed rule identifier`,
		"[test/Config] Rules[0]: needs Mirrors and Drift",
		`[test/Config] Rules[1].Name: "x" is used twice`,
	} {
		assert.True(t, hasPrefix(errs, want), "missing %q in\n%s", want, strings.Join(errs, "\n"))
	}
	stack = synthtest.NewStack(t)
	configrecorder.New(stack, "Config", &configrecorder.Props{EncryptionKey: encryptionkey.New(stack, "Key", nil), Rules: []configrecorder.ManagedRule{}})
	assert.Equal(t, []string{"[test/Config] Rules: is empty: a recorder without rules records drift nobody is told about"}, synthtest.ValidationErrors(t, stack))
}

func hasPrefix(lines []string, prefix string) bool {
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}
