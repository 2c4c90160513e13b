package accesslogs_test

import (
	"strings"
	"testing"

	"github.com/aws/jsii-runtime-go"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/provider"
	"github.com/hashicorp/terraform-cdk-go/cdktf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/constructs/accesslogs"
	"github.com/acme/module-registry/constructs/internal/synthtest"
	"github.com/acme/module-registry/constructs/removal"
)

func TestDefaultsAreSecureWithSSES3(t *testing.T) {
	stack := synthtest.NewStack(t)
	accesslogs.Of(stack)
	out := synthtest.Synth(t, stack)

	b := out.Resource(t, "aws_s3_bucket")
	assert.Regexp(t, `^test-access-logs-\$\{data\.aws_caller_identity\.[^.]+\.account_id\}-\$\{data\.aws_region\.[^.]+\.name\}$`, b["bucket"])
	assert.Equal(t, false, b["force_destroy"])
	rule := out.Resource(t, "aws_s3_bucket_server_side_encryption_configuration")["rule"].([]any)[0].(map[string]any)
	assert.Equal(t, map[string]any{"sse_algorithm": "AES256"}, rule["apply_server_side_encryption_by_default"], "SSE-S3: what log delivery accepts")
	assert.Nil(t, rule["bucket_key_enabled"])
	assert.Equal(t, "Enabled", out.Resource(t, "aws_s3_bucket_versioning")["versioning_configuration"].(map[string]any)["status"])
	pab := out.Resource(t, "aws_s3_bucket_public_access_block")
	for _, k := range []string{"block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"} {
		assert.Equal(t, true, pab[k], k)
	}
	assert.Equal(t, "BucketOwnerEnforced", out.Resource(t, "aws_s3_bucket_ownership_controls")["rule"].(map[string]any)["object_ownership"])
	assert.Equal(t, true, out.Resource(t, "aws_s3_bucket_notification")["eventbridge"])
	assert.Empty(t, out.Resources("aws_s3_bucket_logging"), "it does not log into itself")

	rules := map[string]map[string]any{}
	for _, r := range out.Resource(t, "aws_s3_bucket_lifecycle_configuration")["rule"].([]any) {
		rules[r.(map[string]any)["id"].(string)] = r.(map[string]any)
	}
	first := func(id, block, field string) any {
		return rules[id][block].([]any)[0].(map[string]any)[field]
	}
	assert.EqualValues(t, 365, first("expire-current-objects", "expiration", "days"))
	assert.EqualValues(t, 30, first("expire-noncurrent-versions", "noncurrent_version_expiration", "noncurrent_days"))
	assert.EqualValues(t, 7, first("abort-incomplete-multipart-uploads", "abort_incomplete_multipart_upload", "days_after_initiation"))

	st := synthtest.BySid(out.PolicyStatements(t, out.Resource(t, "aws_s3_bucket_policy")["policy"]))
	require.Len(t, st, 2, "its own protections only, until a source is allowed")
	assert.Equal(t, map[string][]string{"Bool aws:SecureTransport": {"false"}}, synthtest.Conditions(st[accesslogs.DenyInsecureTransportSid]))
	assert.Equal(t, map[string][]string{
		"StringNotEquals s3:x-amz-server-side-encryption": {"AES256"},
		"Null s3:x-amz-server-side-encryption":            {"false"},
	}, synthtest.Conditions(st[accesslogs.DenyOtherEncryptionSid]))
}

// Of creates the stack's bucket once and returns it ever after; one created first with
// DefaultID is the stack's.
func TestOfIsOnePerStack(t *testing.T) {
	stack := synthtest.NewStack(t)
	explicit := accesslogs.New(stack, accesslogs.DefaultID, &accesslogs.Props{NamePrefix: "team-b"})
	assert.Same(t, explicit, accesslogs.Of(stack))
	nested := cdktf.NewTerraformStack(cdktf.Testing_App(nil), jsii.String("other"))
	assert.Same(t, accesslogs.Of(nested), accesslogs.Of(nested), "created once")
	out := synthtest.Synth(t, stack)
	assert.Regexp(t, `^team-b-access-logs-`, out.Resource(t, "aws_s3_bucket")["bucket"])
}

