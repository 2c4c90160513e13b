package test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/s3control"
	s3controltypes "github.com/aws/aws-sdk-go-v2/service/s3control/types"
	"github.com/gruntwork-io/terratest/modules/terraform"
	"github.com/hashicorp/terraform-cdk-go/cdktf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/app/config"
	"github.com/acme/module-registry/constructs/removal"
	"github.com/acme/module-registry/stacks"
	"github.com/acme/module-registry/test/deploy"
)

// The bootstrap stack blocks public access account-wide and logs every access to the
// state, and its bucket really holds Terraform state: a configuration using it as
// its S3 backend (native lockfile, SSE-KMS under the state key) applies, its state lands
// encrypted under that key, the lock is released, and encrypt=true without the key - an
// SSE-S3 request - is refused by the bucket.
func TestStateStoreHoldsTerraformState(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const bucket = "acme-tfstate-test"
	d := deploy.Apply(t, "bootstrap", func(stack cdktf.TerraformStack, cfg config.Config) {
		stacks.NewAccountBaseline(stack)
		// Destroy: S3 writes the state bucket's access logs while the test runs, so the
		// access-log bucket is never empty by the time destroy reaches it.
		stacks.NewStateStore(stack, stacks.StateStoreProps{BucketName: bucket, RemovalPolicy: removal.Destroy})
	})
	keyArn := d.Output(t, "state_kms_key_arn")
	require.Equal(t, bucket, d.Output(t, "state_bucket"))
	require.Equal(t, bucket+stacks.StateAccessLogsSuffix, d.Output(t, "state_access_logs_bucket"))
	s3c := s3.NewFromConfig(d.AWS, func(o *s3.Options) { o.UsePathStyle = true })

	// S3.1: public access is blocked for the whole account.
	control, err := d.Emulator.S3ControlClient(ctx)
	require.NoError(t, err)
	account := aws.String(d.Config.AccountID)
	pab, err := control.GetPublicAccessBlock(ctx, &s3control.GetPublicAccessBlockInput{AccountId: account})
	require.NoError(t, err)
	c := pab.PublicAccessBlockConfiguration
	assert.Equal(t, []bool{true, true, true, true}, []bool{aws.ToBool(c.BlockPublicAcls), aws.ToBool(c.BlockPublicPolicy),
		aws.ToBool(c.IgnorePublicAcls), aws.ToBool(c.RestrictPublicBuckets)}, "all four account-wide blocks")
	d.AfterDestroy(func(t *testing.T) {
		_, err := control.GetPublicAccessBlock(ctx, &s3control.GetPublicAccessBlockInput{AccountId: account})
		var missing *s3controltypes.NoSuchPublicAccessBlockConfiguration
		assert.True(t, errors.As(err, &missing), "the account block is removed with the stack, got %v", err)
	})

	// Every access to the state is logged.
	logging, err := s3c.GetBucketLogging(ctx, &s3.GetBucketLoggingInput{Bucket: aws.String(bucket)})
	require.NoError(t, err)
	require.NotNil(t, logging.LoggingEnabled)
	assert.Equal(t, bucket+stacks.StateAccessLogsSuffix, aws.ToString(logging.LoggingEnabled.TargetBucket))
	assert.Equal(t, "s3/"+bucket+"/", aws.ToString(logging.LoggingEnabled.TargetPrefix))
	assert.True(t, d.PlanIsEmpty(t), "a second plan finds no drift")

	backend := func(extra map[string]any) *terraform.Options {
		dir := t.TempDir()
		s3backend := map[string]any{
			"bucket": bucket, "key": "dev/probe.tfstate", "region": d.Config.Region, "use_lockfile": true,
			"endpoints": map[string]any{"s3": d.Emulator.Endpoint()}, "use_path_style": true,
			"access_key": "test", "secret_key": "test", "skip_credentials_validation": true,
			"skip_requesting_account_id": true, "skip_metadata_api_check": true,
		}
		for k, v := range extra {
			s3backend[k] = v
		}
		body, err := json.Marshal(map[string]any{
			"terraform": map[string]any{"backend": map[string]any{"s3": s3backend}},
			"resource":  map[string]any{"terraform_data": map[string]any{"probe": map[string]any{"input": "state-probe"}}},
		})
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "main.tf.json"), body, 0o600))
		return &terraform.Options{TerraformDir: dir, NoColor: true, EnvVars: map[string]string{"CHECKPOINT_DISABLE": "1"}}
	}

	_, err = terraform.InitAndApplyE(t, backend(map[string]any{"encrypt": true}))
	require.Error(t, err, "SSE-S3 state writes must be refused")
	assert.Contains(t, err.Error(), "failed to upload state")
	assert.Contains(t, err.Error(), "StatusCode: 403")

	terraform.InitAndApply(t, backend(map[string]any{"encrypt": true, "kms_key_id": keyArn}))
	head, err := s3c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("dev/probe.tfstate")})
	require.NoError(t, err)
	assert.Equal(t, s3types.ServerSideEncryptionAwsKms, head.ServerSideEncryption)
	assert.Equal(t, keyArn, aws.ToString(head.SSEKMSKeyId))
	assert.NotEmpty(t, aws.ToString(head.VersionId), "state versions are kept")
	_, err = s3c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("dev/probe.tfstate.tflock")})
	assert.Error(t, err, "the lock object is released after apply")
}
