package securebucket_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-cdk-go/cdktf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/constructs/accesslogs"
	"github.com/acme/module-registry/constructs/encryptionkey"
	"github.com/acme/module-registry/constructs/iampolicy"
	"github.com/acme/module-registry/constructs/internal/synthtest"
	"github.com/acme/module-registry/constructs/removal"
	"github.com/acme/module-registry/constructs/securebucket"
)

func newBucket(t *testing.T, props securebucket.Props) (cdktf.TerraformStack, *securebucket.Bucket) {
	stack := synthtest.NewStack(t)
	if props.EncryptionKey == nil {
		props.EncryptionKey = encryptionkey.New(stack, "Key", nil)
	}
	return stack, securebucket.New(stack, "Bucket", &props)
}

func TestDefaultsAreSecure(t *testing.T) {
	stack, _ := newBucket(t, securebucket.Props{})
	out := synthtest.Synth(t, stack)

	bucket := out.ResourceOf(t, "aws_s3_bucket", "Bucket")
	assert.Equal(t, "pkg-artifacts", bucket["bucket"])
	assert.Equal(t, false, bucket["force_destroy"])

	sse := out.ResourceOf(t, "aws_s3_bucket_server_side_encryption_configuration", "Bucket")
	rule := sse["rule"].([]any)[0].(map[string]any)
	assert.Equal(t, true, rule["bucket_key_enabled"])
	byDefault := rule["apply_server_side_encryption_by_default"].(map[string]any)
	assert.Equal(t, "aws:kms", byDefault["sse_algorithm"])
	assert.Regexp(t, `^\$\{aws_kms_key\.[^.]+\.arn\}$`, byDefault["kms_master_key_id"])

	versioning := out.ResourceOf(t, "aws_s3_bucket_versioning", "Bucket")
	assert.Equal(t, "Enabled", versioning["versioning_configuration"].(map[string]any)["status"])

	pab := out.ResourceOf(t, "aws_s3_bucket_public_access_block", "Bucket")
	for _, k := range []string{"block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"} {
		assert.Equal(t, true, pab[k], k)
	}
	own := out.ResourceOf(t, "aws_s3_bucket_ownership_controls", "Bucket")
	assert.Equal(t, "BucketOwnerEnforced", own["rule"].(map[string]any)["object_ownership"])

	notification := out.ResourceOf(t, "aws_s3_bucket_notification", "Bucket")
	assert.Equal(t, true, notification["eventbridge"], "object events go to EventBridge")
}

// Without an AccessLogs prop, the bucket logs into the stack's access-log bucket, under
// its own prefix, once that bucket's policy lets S3 write there for this bucket only.
func TestAccessLogsGoToTheStacksAccessLogBucket(t *testing.T) {
	stack, _ := newBucket(t, securebucket.Props{})
	out := synthtest.Synth(t, stack)
	logging := out.ResourceOf(t, "aws_s3_bucket_logging", "Bucket")
	assert.Regexp(t, `^\$\{aws_s3_bucket\.AccessLogs_Bucket_[^.]+\.bucket\}$`, logging["target_bucket"])
	assert.Equal(t, "s3/pkg-artifacts/", logging["target_prefix"])
	assert.Regexp(t, `^aws_s3_bucket_policy\.AccessLogs_Policy_`, synthtest.Strings(logging["depends_on"])[0], "waits for the target's policy")

	logPolicy := out.ResourceOf(t, "aws_s3_bucket_policy", accesslogs.DefaultID)
	st := synthtest.BySid(out.PolicyStatements(t, logPolicy["policy"]))["ServerAccessLogsTestBucket"]
	require.NotNil(t, st, "the source's statement, named after its path")
	assert.Equal(t, []string{"s3:PutObject"}, synthtest.Strings(st["actions"]))
	assert.Regexp(t, `^\$\{aws_s3_bucket\.AccessLogs_Bucket_[^.]+\.arn\}/s3/pkg-artifacts/\*$`, synthtest.Strings(st["resources"])[0])
	c := synthtest.Conditions(st)
	assert.Regexp(t, `^\$\{aws_s3_bucket\.Bucket_[^.]+\.arn\}$`, c["ArnEquals aws:SourceArn"][0], "only for this bucket")
	assert.Len(t, c["StringEquals aws:SourceAccount"], 1, "only for this account")
}

