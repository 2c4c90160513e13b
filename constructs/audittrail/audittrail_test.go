package audittrail_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-cdk-go/cdktf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/constructs/accesslogs"
	"github.com/acme/module-registry/constructs/audittrail"
	"github.com/acme/module-registry/constructs/encryptionkey"
	"github.com/acme/module-registry/constructs/internal/synthtest"
	"github.com/acme/module-registry/constructs/removal"
	"github.com/acme/module-registry/constructs/securebucket"
)

// The ARN every policy names for the trail, built from the stack's environment.
const (
	trailArnPattern    = `arn:${data.aws_partition.*.partition}:cloudtrail:${data.aws_region.*.name}:${data.aws_caller_identity.*.account_id}:trail/`
	logGroupArnPattern = `arn:${data.aws_partition.*.partition}:logs:${data.aws_region.*.name}:${data.aws_caller_identity.*.account_id}:log-group:`
	tableArn           = "arn:aws:dynamodb:us-east-1:838693051036:table/packages"
)

type fixture struct {
	out   *synthtest.Result
	trail map[string]any
}

func newTrail(t *testing.T, props audittrail.Props) (cdktf.TerraformStack, *audittrail.Trail) {
	t.Helper()
	stack := synthtest.NewStack(t)
	if props.EncryptionKey == nil {
		props.EncryptionKey = encryptionkey.New(stack, "Key", nil)
	}
	return stack, audittrail.New(stack, "AuditTrail", &props)
}

func synthDefault(t *testing.T) fixture {
	t.Helper()
	stack := synthtest.NewStack(t)
	key := encryptionkey.New(stack, "Key", nil)
	artifacts := securebucket.New(stack, "Artifacts", &securebucket.Props{EncryptionKey: key})
	audittrail.New(stack, "AuditTrail", &audittrail.Props{
		EncryptionKey:      key,
		DataEventBuckets:   []*securebucket.Bucket{artifacts},
		DataEventTableArns: []string{tableArn},
	})
	out := synthtest.Synth(t, stack)
	return fixture{out: out, trail: out.Resource(t, "aws_cloudtrail")}
}

// matchRef turns a pattern into a regexp matching it exactly, except that ".*." stands
// for a logical name (as in "${data.aws_region.*.name}"); every other "*" is literal.
func matchRef(pattern string) *regexp.Regexp {
	return regexp.MustCompile("^" + strings.ReplaceAll(regexp.QuoteMeta(pattern), `\.\*\.`, `\.[^.}]+\.`) + "$")
}

func resourceNamed(t *testing.T, out *synthtest.Result, typ, nameSub string) (string, map[string]any) {
	t.Helper()
	for name, r := range out.Resources(typ) {
		if strings.Contains(name, nameSub) {
			return name, r
		}
	}
	t.Fatalf("no %s whose logical name contains %q", typ, nameSub)
	return "", nil
}

func TestTrailSettings(t *testing.T) {
	f := synthDefault(t)
	tr := f.trail
	assert.Equal(t, "acme-audit-trail", tr["name"])
	assert.Equal(t, true, tr["is_multi_region_trail"], "multi-region")
	assert.Equal(t, true, tr["include_global_service_events"], "global service events")
	assert.Equal(t, true, tr["enable_log_file_validation"], "log file validation")
	assert.Equal(t, true, tr["enable_logging"], "logging on")
	assert.Regexp(t, `^\$\{aws_kms_key\.[^.]+\.arn\}$`, tr["kms_key_id"], "encrypted with the key, by ARN")
	assert.Regexp(t, `^\$\{aws_s3_bucket\.[^.]*LogBucket[^.]*\.bucket\}$`, tr["s3_bucket_name"], "delivers to the log bucket")
	assert.Regexp(t, `^\$\{aws_cloudwatch_log_group\.[^.]+\.arn\}:\*$`, tr["cloud_watch_logs_group_arn"], "log group ARN with the stream wildcard")
	assert.Regexp(t, `^\$\{aws_iam_role\.[^.]+\.arn\}$`, tr["cloud_watch_logs_role_arn"])
	assert.Nil(t, tr["event_selector"], "advanced selectors only")
	assert.Nil(t, tr["s3_key_prefix"], "logs under AWSLogs/{account}/, where the bucket policy allows them")
}

