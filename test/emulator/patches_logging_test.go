package emulator

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func TestPatchS3EventBridgeNotifications(t *testing.T) {
	testPatch(t, PatchS3EventBridgeNotifications, Options{}, eventBridgeNotifications, "reported EventBridge delivery")
}

// eventBridgeNotifications turns EventBridge delivery on for a bucket, alone and beside
// no other configuration, and checks GetBucketNotificationConfiguration reports it as
// AWS does, and no longer once it is turned off.
func eventBridgeNotifications(t *testing.T, e *Emulator) error {
	t.Helper()
	ctx := context.Background()
	c, err := e.S3Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bucket := aws.String("events")
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: bucket}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{Bucket: bucket,
		NotificationConfiguration: &s3types.NotificationConfiguration{EventBridgeConfiguration: &s3types.EventBridgeConfiguration{}}}); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetBucketNotificationConfiguration(ctx, &s3.GetBucketNotificationConfigurationInput{Bucket: bucket})
	if err != nil {
		t.Fatal(err)
	}
	if got.EventBridgeConfiguration == nil {
		return errors.New("GetBucketNotificationConfiguration left out the EventBridgeConfiguration just put")
	}
	if _, err := c.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{Bucket: bucket,
		NotificationConfiguration: &s3types.NotificationConfiguration{}}); err != nil {
		t.Fatal(err)
	}
	if got, err = c.GetBucketNotificationConfiguration(ctx, &s3.GetBucketNotificationConfigurationInput{Bucket: bucket}); err != nil {
		t.Fatal(err)
	}
	if got.EventBridgeConfiguration != nil {
		t.Fatal("EventBridge delivery is still reported after an empty configuration turned it off")
	}
	return nil
}

func TestPatchS3LoggingTargetPolicy(t *testing.T) {
	testPatch(t, PatchS3LoggingTargetPolicy, Options{}, loggingIntoAPolicedBucket, "read a target policy with a Principal \"*\" statement")
}

// loggingIntoAPolicedBucket turns on server access logging into a bucket whose policy,
// like every bucket's here, also denies requests without TLS to Principal "*", and lists
// its actions and resources; AWS accepts it for the prefix the logging statement allows
// and refuses another prefix.
func loggingIntoAPolicedBucket(t *testing.T, e *Emulator) error {
	t.Helper()
	ctx := context.Background()
	c, err := e.S3Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{"source", "access-logs"} {
		if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
	}
	policy := `{"Version": "2012-10-17", "Statement": [
	  {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
	   "Resource": ["arn:aws:s3:::access-logs", "arn:aws:s3:::access-logs/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
	  {"Sid": "ServerAccessLogs", "Effect": "Allow", "Principal": {"Service": "logging.s3.amazonaws.com"}, "Action": ["s3:PutObject"],
	   "Resource": ["arn:aws:s3:::access-logs/s3/source/*"], "Condition": {"ArnEquals": {"aws:SourceArn": "arn:aws:s3:::source"}}}]}`
	if _, err := c.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("access-logs"), Policy: aws.String(policy)}); err != nil {
		t.Fatal(err)
	}
	logTo := func(prefix string) error {
		_, err := c.PutBucketLogging(ctx, &s3.PutBucketLoggingInput{Bucket: aws.String("source"), BucketLoggingStatus: &s3types.BucketLoggingStatus{
			LoggingEnabled: &s3types.LoggingEnabled{TargetBucket: aws.String("access-logs"), TargetPrefix: aws.String(prefix)}}})
		return err
	}
	if err := logTo("s3/source/"); err != nil {
		return fmt.Errorf("PutBucketLogging into a bucket whose policy allows it: %w", err)
	}
	got, err := c.GetBucketLogging(ctx, &s3.GetBucketLoggingInput{Bucket: aws.String("source")})
	if err != nil {
		t.Fatal(err)
	}
	if got.LoggingEnabled == nil || aws.ToString(got.LoggingEnabled.TargetPrefix) != "s3/source/" {
		t.Fatalf("GetBucketLogging = %+v, want the target just put", got.LoggingEnabled)
	}
	if err := logTo("elsewhere/"); err == nil {
		t.Fatal("PutBucketLogging accepted a prefix the target's policy does not allow")
	}
	return nil
}