// An explicit target takes the logs instead; the stack then has no default one.
func TestAccessLogsToAnExplicitTarget(t *testing.T) {
	stack := synthtest.NewStack(t)
	key := encryptionkey.New(stack, "Key", nil)
	logs := accesslogs.New(stack, "TeamLogs", &accesslogs.Props{BucketName: "team-b-access-logs"})
	securebucket.New(stack, "Bucket", &securebucket.Props{EncryptionKey: key, AccessLogs: logs})
	out := synthtest.Synth(t, stack)
	assert.Len(t, out.Resources("aws_s3_bucket"), 2, "the bucket and its explicit target only")
	assert.Equal(t, "team-b-access-logs", out.ResourceOf(t, "aws_s3_bucket", "TeamLogs")["bucket"])
	assert.Regexp(t, `^\$\{aws_s3_bucket\.TeamLogs_Bucket_[^.]+\.bucket\}$`, out.ResourceOf(t, "aws_s3_bucket_logging", "Bucket")["target_bucket"])
}

// S3.1: the account-wide public access block turns all four blocks on.
func TestBlockPublicAccessAccountWide(t *testing.T) {
	stack := synthtest.NewStack(t)
	securebucket.BlockPublicAccessAccountWide(stack, "Account")
	pab := synthtest.Synth(t, stack).Resource(t, "aws_s3_account_public_access_block")
	for _, k := range []string{"block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"} {
		assert.Equal(t, true, pab[k], k)
	}
}

func TestPolicyDeniesInsecureTransportAndForeignEncryption(t *testing.T) {
	stack, _ := newBucket(t, securebucket.Props{})
	out := synthtest.Synth(t, stack)
	policy := out.ResourceOf(t, "aws_s3_bucket_policy", "Bucket")
	assert.Contains(t, policy["depends_on"], "aws_s3_bucket_public_access_block."+nameOfBucket(t, out.Resources("aws_s3_bucket_public_access_block")))
	st := synthtest.BySid(out.PolicyStatements(t, policy["policy"]))

	tls := st[securebucket.DenyInsecureTransportSid]
	require.NotNil(t, tls)
	assert.Equal(t, "Deny", tls["effect"])
	assert.Equal(t, map[string][]string{"Bool aws:SecureTransport": {"false"}}, synthtest.Conditions(tls))
	assert.Len(t, synthtest.Strings(tls["resources"]), 2, "bucket and objects")

	enc := st[securebucket.DenyOtherEncryptionSid]
	require.NotNil(t, enc)
	assert.Equal(t, "Deny", enc["effect"])
	assert.Equal(t, []string{"s3:PutObject"}, synthtest.Strings(enc["actions"]))
	assert.Equal(t, map[string][]string{
		"StringNotEquals s3:x-amz-server-side-encryption": {"aws:kms"},
		"Null s3:x-amz-server-side-encryption":            {"false"},
	}, synthtest.Conditions(enc))

	key := st[securebucket.DenyOtherKeysSid]
	require.NotNil(t, key)
	c := synthtest.Conditions(key)
	require.Len(t, c["StringNotEquals s3:x-amz-server-side-encryption-aws-kms-key-id"], 1)
	assert.Regexp(t, `^\$\{aws_kms_key\.[^.]+\.arn\}$`, c["StringNotEquals s3:x-amz-server-side-encryption-aws-kms-key-id"][0])
	assert.Equal(t, []string{"false"}, c["Null s3:x-amz-server-side-encryption-aws-kms-key-id"])
}

