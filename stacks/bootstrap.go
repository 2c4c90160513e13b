package stacks

import (
	"path/filepath"

	"github.com/aws/constructs-go/constructs/v10"
	"github.com/hashicorp/terraform-cdk-go/cdktf"

	"github.com/acme/module-registry/app/config"
	"github.com/acme/module-registry/constructs/encryptionkey"
	"github.com/acme/module-registry/constructs/securebucket"
)

// BootstrapStackName is the id of the stack that creates the remote-state bucket.
const BootstrapStackName = "bootstrap"

// StateKeyAlias names the key that encrypts Terraform state.
const StateKeyAlias = "alias/acme-tfstate-key"

// StateStore is the bucket dev/prod keep Terraform state in, with its own key.
type StateStore struct {
	Key    *encryptionkey.Key
	Bucket *securebucket.Bucket
}

// NewStateStore adds the state bucket (a securebucket named cfg.StateBucket) and its key
// to stack, with outputs state_bucket and state_kms_key_arn.
func NewStateStore(stack cdktf.TerraformStack, cfg config.Config) *StateStore {
	key := encryptionkey.New(stack, "StateKey", &encryptionkey.Props{
		Alias:       StateKeyAlias,
		Description: "Encrypts the registry's Terraform state",
	})
	bucket := securebucket.New(stack, "State", &securebucket.Props{BucketName: cfg.StateBucket, EncryptionKey: key})
	output(stack, "state_bucket", bucket.BucketName(), "Bucket holding Terraform state (ACME_STATE_BUCKET)")
	output(stack, "state_kms_key_arn", key.KeyArn(), "Key encrypting Terraform state (ACME_STATE_KMS_KEY_ARN)")
	return &StateStore{Key: key, Bucket: bucket}
}

// NewBootstrap creates the bootstrap stack of a dev/prod environment: the state store,
// itself kept in a local state file (.run/state/bootstrap-<env>.tfstate), since the
// bucket it creates cannot hold its own state before it exists.
func NewBootstrap(scope constructs.Construct, cfg config.Config) *StateStore {
	path, err := filepath.Abs(filepath.Join(config.DefaultLocalStateDir, "bootstrap-"+string(cfg.Environment)+".tfstate"))
	if err != nil {
		panic(err) // only when the working directory is gone
	}
	return NewStateStore(newStack(scope, BootstrapStackName, cfg, path), cfg)
}
