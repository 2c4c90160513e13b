package stacks

import (
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/hashicorp/terraform-cdk-go/cdktf"

	"github.com/acme/module-registry/constructs/encryptionkey"
	"github.com/acme/module-registry/constructs/securebucket"
)

// BootstrapStackName is the id of the stack that creates the remote-state bucket.
const BootstrapStackName = "bootstrap"

// StateKeyAlias names the key that encrypts Terraform state.
const StateKeyAlias = "alias/acme-tfstate-key"

// BootstrapProps configure the bootstrap stack of a dev/prod environment.
type BootstrapProps struct {
	// BaseProps is the provider and backend; the backend must be a local file, since the
	// bucket this stack creates cannot hold its own state before it exists.
	BaseProps
	// StateBucket names the bucket the environment's other stacks keep their state in.
	// Required.
	StateBucket string
}

// StateStore is the bucket dev/prod keep Terraform state in, with its own key.
type StateStore struct {
	Key    *encryptionkey.Key
	Bucket *securebucket.Bucket
}

// NewStateStore adds the state bucket (a securebucket named bucketName) and its key to
// stack, with outputs state_bucket and state_kms_key_arn.
func NewStateStore(stack cdktf.TerraformStack, bucketName string) *StateStore {
	key := encryptionkey.New(stack, "StateKey", &encryptionkey.Props{
		Alias:       StateKeyAlias,
		Description: "Encrypts the registry's Terraform state",
	})
	bucket := securebucket.New(stack, "State", &securebucket.Props{BucketName: bucketName, EncryptionKey: key})
	output(stack, "state_bucket", bucket.BucketName(), "Bucket holding Terraform state (ACME_STATE_BUCKET)")
	output(stack, "state_kms_key_arn", key.KeyArn(), "Key encrypting Terraform state (ACME_STATE_KMS_KEY_ARN)")
	return &StateStore{Key: key, Bucket: bucket}
}

// NewBootstrap creates the bootstrap stack: the state store, itself kept in a local state
// file.
func NewBootstrap(scope constructs.Construct, p BootstrapProps) *StateStore {
	return NewStateStore(NewBase(scope, BootstrapStackName, p.BaseProps), p.StateBucket)
}