func TestLifecycleRules(t *testing.T) {
	stack, _ := newBucket(t, securebucket.Props{
		NoncurrentVersionExpirationDays: 30,
		Transitions:                     []securebucket.Transition{{Days: 30, StorageClass: "STANDARD_IA"}, {Days: 90, StorageClass: "GLACIER"}},
	})
	out := synthtest.Synth(t, stack)
	lc := out.ResourceOf(t, "aws_s3_bucket_lifecycle_configuration", "Bucket")
	assert.Contains(t, lc["depends_on"], "aws_s3_bucket_versioning."+nameOfBucket(t, out.Resources("aws_s3_bucket_versioning")))
	rules := map[string]map[string]any{}
	for _, r := range lc["rule"].([]any) {
		m := r.(map[string]any)
		rules[m["id"].(string)] = m
		assert.Equal(t, "Enabled", m["status"])
	}
	require.Len(t, rules, 3)
	assert.EqualValues(t, 7, rules["abort-incomplete-multipart-uploads"]["abort_incomplete_multipart_upload"].([]any)[0].(map[string]any)["days_after_initiation"])
	assert.EqualValues(t, 30, rules["expire-noncurrent-versions"]["noncurrent_version_expiration"].([]any)[0].(map[string]any)["noncurrent_days"])
	ts := rules["transition-storage-class"]["transition"].([]any)
	require.Len(t, ts, 2)
	assert.Equal(t, "GLACIER", ts[1].(map[string]any)["storage_class"])
	assert.EqualValues(t, 90, ts[1].(map[string]any)["days"])
}

func TestDefaultLifecycleHasNoTransitions(t *testing.T) {
	stack, _ := newBucket(t, securebucket.Props{})
	lc := synthtest.Synth(t, stack).ResourceOf(t, "aws_s3_bucket_lifecycle_configuration", "Bucket")
	assert.Len(t, lc["rule"], 2)
	assert.EqualValues(t, 90, lc["rule"].([]any)[1].(map[string]any)["noncurrent_version_expiration"].([]any)[0].(map[string]any)["noncurrent_days"])
}

func TestRemovalPolicyDestroyIsOptIn(t *testing.T) {
	stack, _ := newBucket(t, securebucket.Props{BucketName: "team-b-artifacts", RemovalPolicy: removal.Destroy})
	out := synthtest.Synth(t, stack)
	assert.Equal(t, true, out.ResourceOf(t, "aws_s3_bucket", "Bucket")["force_destroy"])
	assert.Equal(t, "s3/team-b-artifacts/", out.ResourceOf(t, "aws_s3_bucket_logging", "Bucket")["target_prefix"])
}

func TestGrantsAreScopedToPrefixes(t *testing.T) {
	stack, bucket := newBucket(t, securebucket.Props{})
	role := synthtest.Role(stack, "Task")
	bucket.GrantRead(role, "packages/")
	bucket.GrantWrite(role, "packages/", "validators/")
	out := synthtest.Synth(t, stack)

	st := map[string]map[string]any{}
	for _, p := range out.Resources("aws_iam_role_policy") {
		for _, s := range out.PolicyStatements(t, p["policy"]) {
			st[s["sid"].(string)] = s
		}
	}
	read := st["ObjectsRead"]
	require.NotNil(t, read)
	assert.Equal(t, []string{"s3:GetObject", "s3:GetObjectVersion"}, synthtest.Strings(read["actions"]))
	assert.Regexp(t, `^\$\{aws_s3_bucket\.[^.]+\.arn\}/packages/\*$`, synthtest.Strings(read["resources"])[0])
	list := st["ListRead"]
	require.NotNil(t, list)
	assert.Equal(t, map[string][]string{"StringLike s3:prefix": {"packages/*"}}, synthtest.Conditions(list))

	write := st["ObjectsWrite"]
	require.NotNil(t, write)
	assert.Contains(t, synthtest.Strings(write["actions"]), "s3:PutObject")
	assert.NotContains(t, synthtest.Strings(write["actions"]), "s3:DeleteObject")
	assert.Len(t, synthtest.Strings(write["resources"]), 2)

	require.NotNil(t, st["UseKeyDecrypt"], "readers decrypt through S3")
	require.NotNil(t, st["UseKeyEncryptDecrypt"], "writers encrypt through S3")
	for _, sid := range []string{"UseKeyDecrypt", "UseKeyEncryptDecrypt"} {
		via := synthtest.Conditions(st[sid])["StringEquals kms:ViaService"]
		require.Len(t, via, 1, sid)
		assert.True(t, strings.HasPrefix(via[0], "s3."), sid)
	}
}