func TestTrailWaitsForPolicies(t *testing.T) {
	f := synthDefault(t)
	deps := synthtest.Strings(f.trail["depends_on"])
	policy, _ := resourceNamed(t, f.out, "aws_s3_bucket_policy", "LogBucket")
	key, _ := resourceNamed(t, f.out, "aws_kms_key", "Key")
	rolePolicy, _ := resourceNamed(t, f.out, "aws_iam_role_policy", "LogDelivery")
	assert.Contains(t, deps, "aws_s3_bucket_policy."+policy, "bucket policy in place first")
	assert.Contains(t, deps, "aws_kms_key."+key, "key policy in place first")
	assert.Contains(t, deps, "aws_iam_role_policy."+rolePolicy, "role may write logs first")
}

func selectorsByName(t *testing.T, trail map[string]any) map[string]map[string]map[string][]string {
	t.Helper()
	out := map[string]map[string]map[string][]string{}
	list, _ := trail["advanced_event_selector"].([]any)
	for _, s := range list {
		m := s.(map[string]any)
		fields := map[string]map[string][]string{}
		fs, _ := m["field_selector"].([]any)
		for _, f := range fs {
			fm := f.(map[string]any)
			ops := map[string][]string{}
			for k, v := range fm {
				if k != "field" {
					ops[k] = synthtest.Strings(v)
				}
			}
			fields[fm["field"].(string)] = ops
		}
		out[m["name"].(string)] = fields
	}
	return out
}

func TestEventSelectors(t *testing.T) {
	f := synthDefault(t)
	sel := selectorsByName(t, f.trail)
	require.Len(t, sel, 3)

	mgmt := sel[audittrail.ManagementSelectorName]
	assert.Equal(t, map[string]map[string][]string{"eventCategory": {"equals": {"Management"}}}, mgmt,
		"all management events; no readOnly field means read and write")

	s3 := sel[audittrail.S3SelectorName]
	assert.Equal(t, []string{"Data"}, s3["eventCategory"]["equals"])
	assert.Equal(t, []string{"AWS::S3::Object"}, s3["resources.type"]["equals"])
	require.Len(t, s3["resources.ARN"]["starts_with"], 1)
	assert.Regexp(t, `^\$\{aws_s3_bucket\.[^.]*Artifacts[^.]*\.arn\}/$`, s3["resources.ARN"]["starts_with"][0], "objects of the artifacts bucket")

	ddb := sel[audittrail.DynamoDBSelectorName]
	assert.Equal(t, []string{"Data"}, ddb["eventCategory"]["equals"])
	assert.Equal(t, []string{"AWS::DynamoDB::Table"}, ddb["resources.type"]["equals"])
	assert.Equal(t, []string{tableArn}, ddb["resources.ARN"]["equals"])
}

func TestDataEventSelectorsOnlyForWhatIsPassed(t *testing.T) {
	stack, _ := newTrail(t, audittrail.Props{DataEventBucketArns: []string{"arn:aws:s3:::other-bucket"}})
	out := synthtest.Synth(t, stack)
	sel := selectorsByName(t, out.Resource(t, "aws_cloudtrail"))
	assert.Len(t, sel, 2)
	assert.Equal(t, []string{"arn:aws:s3:::other-bucket/"}, sel[audittrail.S3SelectorName]["resources.ARN"]["starts_with"])
	assert.NotContains(t, sel, audittrail.DynamoDBSelectorName)

	stack, _ = newTrail(t, audittrail.Props{})
	out = synthtest.Synth(t, stack)
	sel = selectorsByName(t, out.Resource(t, "aws_cloudtrail"))
	assert.Equal(t, []string{audittrail.ManagementSelectorName}, keysOf(sel))
}

