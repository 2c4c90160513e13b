package securebucket_test

import (
	"fmt"

	"github.com/aws/jsii-runtime-go"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/iamrole"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/provider"
	"github.com/hashicorp/terraform-cdk-go/cdktf"

	"github.com/acme/module-registry/constructs/encryptionkey"
	"github.com/acme/module-registry/constructs/internal/synthtest"
	"github.com/acme/module-registry/constructs/securebucket"
)

// A second team's bucket under a key it already has: everything secure by default, objects
// moved to GLACIER after 90 days, and a role that may read and write one prefix only.
func ExampleNew() {
	app := cdktf.NewApp(nil)
	stack := cdktf.NewTerraformStack(app, jsii.String("team-b"))
	provider.NewAwsProvider(stack, jsii.String("aws"), &provider.AwsProviderConfig{Region: jsii.String("us-east-1")})

	key := encryptionkey.FromKeyArn(stack, "SharedKey", "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab")
	bucket := securebucket.New(stack, "Models", &securebucket.Props{
		BucketName:    "team-b-models",
		EncryptionKey: key,
		Transitions:   []securebucket.Transition{{Days: 90, StorageClass: "GLACIER"}},
	})
	role := iamrole.NewIamRole(stack, jsii.String("Trainer"), &iamrole.IamRoleConfig{AssumeRolePolicy: jsii.String("{}")})
	bucket.GrantReadWrite(role, "models/")

	synthtest.Print(stack, "aws_s3_bucket", "bucket", "force_destroy")
	synthtest.Print(stack, "aws_s3_bucket_public_access_block", "block_public_acls", "restrict_public_buckets")
	for _, st := range bucket.PolicyStatements() {
		fmt.Println(st.Sid, st.Effect, st.Actions)
	}
	// Output:
	// aws_s3_bucket bucket: "team-b-models"
	// aws_s3_bucket force_destroy: false
	// aws_s3_bucket_public_access_block block_public_acls: true
	// aws_s3_bucket_public_access_block restrict_public_buckets: true
	// DenyInsecureTransport Deny [s3:*]
	// DenyEncryptionOtherThanKms Deny [s3:PutObject]
	// DenyKmsKeysOtherThanProjectKey Deny [s3:PutObject]
}

// A bucket another team created: grant this stack's role read access to one prefix,
// with the same narrow statements as for a bucket the stack owns.
func ExampleFromBucketAttributes() {
	app := cdktf.NewApp(nil)
	stack := cdktf.NewTerraformStack(app, jsii.String("team-b"))
	provider.NewAwsProvider(stack, jsii.String("aws"), &provider.AwsProviderConfig{Region: jsii.String("us-east-1")})

	shared := securebucket.FromBucketAttributes(stack, "Datasets", securebucket.Attributes{
		BucketArn:     "arn:aws:s3:::team-a-datasets",
		EncryptionKey: encryptionkey.FromKeyArn(stack, "TeamAKey", "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"),
	})
	role := iamrole.NewIamRole(stack, jsii.String("Trainer"), &iamrole.IamRoleConfig{AssumeRolePolicy: jsii.String("{}")})
	shared.GrantRead(role, "images/")
	fmt.Println(*shared.BucketName(), shared.ArnForObjects("images/"))
	// Output: team-a-datasets arn:aws:s3:::team-a-datasets/images/*
}