func TestAddToResourcePolicy(t *testing.T) {
	stack, bucket := newBucket(t, securebucket.Props{})
	bucket.AddToResourcePolicy(iampolicy.Statement{
		Sid:        "AllowCloudTrailAclCheck",
		Principals: []iampolicy.Principal{iampolicy.ServicePrincipal("cloudtrail.amazonaws.com")},
		Actions:    []string{"s3:GetBucketAcl"},
		Resources:  []string{*bucket.BucketArn()},
	})
	out := synthtest.Synth(t, stack)
	st := synthtest.BySid(out.PolicyStatements(t, out.ResourceOf(t, "aws_s3_bucket_policy", "Bucket")["policy"]))
	assert.Contains(t, st, "AllowCloudTrailAclCheck")
	assert.Contains(t, st, securebucket.DenyInsecureTransportSid, "own protections stay")
}

func TestInvalidPropsListEveryViolation(t *testing.T) {
	stack := synthtest.NewStack(t)
	b := securebucket.New(stack, "Bucket", &securebucket.Props{
		BucketName:                      "Bad_Name",
		AbortIncompleteUploadDays:       -1,
		NoncurrentVersionExpirationDays: -5,
		Transitions:                     []securebucket.Transition{{Days: 10, StorageClass: "STANDARD_IA"}, {Days: 5, StorageClass: "TAPE"}},
	})
	b.GrantRead(nil)
	b.AddToResourcePolicy(iampolicy.Statement{Sid: securebucket.DenyInsecureTransportSid})
	errs := synthtest.ValidationErrors(t, stack)
	want := []string{
		`BucketName: bucket name "Bad_Name" may hold only lowercase letters`,
		"EncryptionKey: is required",
		"AbortIncompleteUploadDays: must be at least 1, got -1",
		"NoncurrentVersionExpirationDays: must be at least 1, got -5",
		"Transitions[0].Days: S3 needs at least 30 days before STANDARD_IA, got 10",
		`Transitions[1].StorageClass: "TAPE" is not one of`,
		"Transitions[1].Days: must be later than the previous transition (10 days), got 5",
		"GrantRead: role is nil",
		`AddToResourcePolicy: Sid "DenyInsecureTransport" is reserved`,
	}
	for _, w := range want {
		found := false
		for _, e := range errs {
			found = found || strings.HasPrefix(e, "[test/Bucket] "+w)
		}
		assert.True(t, found, "missing %q in:\n%s", w, strings.Join(errs, "\n"))
	}
	assert.Len(t, errs, len(want), strings.Join(errs, "\n"))
}

// A bucket another stack created gets the same narrow grants as one this stack owns.
func TestImportedBucketGrantsLikeAnOwnedOne(t *testing.T) {
	stack := synthtest.NewStack(t)
	key := encryptionkey.FromKeyArn(stack, "Key", "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab")
	byName := securebucket.FromBucketAttributes(stack, "Models", securebucket.Attributes{BucketName: "team-a-models", EncryptionKey: key})
	byArn := securebucket.FromBucketArn(stack, "Reports", "arn:aws:s3:::team-a-reports")
	role := synthtest.Role(stack, "Trainer")
	byName.GrantReadWrite(role, "models/")
	byArn.GrantRead(role)
	out := synthtest.Synth(t, stack)

	assert.Empty(t, out.Resources("aws_s3_bucket"), "nothing is created")
	assert.Equal(t, "team-a-models", *byName.BucketName())
	assert.Equal(t, "team-a-reports", *byArn.BucketName())
	assert.Equal(t, "arn:aws:s3:::team-a-reports", *byArn.BucketArn())
	st := map[string]map[string]any{}
	for _, p := range out.Resources("aws_iam_role_policy") {
		for _, s := range out.PolicyStatements(t, p["policy"]) {
			st[s["sid"].(string)+" "+synthtest.Strings(s["resources"])[0]] = s
		}
	}
	rw := st["ObjectsReadWrite arn:${data.aws_partition.AwsEnvironment_Partition_C32B65D5.partition}:s3:::team-a-models/models/*"]
	require.NotNil(t, rw, "read-write under models/ only: %v", st)
	assert.ElementsMatch(t, []string{"s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:AbortMultipartUpload"}, synthtest.Strings(rw["actions"]))
	read := st["ObjectsRead arn:aws:s3:::team-a-reports/*"]
	require.NotNil(t, read, "%v", st)
	kms := st["UseKeyEncryptDecrypt "+"arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"]
	require.NotNil(t, kms, "the given key is granted through S3: %v", st)
	for sid := range st {
		assert.NotContains(t, sid, "UseKeyDecrypt", "the bucket imported without a key grants no key use")
	}
}

