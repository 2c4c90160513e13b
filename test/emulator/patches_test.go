package emulator

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	aas "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	aastypes "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// testPatch runs check twice, in parallel: on an emulator started with opts, it
// must behave as AWS does; with only patch disabled as well, it must hit moto's
// gap - which proves that the patch, not some other change, restores AWS. fixed
// says what the unpatched moto would have got right, for the message when the
// gap is gone.
func testPatch(t *testing.T, patch string, opts Options, check func(*testing.T, *Emulator) error, fixed string) {
	t.Parallel()
	t.Run("patched", func(t *testing.T) {
		t.Parallel()
		if err := check(t, Start(t, opts)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("disabled", func(t *testing.T) {
		t.Parallel()
		unpatched := opts
		unpatched.DisablePatches = append(append([]string{}, opts.DisablePatches...), patch)
		if err := check(t, Start(t, unpatched)); err == nil {
			t.Fatalf("moto %s without the %s patch; is the patch still needed?", fixed, patch)
		}
	})
}

func TestPatchCloudTrailAcceptsTrailARN(t *testing.T) {
	testPatch(t, PatchCloudTrailARN, Options{}, cloudTrailByARN, "accepted a trail ARN")
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
	ct := cloudtrail.NewFromConfig(cfg, func(o *cloudtrail.Options) { o.RetryMaxAttempts = patchTestAttempts })
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
	testPatch(t, PatchAppAutoScalingTags, Options{}, appAutoScalingTags, "listed tags")
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
	c := aas.NewFromConfig(cfg, func(o *aas.Options) { o.RetryMaxAttempts = patchTestAttempts })
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
	testPatch(t, PatchS3LifecycleMinSize, Options{}, lifecycleMinSize, "kept the transition minimum size")
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
	testPatch(t, PatchS3BucketPolicyConditions, Options{}, encryptionPolicyUploads, "honoured the policy's conditions")
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
	s3c = s3.New(s3c.Options(), func(o *s3.Options) { o.RetryMaxAttempts = patchTestAttempts })
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

func TestPatchS3ChecksumVerifyRefusesOtherBytes(t *testing.T) {
	testPatch(t, PatchS3ChecksumVerify, Options{}, presignedChecksumPut, "verified the declared checksum")
}

// presignedChecksumPut presigns a PUT bound to one SHA-256 (the checksum
// header is signed, as a registry's upload URL is) and checks, as on AWS,
// that other bytes get 400 BadDigest and the right bytes are stored with the
// checksum HeadObject then reports.
func presignedChecksumPut(t *testing.T, e *Emulator) error {
	t.Helper()
	ctx := context.Background()
	c, err := e.S3Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bucket, key := aws.String("checksums"), aws.String("obj")
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: bucket}); err != nil {
		t.Fatal(err)
	}
	body := []byte("the declared content")
	sum := sha256.Sum256(body)
	b64 := base64.StdEncoding.EncodeToString(sum[:])
	req, err := s3.NewPresignClient(c).PresignPutObject(ctx, &s3.PutObjectInput{Bucket: bucket, Key: key, ChecksumSHA256: &b64})
	if err != nil {
		t.Fatal(err)
	}
	put := func(b []byte) (int, string) {
		hr, err := http.NewRequest(req.Method, req.URL, bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range req.SignedHeader {
			if !strings.EqualFold(k, "host") {
				hr.Header[k] = v
			}
		}
		resp, err := http.DefaultClient.Do(hr)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(out)
	}
	if code, out := put([]byte("other content, same size")); code != 400 || !strings.Contains(out, "BadDigest") {
		return fmt.Errorf("PUT of other bytes: status %d %s, want 400 BadDigest", code, out)
	}
	if code, out := put(body); code != 200 {
		t.Fatalf("PUT of the declared bytes: status %d %s", code, out)
	}
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: bucket, Key: key, ChecksumMode: s3types.ChecksumModeEnabled})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(head.ChecksumSHA256); got != b64 {
		return fmt.Errorf("HeadObject checksum %q, want %q", got, b64)
	}
	return nil
}

func TestPatchS3HeadCompositeChecksum(t *testing.T) {
	testPatch(t, PatchS3HeadCompositeChecksum, Options{}, multipartHeadChecksum, "reported the composite checksum")
}

// multipartHeadChecksum uploads two SHA-256-checksummed parts and checks
// that HeadObject reports "<base64 of sha256(part sums)>-2", as AWS does.
func multipartHeadChecksum(t *testing.T, e *Emulator) error {
	t.Helper()
	ctx := context.Background()
	c, err := e.S3Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bucket, key := aws.String("multipart"), aws.String("obj")
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: bucket}); err != nil {
		t.Fatal(err)
	}
	mp, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: bucket, Key: key, ChecksumAlgorithm: s3types.ChecksumAlgorithmSha256})
	if err != nil {
		t.Fatal(err)
	}
	parts := [][]byte{bytes.Repeat([]byte("a"), 5<<20), []byte("tail")}
	var completed []s3types.CompletedPart
	var sums []byte
	for i, p := range parts {
		s := sha256.Sum256(p)
		sums = append(sums, s[:]...)
		out, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: bucket, Key: key, UploadId: mp.UploadId, PartNumber: aws.Int32(int32(i + 1)),
			Body: bytes.NewReader(p), ChecksumAlgorithm: s3types.ChecksumAlgorithmSha256})
		if err != nil {
			t.Fatal(err)
		}
		completed = append(completed, s3types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(int32(i + 1)), ChecksumSHA256: out.ChecksumSHA256})
	}
	if _, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: bucket, Key: key, UploadId: mp.UploadId,
		MultipartUpload: &s3types.CompletedMultipartUpload{Parts: completed}}); err != nil {
		t.Fatal(err)
	}
	composite := sha256.Sum256(sums)
	want := base64.StdEncoding.EncodeToString(composite[:]) + "-2"
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: bucket, Key: key, ChecksumMode: s3types.ChecksumModeEnabled})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(head.ChecksumSHA256); got != want {
		return fmt.Errorf("HeadObject checksum %q, want %q", got, want)
	}
	return nil
}

