package securebucket_test

import (
	"github.com/aws/jsii-runtime-go"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/iamrole"
	"github.com/hashicorp/terraform-cdk-go/cdktf"

	"github.com/acme/module-registry/constructs/encryptionkey"
	"github.com/acme/module-registry/constructs/securebucket"
)

// A second team's bucket under a key it already has: everything secure by default, objects
// moved to GLACIER after 90 days, and a role that may read and write one prefix only.
func ExampleNew() {
	app := cdktf.NewApp(nil)
	stack := cdktf.NewTerraformStack(app, jsii.String("team-b"))

	key := encryptionkey.FromKeyArn(stack, "SharedKey", "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab")
	bucket := securebucket.New(stack, "Models", &securebucket.Props{
		BucketName:    "team-b-models",
		EncryptionKey: key,
		Transitions:   []securebucket.Transition{{Days: 90, StorageClass: "GLACIER"}},
	})
	role := iamrole.NewIamRole(stack, jsii.String("Trainer"), &iamrole.IamRoleConfig{AssumeRolePolicy: jsii.String("{}")})
	bucket.GrantReadWrite(role, "models/")
}
