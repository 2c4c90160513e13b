package securebucket_test

import (
	"fmt"

	"github.com/acme/module-registry/constructs/encryptionkey"
	"github.com/acme/module-registry/constructs/internal/synthtest"
	"github.com/acme/module-registry/constructs/securebucket"
)

// A second team's bucket under a key it already has: everything secure by default, objects
// moved to GLACIER after 90 days, and a role that may read and write one prefix only.
// Its server access logs go to the stack's access-log bucket (SSE-S3, the one encryption
// AWS delivers logs to), which the first bucket of the stack creates.
func ExampleNew() {
	stack := synthtest.ExampleStack("team-b")

	key := encryptionkey.FromKeyArn(stack, "SharedKey", "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab")
	bucket := securebucket.New(stack, "Models", &securebucket.Props{
		BucketName:    "team-b-models",
		EncryptionKey: key,
		Transitions:   []securebucket.Transition{{Days: 90, StorageClass: "GLACIER"}},
	})
	role := synthtest.Role(stack, "Trainer")
	bucket.GrantReadWrite(role, "models/")

	synthtest.Print(stack, "aws_s3_bucket", "bucket")
	synthtest.Print(stack, "aws_s3_bucket_logging", "target_prefix")
	for _, st := range bucket.PolicyStatements() {
		fmt.Println(st.Sid, st.Effect, st.Actions)
	}
	// Output:
	// aws_s3_bucket bucket: "team-b-access-logs-${data.aws_caller_identity.AwsEnvironment_Caller_01CEF13D.account_id}-${data.aws_region.AwsEnvironment_Region_A9A8C04E.name}"
	// aws_s3_bucket bucket: "team-b-models"
	// aws_s3_bucket_logging target_prefix: "s3/team-b-models/"
	// DenyInsecureTransport Deny [s3:*]
	// DenyEncryptionOtherThanKms Deny [s3:PutObject]
	// DenyKmsKeysOtherThanProjectKey Deny [s3:PutObject]
}

// A bucket another team created: grant this stack's role read access to one prefix,
// with the same narrow statements as for a bucket the stack owns.
func ExampleFromBucketAttributes() {
	stack := synthtest.ExampleStack("team-b")

	shared := securebucket.FromBucketAttributes(stack, "Datasets", securebucket.Attributes{
		BucketArn:     "arn:aws:s3:::team-a-datasets",
		EncryptionKey: encryptionkey.FromKeyArn(stack, "TeamAKey", "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"),
	})
	role := synthtest.Role(stack, "Trainer")
	shared.GrantRead(role, "images/")
	fmt.Println(*shared.BucketName(), shared.ArnForObjects("images/"))
	// Output: team-a-datasets arn:aws:s3:::team-a-datasets/images/*
}
