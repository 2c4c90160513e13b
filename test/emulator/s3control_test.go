package emulator

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3control"
	"github.com/aws/aws-sdk-go-v2/service/s3control/types"
)

// The account-wide public access block round-trips through S3 Control's account-prefixed
// host, which only the proxy route reaches.
func TestS3ControlThroughTheEmulatorAsProxy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := Start(t, Options{})
	c, err := e.S3ControlClient(ctx)
	if err != nil {
		t.Fatal(err)
	}
	account := aws.String(e.AccountID())
	if _, err := c.PutPublicAccessBlock(ctx, &s3control.PutPublicAccessBlockInput{AccountId: account,
		PublicAccessBlockConfiguration: &types.PublicAccessBlockConfiguration{BlockPublicAcls: aws.Bool(true), RestrictPublicBuckets: aws.Bool(true)}}); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetPublicAccessBlock(ctx, &s3control.GetPublicAccessBlockInput{AccountId: account})
	if err != nil {
		t.Fatal(err)
	}
	if b := got.PublicAccessBlockConfiguration; !aws.ToBool(b.BlockPublicAcls) || !aws.ToBool(b.RestrictPublicBuckets) || aws.ToBool(b.BlockPublicPolicy) {
		t.Fatalf("read back %+v, want what was put", *b)
	}
	if _, err := c.DeletePublicAccessBlock(ctx, &s3control.DeletePublicAccessBlockInput{AccountId: account}); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetPublicAccessBlock(ctx, &s3control.GetPublicAccessBlockInput{AccountId: account})
	var missing *types.NoSuchPublicAccessBlockConfiguration
	if !errors.As(err, &missing) {
		t.Fatalf("after delete, GetPublicAccessBlock returned %v, want NoSuchPublicAccessBlockConfiguration", err)
	}

	cfg, err := e.AWSConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	direct := s3control.NewFromConfig(cfg, func(o *s3control.Options) { o.RetryMaxAttempts = 1 })
	if _, err := direct.GetPublicAccessBlock(ctx, &s3control.GetPublicAccessBlockInput{AccountId: account}); err == nil {
		t.Fatal("without the proxy the account-prefixed host resolved; is the proxy route still needed?")
	}
}
