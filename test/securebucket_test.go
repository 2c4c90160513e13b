package test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/hashicorp/terraform-cdk-go/cdktf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/app/config"
	"github.com/acme/module-registry/constructs/accesslogs"
	"github.com/acme/module-registry/constructs/encryptionkey"
	"github.com/acme/module-registry/constructs/removal"
	"github.com/acme/module-registry/constructs/securebucket"
	"github.com/acme/module-registry/test/deploy"
)

func TestSecureBucketLive(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := deploy.Apply(t, "securebucket", func(stack cdktf.TerraformStack, cfg config.Config) {
		key := encryptionkey.New(stack, "ProjectKey", nil)
		// The stack's access-log bucket, as accesslogs.Of would create it but emptied by
		// destroy: S3 writes the access logs while the test runs.
		accesslogs.New(stack, accesslogs.DefaultID, &accesslogs.Props{RemovalPolicy: removal.Destroy})
		bucket := securebucket.New(stack, "Artifacts", &securebucket.Props{
			BucketName:    cfg.ArtifactsBucket,
			EncryptionKey: key,
			Transitions:   []securebucket.Transition{{Days: 30, StorageClass: "STANDARD_IA"}, {Days: 90, StorageClass: "GLACIER"}},
		})
		deploy.Output(stack, "bucket", bucket.BucketName())
		deploy.Output(stack, "bucket_arn", bucket.BucketArn())
		deploy.Output(stack, "key_arn", key.KeyArn())
		logs := accesslogs.Of(stack)
		deploy.Output(stack, "logs_bucket", logs.BucketName())
		deploy.Output(stack, "logs_bucket_arn", logs.BucketArn())
	})
	bucket, bucketArn, keyArn := d.Output(t, "bucket"), d.Output(t, "bucket_arn"), d.Output(t, "key_arn")
	logsBucket, logsBucketArn := d.Output(t, "logs_bucket"), d.Output(t, "logs_bucket_arn")
	require.Equal(t, "pkg-artifacts", bucket)
	assert.Equal(t, "securebucket-access-logs-"+deploy.AccountID+"-"+d.Config.Region, logsBucket)
	client := s3.NewFromConfig(d.AWS, func(o *s3.Options) { o.UsePathStyle = true })

	t.Run("server access logs and event notifications", func(t *testing.T) {
		logging, err := client.GetBucketLogging(ctx, &s3.GetBucketLoggingInput{Bucket: &bucket})
		require.NoError(t, err)
		require.NotNil(t, logging.LoggingEnabled, "S3.9: access is logged")
		assert.Equal(t, logsBucket, aws.ToString(logging.LoggingEnabled.TargetBucket))
		assert.Equal(t, "s3/pkg-artifacts/", aws.ToString(logging.LoggingEnabled.TargetPrefix))
		events, err := client.GetBucketNotificationConfiguration(ctx, &s3.GetBucketNotificationConfigurationInput{Bucket: &bucket})
		require.NoError(t, err)
		assert.NotNil(t, events.EventBridgeConfiguration, "S3.11: object events go to EventBridge")
	})

	t.Run("access-log bucket", func(t *testing.T) {
		enc, err := client.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: &logsBucket})
		require.NoError(t, err)
		require.Len(t, enc.ServerSideEncryptionConfiguration.Rules, 1)
		assert.Equal(t, s3types.ServerSideEncryptionAes256, enc.ServerSideEncryptionConfiguration.Rules[0].ApplyServerSideEncryptionByDefault.SSEAlgorithm,
			"SSE-S3, the one encryption log delivery accepts")
		versionedPrivateOwnerEnforced(ctx, t, client, logsBucket)
		logging, err := client.GetBucketLogging(ctx, &s3.GetBucketLoggingInput{Bucket: &logsBucket})
		require.NoError(t, err)
		assert.Nil(t, logging.LoggingEnabled, "it does not log into itself")
		events, err := client.GetBucketNotificationConfiguration(ctx, &s3.GetBucketNotificationConfigurationInput{Bucket: &logsBucket})
		require.NoError(t, err)
		assert.NotNil(t, events.EventBridgeConfiguration)
		lc, err := client.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: &logsBucket})
		require.NoError(t, err)
		expiry := map[string]int32{}
		for _, r := range lc.Rules {
			if r.Expiration != nil {
				expiry[aws.ToString(r.ID)] = aws.ToInt32(r.Expiration.Days)
			}
		}
		assert.Equal(t, map[string]int32{"expire-current-objects": 365}, expiry)

		pol, err := client.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: &logsBucket})
		require.NoError(t, err)
		st := parsePolicy(t, aws.ToString(pol.Policy))
		assert.Equal(t, stringList{"false"}, st[accesslogs.DenyInsecureTransportSid].Condition["Bool"]["aws:SecureTransport"])
		assert.Equal(t, stringList{"AES256"}, st[accesslogs.DenyOtherEncryptionSid].Condition["StringNotEquals"]["s3:x-amz-server-side-encryption"])
		write := st[accesslogs.ServerAccessLogsSidPrefix+"SecurebucketArtifacts"]
		assert.Equal(t, "Allow", write.Effect)
		assert.Equal(t, map[string]any{"Service": "logging.s3.amazonaws.com"}, write.Principal)
		assert.Equal(t, stringList{"s3:PutObject"}, write.Action)
		assert.Equal(t, stringList{logsBucketArn + "/s3/pkg-artifacts/*"}, write.Resource, "only its own prefix")
		assert.Equal(t, stringList{bucketArn}, write.Condition["ArnEquals"]["aws:SourceArn"], "only for this bucket")
		assert.Equal(t, stringList{deploy.AccountID}, write.Condition["StringEquals"]["aws:SourceAccount"], "only for this account")
		assert.Len(t, st, 3, "nothing else: %v", st)
	})

	enc, err := client.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: &bucket})
	require.NoError(t, err)
	require.Len(t, enc.ServerSideEncryptionConfiguration.Rules, 1)
	rule := enc.ServerSideEncryptionConfiguration.Rules[0]
	assert.Equal(t, s3types.ServerSideEncryptionAwsKms, rule.ApplyServerSideEncryptionByDefault.SSEAlgorithm)
	assert.Equal(t, keyArn, aws.ToString(rule.ApplyServerSideEncryptionByDefault.KMSMasterKeyID))
	assert.True(t, aws.ToBool(rule.BucketKeyEnabled), "bucket key on")

	versionedPrivateOwnerEnforced(ctx, t, client, bucket)

	pol, err := client.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: &bucket})
	require.NoError(t, err)
	st := parsePolicy(t, aws.ToString(pol.Policy))
	tls := st[securebucket.DenyInsecureTransportSid]
	assert.Equal(t, "Deny", tls.Effect)
	assert.ElementsMatch(t, stringList{bucketArn, bucketArn + "/*"}, tls.Resource)
	assert.Equal(t, stringList{"false"}, tls.Condition["Bool"]["aws:SecureTransport"])
	algo := st[securebucket.DenyOtherEncryptionSid]
	assert.Equal(t, "Deny", algo.Effect)
	assert.Equal(t, stringList{"s3:PutObject"}, algo.Action)
	assert.Equal(t, stringList{"aws:kms"}, algo.Condition["StringNotEquals"]["s3:x-amz-server-side-encryption"])
	assert.Equal(t, stringList{"false"}, algo.Condition["Null"]["s3:x-amz-server-side-encryption"])
	other := st[securebucket.DenyOtherKeysSid]
	assert.Equal(t, "Deny", other.Effect)
	assert.Equal(t, stringList{keyArn}, other.Condition["StringNotEquals"]["s3:x-amz-server-side-encryption-aws-kms-key-id"])

	lc, err := client.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: &bucket})
	require.NoError(t, err)
	rules := map[string]s3types.LifecycleRule{}
	for _, r := range lc.Rules {
		rules[aws.ToString(r.ID)] = r
		assert.Equal(t, s3types.ExpirationStatusEnabled, r.Status)
	}
	require.Len(t, rules, 3)
	assert.EqualValues(t, 7, aws.ToInt32(rules["abort-incomplete-multipart-uploads"].AbortIncompleteMultipartUpload.DaysAfterInitiation))
	assert.EqualValues(t, 90, aws.ToInt32(rules["expire-noncurrent-versions"].NoncurrentVersionExpiration.NoncurrentDays))
	transitions := rules["transition-storage-class"].Transitions
	require.Len(t, transitions, 2)
	assert.Equal(t, s3types.TransitionStorageClassGlacier, transitions[1].StorageClass)
	assert.EqualValues(t, 90, aws.ToInt32(transitions[1].Days))

	// An upload that names no encryption is stored under the project key anyway.
	_, err = client.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: aws.String("packages/demo/1.0.0/package.zip"), Body: strings.NewReader("demo")})
	require.NoError(t, err)
	head, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: aws.String("packages/demo/1.0.0/package.zip")})
	require.NoError(t, err)
	assert.Equal(t, s3types.ServerSideEncryptionAwsKms, head.ServerSideEncryption)
	assert.Equal(t, keyArn, aws.ToString(head.SSEKMSKeyId))
	// The bucket policy refuses uploads that ask for another encryption or another key.
	_, err = client.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: aws.String("packages/aes/1.0.0/package.zip"),
		Body: strings.NewReader("demo"), ServerSideEncryption: s3types.ServerSideEncryptionAes256})
	assert.Error(t, err, "SSE-S3 upload must be denied by the bucket policy")
	_, err = client.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: aws.String("packages/other/1.0.0/package.zip"),
		Body: strings.NewReader("demo"), ServerSideEncryption: s3types.ServerSideEncryptionAwsKms,
		SSEKMSKeyId: aws.String("arn:aws:kms:us-east-1:" + deploy.AccountID + ":key/00000000-0000-0000-0000-000000000000")})
	assert.Error(t, err, "upload under another KMS key must be denied by the bucket policy")
	// force_destroy is off, so the test removes what it wrote before destroy runs.
	t.Cleanup(func() { emptyBucket(t, client, bucket) })

	assert.True(t, d.PlanIsEmpty(t), "a second plan finds no drift")

	d.AfterDestroy(func(t *testing.T) {
		for _, b := range []string{bucket, logsBucket} {
			_, err := client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &b})
			var notFound *s3types.NotFound
			assert.True(t, errors.As(err, &notFound), "bucket %s deleted, got %v", b, err)
		}
	})
}