func TestPatchDynamoDBAtomicWrites(t *testing.T) {
	// The delay widens moto's check-then-write window, so its race shows on every run
	// (without it, a round races only on a lucky thread switch); DynamoDB's atomic
	// writes, and the patched emulator, are unaffected by it.
	const widened = 5 * time.Millisecond
	testPatch(t, PatchDynamoDBAtomicWrites, Options{DynamoDBConditionDelay: widened}, racingConditionalUpdates, "kept conditional updates atomic")
}

// racingConditionalUpdates sends 64 concurrent "uses = uses + 1 if uses <
// 10" updates to one item, round after round, and returns an error as soon
// as more than 10 succeed in a round (AWS: exactly 10, always).
func racingConditionalUpdates(t *testing.T, e *Emulator) error {
	t.Helper()
	ctx := context.Background()
	cfg, err := e.AWSConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	db := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.RetryMaxAttempts = patchTestAttempts })
	table := aws.String("counters")
	if _, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: table, BillingMode: ddbtypes.BillingModePayPerRequest,
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: ddbtypes.KeyTypeHash}},
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: ddbtypes.ScalarAttributeTypeS}}}); err != nil {
		t.Fatal(err)
	}
	const limit, clients, rounds = 10, 64, 15
	for round := range rounds {
		id := &ddbtypes.AttributeValueMemberS{Value: fmt.Sprint(round)}
		if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: table, Item: map[string]ddbtypes.AttributeValue{
			"id": id, "uses": &ddbtypes.AttributeValueMemberN{Value: "0"}}}); err != nil {
			t.Fatal(err)
		}
		var ok atomic.Int32
		var wg sync.WaitGroup
		for range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: table, Key: map[string]ddbtypes.AttributeValue{"id": id},
					UpdateExpression:          aws.String("SET uses = uses + :one"),
					ConditionExpression:       aws.String("uses < :limit"),
					ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":one": &ddbtypes.AttributeValueMemberN{Value: "1"}, ":limit": &ddbtypes.AttributeValueMemberN{Value: fmt.Sprint(limit)}}})
				if err == nil {
					ok.Add(1)
				}
			}()
		}
		wg.Wait()
		if n := ok.Load(); n > limit {
			return fmt.Errorf("round %d: %d of %d racing conditional updates succeeded, want at most %d", round, n, clients, limit)
		}
	}
	return nil
}

func TestPatchECRLayerUploadAndManifestDigest(t *testing.T) {
	testPatch(t, PatchECRLayerUpload, Options{}, ecrPushByAPI, "uploaded layers and digested the manifest like ECR")
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
	c := ecr.NewFromConfig(cfg, func(o *ecr.Options) { o.RetryMaxAttempts = patchTestAttempts })
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

// patchTestAttempts lets the SDK retry a transient transport error (seen once with ten
// emulators on two cores); the gaps the patches fix answer the same on every attempt.
const patchTestAttempts = 3
