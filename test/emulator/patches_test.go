package emulator

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	aas "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	aastypes "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Each patch test runs the same calls twice: with the patch, they must behave
// as AWS does; with only that patch disabled, they must hit moto's gap. The
// second half proves that the patch, not some other change, restores AWS.

func TestPatchCloudTrailAcceptsTrailARN(t *testing.T) {
	t.Parallel()
	t.Run("patched", func(t *testing.T) {
		t.Parallel()
		if err := cloudTrailByARN(t, Start(t)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("disabled", func(t *testing.T) {
		t.Parallel()
		if err := cloudTrailByARN(t, Start(t, Options{DisablePatches: []string{PatchCloudTrailARN}})); err == nil {
			t.Fatal("moto accepted a trail ARN without the patch; is the patch still needed?")
		}
	})
}

// cloudTrailByARN drives a trail by ARN as the Terraform provider does and
// returns the first way it differs from AWS.
func cloudTrailByARN(t *testing.T, e *Emulator) error {
	t.Helper()
	ctx := context.Background()
	cfg, err := e.AWSConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s3c, _ := e.S3Client(ctx)
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("audit-logs")}); err != nil {
		t.Fatal(err)
	}
	ct := cloudtrail.NewFromConfig(cfg, func(o *cloudtrail.Options) { o.RetryMaxAttempts = 1 })
	created, err := ct.CreateTrail(ctx, &cloudtrail.CreateTrailInput{Name: aws.String("audit"), S3BucketName: aws.String("audit-logs")})
	if err != nil {
		t.Fatal(err)
	}
	arn := created.TrailARN

	if _, err := ct.StartLogging(ctx, &cloudtrail.StartLoggingInput{Name: arn}); err != nil {
		return err
	}
	st, err := ct.GetTrailStatus(ctx, &cloudtrail.GetTrailStatusInput{Name: arn})
	if err != nil {
		return err
	}
	if !aws.ToBool(st.IsLogging) {
		t.Fatal("StartLogging by ARN succeeded but GetTrailStatus says IsLogging=false")
	}
	if _, err := ct.StopLogging(ctx, &cloudtrail.StopLoggingInput{Name: arn}); err != nil {
		return err
	}
	if st, err = ct.GetTrailStatus(ctx, &cloudtrail.GetTrailStatusInput{Name: arn}); err != nil {
		return err
	}
	if aws.ToBool(st.IsLogging) {
		t.Fatal("StopLogging by ARN succeeded but GetTrailStatus says IsLogging=true")
	}
	if _, err := ct.DeleteTrail(ctx, &cloudtrail.DeleteTrailInput{Name: arn}); err != nil {
		return err
	}
	trails, err := ct.DescribeTrails(ctx, &cloudtrail.DescribeTrailsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(trails.TrailList) != 0 {
		t.Fatalf("DeleteTrail by ARN succeeded but %d trail(s) remain", len(trails.TrailList))
	}
	return nil
}

func TestPatchAppAutoScalingTags(t *testing.T) {
	t.Parallel()
	t.Run("patched", func(t *testing.T) {
		t.Parallel()
		if err := appAutoScalingTags(t, Start(t)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("disabled", func(t *testing.T) {
		t.Parallel()
		if err := appAutoScalingTags(t, Start(t, Options{DisablePatches: []string{PatchAppAutoScalingTags}})); err == nil {
			t.Fatal("moto listed tags without the patch; is the patch still needed?")
		}
	})
}

// appAutoScalingTags registers a tagged target, then reads, adds and removes
// tags as the Terraform provider does.
func appAutoScalingTags(t *testing.T, e *Emulator) error {
	t.Helper()
	ctx := context.Background()
	cfg, err := e.AWSConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c := aas.NewFromConfig(cfg, func(o *aas.Options) { o.RetryMaxAttempts = 1 })
	reg, err := c.RegisterScalableTarget(ctx, &aas.RegisterScalableTargetInput{
		ServiceNamespace:  aastypes.ServiceNamespaceDynamodb,
		ResourceId:        aws.String("table/packages"),
		ScalableDimension: aastypes.ScalableDimensionDynamoDBTableReadCapacityUnits,
		MinCapacity:       aws.Int32(1),
		MaxCapacity:       aws.Int32(10),
		Tags:              map[string]string{"team": "registry"},
	})
	if err != nil {
		t.Fatal(err)
	}
	arn := reg.ScalableTargetARN
	if aws.ToString(arn) == "" {
		t.Fatal("RegisterScalableTarget returned no ScalableTargetARN")
	}

	want := func(expect map[string]string) error {
		out, err := c.ListTagsForResource(ctx, &aas.ListTagsForResourceInput{ResourceARN: arn})
		if err != nil {
			return err
		}
		if len(out.Tags) != len(expect) {
			t.Fatalf("tags = %v, want %v", out.Tags, expect)
		}
		for k, v := range expect {
			if out.Tags[k] != v {
				t.Fatalf("tags = %v, want %v", out.Tags, expect)
			}
		}
		return nil
	}
	if err := want(map[string]string{"team": "registry"}); err != nil {
		return err
	}
	if _, err := c.TagResource(ctx, &aas.TagResourceInput{ResourceARN: arn, Tags: map[string]string{"env": "ci"}}); err != nil {
		return err
	}
	if err := want(map[string]string{"team": "registry", "env": "ci"}); err != nil {
		return err
	}
	if _, err := c.UntagResource(ctx, &aas.UntagResourceInput{ResourceARN: arn, TagKeys: []string{"team"}}); err != nil {
		return err
	}
	if err := want(map[string]string{"env": "ci"}); err != nil {
		return err
	}
	// AWS rejects tag calls on an unknown target.
	bogus := aws.String(aws.ToString(arn) + "0")
	if _, err := c.ListTagsForResource(ctx, &aas.ListTagsForResourceInput{ResourceARN: bogus}); err == nil {
		t.Fatal("ListTagsForResource on an unknown ARN succeeded, AWS returns ResourceNotFoundException")
	}
	return nil
}

func TestPatchS3LifecycleTransitionMinSize(t *testing.T) {
	t.Parallel()
	t.Run("patched", func(t *testing.T) {
		t.Parallel()
		if err := lifecycleMinSize(t, Start(t)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("disabled", func(t *testing.T) {
		t.Parallel()
		if err := lifecycleMinSize(t, Start(t, Options{DisablePatches: []string{PatchS3LifecycleMinSize}})); err == nil {
			t.Fatal("moto kept the transition minimum size without the patch; is the patch still needed?")
		}
	})
}

// lifecycleMinSize writes a lifecycle configuration with a non-default
// transition minimum size and checks that PUT and GET report it, as AWS does.
func lifecycleMinSize(t *testing.T, e *Emulator) error {
	t.Helper()
	ctx := context.Background()
	c, err := e.S3Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bucket := aws.String("lifecycle")
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: bucket}); err != nil {
		t.Fatal(err)
	}
	rules := []s3types.LifecycleRule{{
		ID:                             aws.String("tidy"),
		Status:                         s3types.ExpirationStatusEnabled,
		Filter:                         &s3types.LifecycleRuleFilter{Prefix: aws.String("")},
		AbortIncompleteMultipartUpload: &s3types.AbortIncompleteMultipartUpload{DaysAfterInitiation: aws.Int32(7)},
		NoncurrentVersionExpiration:    &s3types.NoncurrentVersionExpiration{NoncurrentDays: aws.Int32(30)},
		Transitions:                    []s3types.Transition{{Days: aws.Int32(30), StorageClass: s3types.TransitionStorageClassStandardIa}},
	}}
	const want = s3types.TransitionDefaultMinimumObjectSizeVariesByStorageClass
	put, err := c.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{
		Bucket:                             bucket,
		LifecycleConfiguration:             &s3types.BucketLifecycleConfiguration{Rules: rules},
		TransitionDefaultMinimumObjectSize: want,
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: bucket})
	if err != nil {
		t.Fatal(err)
	}
	// The rules already round-trip in moto; the provider compares them with
	// reflect.DeepEqual, so keep that guarded too.
	if !reflect.DeepEqual(got.Rules, rules) {
		t.Fatalf("rules read back differ:\n got %#v\nwant %#v", got.Rules, rules)
	}
	if put.TransitionDefaultMinimumObjectSize != want {
		return fmt.Errorf("PUT reported transition minimum size %q, want %q", put.TransitionDefaultMinimumObjectSize, want)
	}
	if got.TransitionDefaultMinimumObjectSize != want {
		return fmt.Errorf("GET reported transition minimum size %q, want %q", got.TransitionDefaultMinimumObjectSize, want)
	}
	return nil
}

func TestPatchS3BucketPolicyConditionsHoldAsOnAWS(t *testing.T) {
	t.Parallel()
	t.Run("patched", func(t *testing.T) {
		t.Parallel()
		if err := encryptionPolicyUploads(t, Start(t)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("disabled", func(t *testing.T) {
		t.Parallel()
		if err := encryptionPolicyUploads(t, Start(t, Options{DisablePatches: []string{PatchS3BucketPolicyConditions}})); err == nil {
			t.Fatal("moto honoured the policy's conditions without the patch; is the patch still needed?")
		}
	})
}

// encryptionPolicyUploads puts a policy that denies uploads asking for any encryption
// but aws:kms under one key, and checks each upload gets AWS's answer: a request with no
// encryption header, or with the right key, is allowed; AES256 or another key is denied.
func encryptionPolicyUploads(t *testing.T, e *Emulator) error {
	t.Helper()
	ctx := context.Background()
	s3c, err := e.S3Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s3c = s3.New(s3c.Options(), func(o *s3.Options) { o.RetryMaxAttempts = 1 })
	bucket := aws.String("policy-conditions")
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: bucket}); err != nil {
		t.Fatal(err)
	}
	const key = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
	policy := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[
	 {"Sid":"DenyInsecureTransport","Effect":"Deny","Principal":{"AWS":"*"},"Action":"s3:*",
	  "Resource":["arn:aws:s3:::policy-conditions","arn:aws:s3:::policy-conditions/*"],
	  "Condition":{"Bool":{"aws:SecureTransport":"false"}}},
	 {"Sid":"DenyOtherEncryption","Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::policy-conditions/*",
	  "Condition":{"StringNotEquals":{"s3:x-amz-server-side-encryption":"aws:kms"},"Null":{"s3:x-amz-server-side-encryption":"false"}}},
	 {"Sid":"DenyOtherKeys","Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::policy-conditions/*",
	  "Condition":{"StringNotEquals":{"s3:x-amz-server-side-encryption-aws-kms-key-id":%q},"Null":{"s3:x-amz-server-side-encryption-aws-kms-key-id":"false"}}}]}`, key)
	if _, err := s3c.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: bucket, Policy: aws.String(policy)}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		in      s3.PutObjectInput
		allowed bool
	}{
		{"no encryption header", s3.PutObjectInput{}, true},
		{"aws:kms with the key", s3.PutObjectInput{ServerSideEncryption: s3types.ServerSideEncryptionAwsKms, SSEKMSKeyId: aws.String(key)}, true},
		{"AES256", s3.PutObjectInput{ServerSideEncryption: s3types.ServerSideEncryptionAes256}, false},
		{"aws:kms with another key", s3.PutObjectInput{ServerSideEncryption: s3types.ServerSideEncryptionAwsKms, SSEKMSKeyId: aws.String(key + "0")}, false},
	}
	for i, c := range cases {
		in := c.in
		in.Bucket, in.Key = bucket, aws.String(fmt.Sprintf("o%d", i))
		_, err := s3c.PutObject(ctx, &in)
		if (err == nil) != c.allowed {
			return fmt.Errorf("%s: allowed=%v, AWS would answer allowed=%v (err: %v)", c.name, err == nil, c.allowed, err)
		}
	}
	return nil
}

func TestPatchECRLayerUploadAndManifestDigest(t *testing.T) {
	t.Parallel()
	t.Run("patched", func(t *testing.T) {
		t.Parallel()
		if err := ecrPushByAPI(t, Start(t)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("disabled", func(t *testing.T) {
		t.Parallel()
		if err := ecrPushByAPI(t, Start(t, Options{DisablePatches: []string{PatchECRLayerUpload}})); err == nil {
			t.Fatal("moto uploaded layers and digested the manifest like ECR without the patch; is the patch still needed?")
		}
	})
}

// ecrPushByAPI pushes a blob in two parts and an image through the ECR API as an image
// pusher does, and checks ECR's answers: uploads verified against their digest, the image
// digest is sha256 of the manifest bytes, and a wrong imageDigest is refused.
func ecrPushByAPI(t *testing.T, e *Emulator) error {
	t.Helper()
	ctx := context.Background()
	cfg, err := e.AWSConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c := ecr.NewFromConfig(cfg, func(o *ecr.Options) { o.RetryMaxAttempts = 1 })
	repo := aws.String("layer-upload")
	if _, err := c.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: repo}); err != nil {
		t.Fatal(err)
	}
	blob := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	blobDigest := fmt.Sprintf("sha256:%x", sha256.Sum256(blob))

	check, err := c.BatchCheckLayerAvailability(ctx, &ecr.BatchCheckLayerAvailabilityInput{RepositoryName: repo, LayerDigests: []string{blobDigest}})
	if err != nil {
		return err
	}
	if len(check.Layers) != 0 || len(check.Failures) != 1 || check.Failures[0].FailureCode != ecrtypes.LayerFailureCodeMissingLayerDigest {
		return fmt.Errorf("a blob never uploaded: layers %v, failures %v; want one MissingLayerDigest failure", check.Layers, check.Failures)
	}

	upload := func(parts [][]byte, digest string) error {
		init, err := c.InitiateLayerUpload(ctx, &ecr.InitiateLayerUploadInput{RepositoryName: repo})
		if err != nil {
			return err
		}
		if aws.ToInt64(init.PartSize) <= 0 || aws.ToString(init.UploadId) == "" {
			return fmt.Errorf("InitiateLayerUpload returned part size %d, upload id %q", aws.ToInt64(init.PartSize), aws.ToString(init.UploadId))
		}
		var off int64
		for _, p := range parts {
			out, err := c.UploadLayerPart(ctx, &ecr.UploadLayerPartInput{
				RepositoryName: repo, UploadId: init.UploadId, LayerPartBlob: p,
				PartFirstByte: aws.Int64(off), PartLastByte: aws.Int64(off + int64(len(p)) - 1),
			})
			if err != nil {
				return err
			}
			off += int64(len(p))
			if aws.ToInt64(out.LastByteReceived) != off-1 {
				return fmt.Errorf("UploadLayerPart: last byte received %d, want %d", aws.ToInt64(out.LastByteReceived), off-1)
			}
		}
		done, err := c.CompleteLayerUpload(ctx, &ecr.CompleteLayerUploadInput{RepositoryName: repo, UploadId: init.UploadId, LayerDigests: []string{digest}})
		if err != nil {
			return err
		}
		if aws.ToString(done.LayerDigest) != digest {
			return fmt.Errorf("CompleteLayerUpload stored %q, want %s", aws.ToString(done.LayerDigest), digest)
		}
		return nil
	}
	// Bytes that do not hash to the claimed digest are refused, as ECR does.
	var invalid *ecrtypes.InvalidLayerException
	if err := upload([][]byte{[]byte("not the blob")}, blobDigest); !errors.As(err, &invalid) {
		return fmt.Errorf("upload of bytes not matching the digest: got %v, want InvalidLayerException", err)
	}
	// A part that does not start where the previous one ended is refused.
	gap, err := c.InitiateLayerUpload(ctx, &ecr.InitiateLayerUploadInput{RepositoryName: repo})
	if err != nil {
		return err
	}
	var badPart *ecrtypes.InvalidLayerPartException
	_, err = c.UploadLayerPart(ctx, &ecr.UploadLayerPartInput{RepositoryName: repo, UploadId: gap.UploadId,
		LayerPartBlob: blob[10:], PartFirstByte: aws.Int64(10), PartLastByte: aws.Int64(int64(len(blob)) - 1)})
	if !errors.As(err, &badPart) {
		return fmt.Errorf("a part leaving a gap: got %v, want InvalidLayerPartException", err)
	}
	if err := upload([][]byte{blob[:10], blob[10:]}, blobDigest); err != nil {
		return err
	}
	var exists *ecrtypes.LayerAlreadyExistsException
	if err := upload([][]byte{blob}, blobDigest); !errors.As(err, &exists) {
		return fmt.Errorf("second upload of the same blob: got %v, want LayerAlreadyExistsException", err)
	}
	if check, err = c.BatchCheckLayerAvailability(ctx, &ecr.BatchCheckLayerAvailabilityInput{RepositoryName: repo, LayerDigests: []string{blobDigest}}); err != nil {
		return err
	}
	if len(check.Layers) != 1 || check.Layers[0].LayerAvailability != ecrtypes.LayerAvailabilityAvailable || aws.ToInt64(check.Layers[0].LayerSize) != int64(len(blob)) {
		return fmt.Errorf("an uploaded blob: layers %+v, failures %+v; want it AVAILABLE with its size", check.Layers, check.Failures)
	}

	manifest := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},"layers":[]}`, blobDigest, len(blob))
	want := fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(manifest)))
	var mismatch *ecrtypes.ImageDigestDoesNotMatchException
	_, err = c.PutImage(ctx, &ecr.PutImageInput{RepositoryName: repo, ImageManifest: aws.String(manifest),
		ImageManifestMediaType: aws.String("application/vnd.oci.image.manifest.v1+json"), ImageDigest: aws.String(blobDigest)})
	if !errors.As(err, &mismatch) {
		return fmt.Errorf("PutImage with an imageDigest that is not the manifest's: got %v, want ImageDigestDoesNotMatchException", err)
	}
	put, err := c.PutImage(ctx, &ecr.PutImageInput{RepositoryName: repo, ImageManifest: aws.String(manifest),
		ImageManifestMediaType: aws.String("application/vnd.oci.image.manifest.v1+json")})
	if err != nil {
		return err
	}
	if got := aws.ToString(put.Image.ImageId.ImageDigest); got != want {
		return fmt.Errorf("PutImage digest %s, want sha256 of the manifest %s", got, want)
	}
	described, err := c.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: repo, ImageIds: []ecrtypes.ImageIdentifier{{ImageDigest: aws.String(want)}}})
	if err != nil {
		return err
	}
	if len(described.ImageDetails) != 1 || aws.ToString(described.ImageDetails[0].ImageDigest) != want {
		return fmt.Errorf("DescribeImages by the manifest digest: %+v", described.ImageDetails)
	}
	return nil
}