func keysOf[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestLogGroup(t *testing.T) {
	f := synthDefault(t)
	lg := f.out.Resource(t, "aws_cloudwatch_log_group")
	assert.Equal(t, "/aws/cloudtrail/acme-audit-trail", lg["name"])
	assert.EqualValues(t, 90, lg["retention_in_days"])
	assert.Regexp(t, `^\$\{aws_kms_key\.[^.]+\.arn\}$`, lg["kms_key_id"])
}

func TestLogRoleTrustAndPermissions(t *testing.T) {
	f := synthDefault(t)
	role := f.out.Resource(t, "aws_iam_role")
	assert.Equal(t, "acme-audit-trail-cloudwatch-logs", role["name"])
	trust := f.out.PolicyStatements(t, role["assume_role_policy"])
	require.Len(t, trust, 1)
	assert.Equal(t, []string{"sts:AssumeRole"}, synthtest.Strings(trust[0]["actions"]))
	assert.Equal(t, []any{map[string]any{"type": "Service", "identifiers": []any{"cloudtrail.amazonaws.com"}}}, trust[0]["principals"])
	c := synthtest.Conditions(trust[0])
	require.Len(t, c, 1)
	require.Len(t, c["StringEquals aws:SourceArn"], 1)
	assert.Regexp(t, matchRef(trailArnPattern+"acme-audit-trail"), c["StringEquals aws:SourceArn"][0], "only for this trail")

	_, rp := resourceNamed(t, f.out, "aws_iam_role_policy", "LogDelivery")
	assert.Regexp(t, `^\$\{aws_iam_role\.[^.]+\.name\}$`, rp["role"])
	st := f.out.PolicyStatements(t, rp["policy"])
	require.Len(t, st, 1)
	assert.ElementsMatch(t, []string{"logs:CreateLogStream", "logs:PutLogEvents"}, synthtest.Strings(st[0]["actions"]))
	res := synthtest.Strings(st[0]["resources"])
	require.Len(t, res, 1)
	assert.Regexp(t, matchRef(logGroupArnPattern+"/aws/cloudtrail/acme-audit-trail:log-stream:${data.aws_caller_identity.*.account_id}_CloudTrail_*"), res[0],
		"only this group's CloudTrail streams")
	assert.Nil(t, st[0]["condition"])
}

func TestLogBucket(t *testing.T) {
	f := synthDefault(t)
	_, b := resourceNamed(t, f.out, "aws_s3_bucket", "LogBucket")
	assert.Regexp(t, matchRef("pkg-artifacts-cloudtrail-logs-${data.aws_caller_identity.*.account_id}"), b["bucket"])
	assert.Equal(t, false, b["force_destroy"])

	// securebucket's protections, on this bucket.
	_, sse := resourceNamed(t, f.out, "aws_s3_bucket_server_side_encryption_configuration", "LogBucket")
	rule := sse["rule"].([]any)[0].(map[string]any)["apply_server_side_encryption_by_default"].(map[string]any)
	assert.Equal(t, "aws:kms", rule["sse_algorithm"])
	assert.Regexp(t, `^\$\{aws_kms_key\.[^.]+\.arn\}$`, rule["kms_master_key_id"])
	_, ver := resourceNamed(t, f.out, "aws_s3_bucket_versioning", "LogBucket")
	assert.Equal(t, "Enabled", ver["versioning_configuration"].(map[string]any)["status"])
	_, pab := resourceNamed(t, f.out, "aws_s3_bucket_public_access_block", "LogBucket")
	for _, k := range []string{"block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"} {
		assert.Equal(t, true, pab[k], k)
	}

	_, lc := resourceNamed(t, f.out, "aws_s3_bucket_lifecycle_configuration", "LogBucket")
	var transitions []any
	for _, r := range lc["rule"].([]any) {
		if rm := r.(map[string]any); rm["id"] == "transition-storage-class" {
			transitions = rm["transition"].([]any)
		}
	}
	require.Len(t, transitions, 1)
	assert.Equal(t, map[string]any{"days": float64(90), "storage_class": "GLACIER"}, transitions[0])
}

func TestLogBucketPolicy(t *testing.T) {
	f := synthDefault(t)
	_, pol := resourceNamed(t, f.out, "aws_s3_bucket_policy", "LogBucket")
	st := synthtest.BySid(f.out.PolicyStatements(t, pol["policy"]))
	cloudtrail := []any{map[string]any{"type": "Service", "identifiers": []any{"cloudtrail.amazonaws.com"}}}
	thisTrail := matchRef(trailArnPattern + "acme-audit-trail")

	acl := st[audittrail.BucketACLCheckSid]
	require.NotNil(t, acl)
	assert.Equal(t, "Allow", acl["effect"])
	assert.Equal(t, cloudtrail, acl["principals"])
	assert.Equal(t, []string{"s3:GetBucketAcl"}, synthtest.Strings(acl["actions"]))
	assert.Len(t, synthtest.Strings(acl["resources"]), 1)
	assert.Regexp(t, `^\$\{aws_s3_bucket\.[^.]*LogBucket[^.]*\.arn\}$`, synthtest.Strings(acl["resources"])[0], "the bucket itself")
	c := synthtest.Conditions(acl)
	require.Len(t, c["StringEquals aws:SourceArn"], 1)
	assert.Regexp(t, thisTrail, c["StringEquals aws:SourceArn"][0])

	w := st[audittrail.BucketWriteSid]
	require.NotNil(t, w)
	assert.Equal(t, "Allow", w["effect"])
	assert.Equal(t, cloudtrail, w["principals"])
	assert.Equal(t, []string{"s3:PutObject"}, synthtest.Strings(w["actions"]))
	res := synthtest.Strings(w["resources"])
	require.Len(t, res, 1)
	assert.Regexp(t, matchRef("${aws_s3_bucket.*.arn}/AWSLogs/${data.aws_caller_identity.*.account_id}/*"), res[0], "only under AWSLogs/{account}/")
	c = synthtest.Conditions(w)
	require.Len(t, c["StringEquals aws:SourceArn"], 1)
	assert.Regexp(t, thisTrail, c["StringEquals aws:SourceArn"][0])
	assert.Equal(t, []string{"bucket-owner-full-control"}, c["StringEquals s3:x-amz-acl"])

	// securebucket's own deny statements stay in place.
	for _, sid := range []string{securebucket.DenyInsecureTransportSid, securebucket.DenyOtherEncryptionSid, securebucket.DenyOtherKeysSid} {
		assert.Contains(t, st, sid)
	}
}

// The log bucket denies uploads naming any key but the project key's ARN; CloudTrail names
// the key the trail was configured with, so that must be the same ARN reference.
func TestTrailKeyPassesBucketKeyDeny(t *testing.T) {
	f := synthDefault(t)
	_, pol := resourceNamed(t, f.out, "aws_s3_bucket_policy", "LogBucket")
	deny := synthtest.BySid(f.out.PolicyStatements(t, pol["policy"]))[securebucket.DenyOtherKeysSid]
	require.NotNil(t, deny)
	allowed := synthtest.Conditions(deny)["StringNotEquals s3:x-amz-server-side-encryption-aws-kms-key-id"]
	assert.Equal(t, []string{f.trail["kms_key_id"].(string)}, allowed)
}

func TestKeyPolicyStatements(t *testing.T) {
	f := synthDefault(t)
	key := f.out.Resource(t, "aws_kms_key")
	st := synthtest.BySid(f.out.PolicyStatements(t, key["policy"]))
	thisTrail := matchRef(trailArnPattern + "acme-audit-trail")

	enc := st["CloudTrailEncryptLogsAcmeAuditTrail"]
	require.NotNil(t, enc, "sids: %v", keysOf(st))
	assert.Equal(t, []any{map[string]any{"type": "Service", "identifiers": []any{"cloudtrail.amazonaws.com"}}}, enc["principals"])
	assert.Equal(t, []string{"kms:GenerateDataKey"}, synthtest.Strings(enc["actions"]))
	c := synthtest.Conditions(enc)
	require.Len(t, c["StringLike kms:EncryptionContext:aws:cloudtrail:arn"], 1)
	assert.Regexp(t, matchRef("arn:${data.aws_partition.*.partition}:cloudtrail:*:${data.aws_caller_identity.*.account_id}:trail/*"),
		c["StringLike kms:EncryptionContext:aws:cloudtrail:arn"][0])
	require.Len(t, c["StringEquals aws:SourceArn"], 1)
	assert.Regexp(t, thisTrail, c["StringEquals aws:SourceArn"][0])

	desc := st["CloudTrailDescribeKeyAcmeAuditTrail"]
	require.NotNil(t, desc)
	assert.Equal(t, []string{"kms:DescribeKey"}, synthtest.Strings(desc["actions"]))
	c = synthtest.Conditions(desc)
	require.Len(t, c["StringEquals aws:SourceArn"], 1)
	assert.Regexp(t, thisTrail, c["StringEquals aws:SourceArn"][0])

	logs := st["CloudWatchLogsUseAcmeAuditTrail"]
	require.NotNil(t, logs)
	assert.Regexp(t, matchRef("logs.${data.aws_region.*.name}.amazonaws.com"),
		logs["principals"].([]any)[0].(map[string]any)["identifiers"].([]any)[0])
	assert.ElementsMatch(t, encryptionkey.CloudWatchLogsActions, synthtest.Strings(logs["actions"]))
	c = synthtest.Conditions(logs)
	require.Len(t, c["ArnEquals kms:EncryptionContext:aws:logs:arn"], 1)
	assert.Regexp(t, matchRef(logGroupArnPattern+"/aws/cloudtrail/acme-audit-trail"), c["ArnEquals kms:EncryptionContext:aws:logs:arn"][0])
}

// CloudTrail.7: the log bucket's own access is logged, into the stack's access-log
// bucket unless AccessLogs names another.
func TestLogBucketAccessIsLogged(t *testing.T) {
	f := synthDefault(t)
	name, _ := resourceNamed(t, f.out, "aws_s3_bucket", "LogBucket")
	_, logging := resourceNamed(t, f.out, "aws_s3_bucket_logging", "LogBucket")
	assert.Equal(t, "${aws_s3_bucket."+name+".id}", logging["bucket"])
	assert.Regexp(t, `^\$\{aws_s3_bucket\.AccessLogs_Bucket_[^.]+\.bucket\}$`, logging["target_bucket"])
	assert.Regexp(t, `^s3/pkg-artifacts-cloudtrail-logs-\$\{data\.aws_caller_identity\.[^.]+\.account_id\}/$`, logging["target_prefix"])

	stack := synthtest.NewStack(t)
	logs := accesslogs.New(stack, "AuditAccessLogs", &accesslogs.Props{BucketName: "audit-access-logs"})
	audittrail.New(stack, "AuditTrail", &audittrail.Props{EncryptionKey: encryptionkey.New(stack, "Key", nil), AccessLogs: logs})
	out := synthtest.Synth(t, stack)
	_, logging = resourceNamed(t, out, "aws_s3_bucket_logging", "LogBucket")
	assert.Regexp(t, `^\$\{aws_s3_bucket\.AuditAccessLogs_Bucket_[^.]+\.bucket\}$`, logging["target_bucket"])
}

func TestOverrides(t *testing.T) {
	stack, _ := newTrail(t, audittrail.Props{
		TrailName:              "team-b-trail",
		ArtifactsBucketName:    "team-b-models",
		LogGroupName:           "/team-b/audit",
		LogRoleName:            "team-b-trail-logs",
		LogRetentionDays:       365,
		LogArchiveDays:         30,
		LogArchiveStorageClass: "STANDARD_IA",
		RemovalPolicy:          removal.Destroy,
	})
	out := synthtest.Synth(t, stack)
	tr := out.Resource(t, "aws_cloudtrail")
	assert.Equal(t, "team-b-trail", tr["name"])
	lg := out.Resource(t, "aws_cloudwatch_log_group")
	assert.Equal(t, "/team-b/audit", lg["name"])
	assert.EqualValues(t, 365, lg["retention_in_days"])
	assert.Equal(t, "team-b-trail-logs", out.Resource(t, "aws_iam_role")["name"])
	_, b := resourceNamed(t, out, "aws_s3_bucket", "LogBucket")
	assert.Regexp(t, matchRef("team-b-models-cloudtrail-logs-${data.aws_caller_identity.*.account_id}"), b["bucket"])
	assert.Equal(t, true, b["force_destroy"])
	assert.Contains(t, out.Raw, `"storage_class": "STANDARD_IA"`)
	key := out.Resource(t, "aws_kms_key")
	st := synthtest.BySid(out.PolicyStatements(t, key["policy"]))
	assert.Contains(t, st, "CloudTrailEncryptLogsTeamBTrail")
	assert.Contains(t, out.Raw, ":log-group:/team-b/audit")
}

// Two trails can share the key: their key policy statements do not collide.
func TestTwoTrailsShareAKey(t *testing.T) {
	stack := synthtest.NewStack(t)
	key := encryptionkey.New(stack, "Key", nil)
	audittrail.New(stack, "A", &audittrail.Props{EncryptionKey: key})
	audittrail.New(stack, "B", &audittrail.Props{EncryptionKey: key, TrailName: "second-trail", ArtifactsBucketName: "second"})
	out := synthtest.Synth(t, stack)
	st := synthtest.BySid(out.PolicyStatements(t, out.Resource(t, "aws_kms_key")["policy"]))
	assert.Contains(t, st, "CloudTrailEncryptLogsAcmeAuditTrail")
	assert.Contains(t, st, "CloudTrailEncryptLogsSecondTrail")
}

func TestValidation(t *testing.T) {
	cases := []struct {
		name  string
		props audittrail.Props
		want  []string // each a "Prop: " prefix expected once
	}{
		{"trail name chars", audittrail.Props{TrailName: "bad name!"}, []string{"TrailName: "}},
		{"trail name short", audittrail.Props{TrailName: "ab"}, []string{"TrailName: "}},
		{"trail name adjacent", audittrail.Props{TrailName: "a--b"}, []string{"TrailName: "}},
		{"trail name ip", audittrail.Props{TrailName: "10.0.0.1"}, []string{"TrailName: "}},
		{"artifacts bucket", audittrail.Props{ArtifactsBucketName: "Upper_Case"}, []string{"ArtifactsBucketName: "}},
		{"artifacts bucket too long", audittrail.Props{ArtifactsBucketName: strings.Repeat("a", 40)}, []string{"ArtifactsBucketName: "}},
		{"log group", audittrail.Props{LogGroupName: "no spaces allowed"}, []string{"LogGroupName: "}},
		{"log group reserved", audittrail.Props{LogGroupName: "aws/mine"}, []string{"LogGroupName: "}},
		{"role name from long trail name", audittrail.Props{TrailName: strings.Repeat("t", 60)}, []string{"LogRoleName: "}},
		{"retention not allowed", audittrail.Props{LogRetentionDays: 91}, []string{"LogRetentionDays: 91 is not a retention CloudWatch Logs accepts"}},
		{"retention negative", audittrail.Props{LogRetentionDays: -1}, []string{"LogRetentionDays: "}},
		{"archive days", audittrail.Props{LogArchiveDays: -5}, []string{"LogArchiveDays: must be at least 1 day"}},
		{"archive days IA", audittrail.Props{LogArchiveDays: 10, LogArchiveStorageClass: "STANDARD_IA"}, []string{"LogArchiveDays: S3 needs at least 30 days"}},
		{"archive class", audittrail.Props{LogArchiveStorageClass: "TAPE"}, []string{"LogArchiveStorageClass: "}},
		{"bucket arn", audittrail.Props{DataEventBucketArns: []string{"arn:aws:s3:::bucket/*"}}, []string{"DataEventBucketArns[0]: "}},
		{"nil bucket", audittrail.Props{DataEventBuckets: []*securebucket.Bucket{nil}}, []string{"DataEventBuckets[0]: is nil"}},
		{"table arn", audittrail.Props{DataEventTableArns: []string{"packages"}}, []string{"DataEventTableArns[0]: "}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			stack, _ := newTrail(t, tc.props)
			errs := synthtest.ValidationErrors(t, stack)
			assert.Len(t, errs, len(tc.want), "one message per violation: %v", errs)
			for _, w := range tc.want {
				found := 0
				for _, e := range errs {
					if strings.Contains(e, "AuditTrail] "+w) {
						found++
					}
				}
				assert.Equal(t, 1, found, "want %q once in %v", w, errs)
			}
		})
	}
}

func TestValidationListsEveryViolationAndNeedsAKey(t *testing.T) {
	stack := synthtest.NewStack(t)
	audittrail.New(stack, "AuditTrail", &audittrail.Props{TrailName: "x", LogRetentionDays: 2, LogArchiveDays: -1})
	errs := synthtest.ValidationErrors(t, stack)
	joined := strings.Join(errs, "\n")
	for _, prop := range []string{"EncryptionKey: is required", "TrailName: ", "LogRetentionDays: ", "LogArchiveDays: "} {
		assert.Contains(t, joined, "test/AuditTrail] "+prop)
	}
	assert.Len(t, errs, 4, "no cascade from the sub-constructs: %v", errs)
}

func TestDefaultsPassValidation(t *testing.T) {
	stack, trail := newTrail(t, audittrail.Props{})
	synthtest.Synth(t, stack)
	require.NotNil(t, trail.LogBucket())
	for _, v := range []*string{trail.TrailArn(), trail.TrailName(), trail.LogGroupArn(), trail.LogGroupName(), trail.LogRoleArn(), trail.LogBucket().BucketArn()} {
		assert.NotEmpty(t, *v)
	}
}