func TestSourcesWriteOnlyTheirOwnPrefix(t *testing.T) {
	stack := synthtest.NewStack(t)
	logs := accesslogs.New(stack, "Logs", &accesslogs.Props{BucketName: "team-b-access-logs"})
	source := synthtest.Role(stack, "Source") // any construct names its statement
	assert.Equal(t, "s3/artifacts/", logs.AllowServerAccessLogs(source, "artifacts", "arn:aws:s3:::artifacts"))
	assert.Equal(t, "alb/registry", logs.AllowLoadBalancerLogs(source, "registry"))
	out := synthtest.Synth(t, stack)
	st := synthtest.BySid(out.PolicyStatements(t, out.Resource(t, "aws_s3_bucket_policy")["policy"]))

	s3 := st[accesslogs.ServerAccessLogsSidPrefix+"TestSource"]
	require.NotNil(t, s3, "%v", st)
	assert.Equal(t, []any{map[string]any{"type": "Service", "identifiers": []any{"logging.s3.amazonaws.com"}}}, s3["principals"])
	assert.Equal(t, []string{"s3:PutObject"}, synthtest.Strings(s3["actions"]))
	assert.Regexp(t, `^\$\{aws_s3_bucket\.[^.]+\.arn\}/s3/artifacts/\*$`, synthtest.Strings(s3["resources"])[0])
	c := synthtest.Conditions(s3)
	assert.Equal(t, []string{"arn:aws:s3:::artifacts"}, c["ArnEquals aws:SourceArn"])
	assert.Regexp(t, `^\$\{data\.aws_caller_identity\.`, c["StringEquals aws:SourceAccount"][0])

	alb := st[accesslogs.LoadBalancerLogsSidPrefix+"TestSource"]
	require.NotNil(t, alb)
	principals := alb["principals"].([]any)[0].(map[string]any)
	assert.Equal(t, "AWS", principals["type"])
	assert.Regexp(t, `^\$\{data\.aws_elb_service_account\.[^.]+\.arn\}$`, synthtest.Strings(principals["identifiers"])[0], "the region's Elastic Load Balancing account")
	assert.Regexp(t, `^\$\{aws_s3_bucket\.[^.]+\.arn\}/alb/registry/AWSLogs/\$\{data\.aws_caller_identity\.[^.]+\.account_id\}/\*$`, synthtest.Strings(alb["resources"])[0])
	assert.Len(t, out.DataSources("aws_elb_service_account"), 1)
}

func TestRemovalPolicyDestroyEmptiesTheBucket(t *testing.T) {
	stack := synthtest.NewStack(t)
	accesslogs.New(stack, "Logs", &accesslogs.Props{RemovalPolicy: removal.Destroy})
	assert.Equal(t, true, synthtest.Synth(t, stack).Resource(t, "aws_s3_bucket")["force_destroy"])
}

// A long or odd stack id still gives a valid name prefix.
func TestNamePrefixFromTheStackID(t *testing.T) {
	app := cdktf.Testing_App(&cdktf.TestingAppConfig{Outdir: jsii.String(t.TempDir()), StackTraces: jsii.Bool(false)})
	stack := cdktf.NewTerraformStack(app, jsii.String("Team_B.Registry-Stack-With-A-Very-Long-Name"))
	provider.NewAwsProvider(stack, jsii.String("aws"), &provider.AwsProviderConfig{Region: jsii.String("us-east-1")})
	accesslogs.Of(stack)
	raw := *cdktf.Testing_Synth(stack, jsii.Bool(true))
	assert.Contains(t, raw, `"bucket": "team-b-registry-stack-w-access-logs-`)
}

func TestInvalidPropsListEveryViolation(t *testing.T) {
	stack := synthtest.NewStack(t)
	accesslogs.New(stack, "Named", &accesslogs.Props{BucketName: "Bad_Name", RetentionDays: -1, RemovalPolicy: 7})
	accesslogs.New(stack, "Prefixed", &accesslogs.Props{NamePrefix: strings.Repeat("a", 30), NoncurrentVersionExpirationDays: -2, AbortIncompleteUploadDays: -3})
	errs := synthtest.ValidationErrors(t, stack)
	want := []string{
		`[test/Named] BucketName: bucket name "Bad_Name" may hold only lowercase letters`,
		"[test/Named] RetentionDays: must be at least 1, got -1",
		"[test/Named] RemovalPolicy: Policy(7) is not removal.Retain or removal.Destroy",
		`[test/Prefixed] NamePrefix: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" cannot start the bucket name`,
		"[test/Prefixed] NoncurrentVersionExpirationDays: must be at least 1, got -2",
		"[test/Prefixed] AbortIncompleteUploadDays: must be at least 1, got -3",
	}
	for _, w := range want {
		assert.True(t, strings.Contains(strings.Join(errs, "\n"), w), "missing %q in:\n%s", w, strings.Join(errs, "\n"))
	}
	assert.Len(t, errs, len(want), strings.Join(errs, "\n"))
}