// versionedPrivateOwnerEnforced checks what every bucket of the module has: versioning,
// all four public-access blocks and ACLs disabled.
func versionedPrivateOwnerEnforced(ctx context.Context, t *testing.T, client *s3.Client, bucket string) {
	t.Helper()
	ver, err := client.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: &bucket})
	require.NoError(t, err)
	assert.Equal(t, s3types.BucketVersioningStatusEnabled, ver.Status, bucket)
	pab, err := client.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: &bucket})
	require.NoError(t, err)
	c := pab.PublicAccessBlockConfiguration
	assert.Equal(t, []bool{true, true, true, true}, []bool{aws.ToBool(c.BlockPublicAcls), aws.ToBool(c.BlockPublicPolicy),
		aws.ToBool(c.IgnorePublicAcls), aws.ToBool(c.RestrictPublicBuckets)}, "all four public-access blocks of %s", bucket)
	own, err := client.GetBucketOwnershipControls(ctx, &s3.GetBucketOwnershipControlsInput{Bucket: &bucket})
	require.NoError(t, err)
	require.Len(t, own.OwnershipControls.Rules, 1)
	assert.Equal(t, s3types.ObjectOwnershipBucketOwnerEnforced, own.OwnershipControls.Rules[0].ObjectOwnership, bucket)
}

func emptyBucket(t *testing.T, client *s3.Client, bucket string) {
	t.Helper()
	versions, err := client.ListObjectVersions(context.Background(), &s3.ListObjectVersionsInput{Bucket: &bucket})
	require.NoError(t, err)
	for _, v := range versions.Versions {
		_, err := client.DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: &bucket, Key: v.Key, VersionId: v.VersionId})
		require.NoError(t, err)
	}
	for _, m := range versions.DeleteMarkers {
		_, err := client.DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: &bucket, Key: m.Key, VersionId: m.VersionId})
		require.NoError(t, err)
	}
}
