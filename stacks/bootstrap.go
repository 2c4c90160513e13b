package stacks

import (
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/hashicorp/terraform-cdk-go/cdktf"

	"github.com/acme/module-registry/constructs/accesslogs"
	"github.com/acme/module-registry/constructs/encryptionkey"
	"github.com/acme/module-registry/constructs/removal"
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
	Key        *encryptionkey.Key
	Bucket     *securebucket.Bucket
	AccessLogs *accesslogs.Bucket
}

// StateAccessLogsSuffix is appended to the state bucket's name to name the bucket its
// server access logs go to.
const StateAccessLogsSuffix = "-access-logs"

// StateStoreProps configure the state store.
type StateStoreProps struct {
	// BucketName names the state bucket. Required.
	BucketName string
	// RemovalPolicy removal.Destroy lets destroy delete the state bucket and its access
	// logs with the objects they hold; for test stacks only. Default: removal.Retain.
	RemovalPolicy removal.Policy
}

// NewStateStore adds the state bucket (a securebucket), its key and the bucket its
// access is logged to ("<bucket name>-access-logs") to stack, with outputs state_bucket,
// state_kms_key_arn and state_access_logs_bucket.
func NewStateStore(stack cdktf.TerraformStack, p StateStoreProps) *StateStore {
	key := encryptionkey.New(stack, "StateKey", &encryptionkey.Props{
		Alias:       StateKeyAlias,
		Description: "Encrypts the registry's Terraform state",
	})
	// Every read and write of the state is logged: it holds the deployment's secrets'
	// ARNs and everything Terraform knows.
	logs := accesslogs.New(stack, accesslogs.DefaultID, &accesslogs.Props{
		BucketName: p.BucketName + StateAccessLogsSuffix, RemovalPolicy: p.RemovalPolicy,
	})
	bucket := securebucket.New(stack, "State", &securebucket.Props{
		BucketName: p.BucketName, EncryptionKey: key, AccessLogs: logs, RemovalPolicy: p.RemovalPolicy,
	})
	output(stack, "state_bucket", bucket.BucketName(), "Bucket holding Terraform state (ACME_STATE_BUCKET)")
	output(stack, "state_kms_key_arn", key.KeyArn(), "Key encrypting Terraform state (ACME_STATE_KMS_KEY_ARN)")
	output(stack, "state_access_logs_bucket", logs.BucketName(), "Bucket the state bucket's access is logged to")
	return &StateStore{Key: key, Bucket: bucket, AccessLogs: logs}
}

// NewAccountBaseline adds what the account as a whole must have: S3 public access
// blocked account-wide (Security Hub S3.1), so no bucket of any stack can be made public.
// One stack per account holds it: the bootstrap stack.
func NewAccountBaseline(stack cdktf.TerraformStack) {
	securebucket.BlockPublicAccessAccountWide(stack, "AccountPublicAccessBlock")
}

// NewBootstrap creates the bootstrap stack: the account baseline and the state store,
// itself kept in a local state file.
func NewBootstrap(scope constructs.Construct, p BootstrapProps) *StateStore {
	stack := NewBase(scope, BootstrapStackName, p.BaseProps)
	NewAccountBaseline(stack)
	return NewStateStore(stack, StateStoreProps{BucketName: p.StateBucket})
}