func TestImportedBucketAttributesAreValidated(t *testing.T) {
	stack := synthtest.NewStack(t)
	securebucket.FromBucketAttributes(stack, "None", securebucket.Attributes{})
	securebucket.FromBucketArn(stack, "Object", "arn:aws:s3:::b/key")
	securebucket.FromBucketName(stack, "Bad", "Bad_Name")
	securebucket.FromBucketAttributes(stack, "Both", securebucket.Attributes{BucketName: "one", BucketArn: "arn:aws:s3:::two"})
	securebucket.FromBucketName(stack, "NoRole", "fine-name").GrantWrite(nil)
	errs := strings.Join(synthtest.ValidationErrors(t, stack), "\n")
	for _, w := range []string{
		"[test/None] BucketName: or BucketArn is required",
		`[test/Object] BucketArn: "arn:aws:s3:::b/key" is not a bucket ARN`,
		`[test/Bad] BucketName: bucket name "Bad_Name" may hold only lowercase letters`,
		`[test/Both] BucketName: "one" differs from the name in BucketArn "arn:aws:s3:::two"`,
		"[test/NoRole] GrantWrite: role is nil",
	} {
		assert.Contains(t, errs, w)
	}
}

func TestValidateBucketName(t *testing.T) {
	for name, ok := range map[string]bool{
		"pkg-artifacts": true, "a.b-c": true, "abc": true,
		"": false, "ab": false, strings.Repeat("a", 64): false, "UPPER": false, "under_score": false,
		"-start": false, "end-": false, "a..b": false, "192.168.1.1": false, "xn--abc": false,
		"sthree-x": false, "x-s3alias": false, "x--ol-s3": false, "a.mrap": false,
	} {
		err := securebucket.ValidateBucketName(name)
		assert.Equal(t, ok, err == nil, "%q: %v", name, err)
	}
}

// nameOfBucket is the logical name of the one resource of the construct "Bucket".
func nameOfBucket(t *testing.T, m map[string]map[string]any) string {
	t.Helper()
	var names []string
	for k := range m {
		if strings.HasPrefix(k, "Bucket_") {
			names = append(names, k)
		}
	}
	require.Len(t, names, 1)
	return names[0]
}

// Permanent deletion of versions is its own grant, on the given prefixes only, and never
// part of GrantWrite or GrantReadWrite.
func TestGrantDeleteVersionsIsSeparateAndScoped(t *testing.T) {
	stack, bucket := newBucket(t, securebucket.Props{})
	bucket.GrantReadWrite(synthtest.Role(stack, "Writer"), "packages/")
	bucket.GrantDeleteVersions(synthtest.Role(stack, "Owner"), "packages/")
	out := synthtest.Synth(t, stack)
	var deleters []map[string]any
	for _, p := range out.Resources("aws_iam_role_policy") {
		for _, s := range out.PolicyStatements(t, p["policy"]) {
			if slices.Contains(synthtest.Strings(s["actions"]), "s3:DeleteObjectVersion") {
				deleters = append(deleters, s)
			}
		}
	}
	require.Len(t, deleters, 1, "only GrantDeleteVersions deletes versions")
	assert.Equal(t, []string{"s3:DeleteObjectVersion"}, synthtest.Strings(deleters[0]["actions"]))
	assert.Regexp(t, `/packages/\*$`, synthtest.Strings(deleters[0]["resources"])[0])
}
