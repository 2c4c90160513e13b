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
	"github.com/acme/module-registry/constructs/encryptionkey"
	"github.com/acme/module-registry/constructs/securebucket"
	"github.com/acme/module-registry/test/deploy"
)

func TestSecureBucketLive(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := deploy.Apply(t, "securebucket", func(stack cdktf.TerraformStack, cfg config.Config) {
		key := encryptionkey.New(stack, "ProjectKey", nil)
		bucket := securebucket.New(stack, "Artifacts", &securebucket.Props{
			BucketName:    cfg.ArtifactsBucket,
			EncryptionKey: key,
			Transitions:   []securebucket.Transition{{Days: 30, StorageClass: "STANDARD_IA"}, {Days: 90, StorageClass: "GLACIER"}},
		})
		deploy.Output(stack, "bucket", bucket.BucketName())
		deploy.Output(stack, "bucket_arn", bucket.BucketArn())
		deploy.Output(stack, "key_arn", key.KeyArn())
	})
	bucket, bucketArn, keyArn := d.Output(t, "bucket"), d.Output(t, "bucket_arn"), d.Output(t, "key_arn")
	require.Equal(t, "pkg-artifacts", bucket)
	client := s3.NewFromConfig(d.AWS, func(o *s3.Options) { o.UsePathStyle = true })

	enc, err := client.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: &bucket})
	require.NoError(t, err)
	require.Len(t, enc.ServerSideEncryptionConfiguration.Rules, 1)
	rule := enc.ServerSideEncryptionConfiguration.Rules[0]
	assert.Equal(t, s3types.ServerSideEncryptionAwsKms, rule.ApplyServerSideEncryptionByDefault.SSEAlgorithm)
	assert.Equal(t, keyArn, aws.ToString(rule.ApplyServerSideEncryptionByDefault.KMSMasterKeyID))
	assert.True(t, aws.ToBool(rule.BucketKeyEnabled), "bucket key on")

	ver, err := client.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: &bucket})
	require.NoError(t, err)
	assert.Equal(t, s3types.BucketVersioningStatusEnabled, ver.Status)

	pab, err := client.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: &bucket})
	require.NoError(t, err)
	c := pab.PublicAccessBlockConfiguration
	assert.Equal(t, []bool{true, true, true, true}, []bool{aws.ToBool(c.BlockPublicAcls), aws.ToBool(c.BlockPublicPolicy),
		aws.ToBool(c.IgnorePublicAcls), aws.ToBool(c.RestrictPublicBuckets)}, "all four public-access blocks")

	own, err := client.GetBucketOwnershipControls(ctx, &s3.GetBucketOwnershipControlsInput{Bucket: &bucket})
	require.NoError(t, err)
	require.Len(t, own.OwnershipControls.Rules, 1)
	assert.Equal(t, s3types.ObjectOwnershipBucketOwnerEnforced, own.OwnershipControls.Rules[0].ObjectOwnership)

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
		_, err := client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &bucket})
		var notFound *s3types.NotFound
		assert.True(t, errors.As(err, &notFound), "bucket deleted, got %v", err)
	})
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
