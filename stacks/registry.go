package stacks

import (
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/hashicorp/terraform-cdk-go/cdktf"

	"github.com/acme/module-registry/app/config"
	"github.com/acme/module-registry/constructs/encryptionkey"
	"github.com/acme/module-registry/constructs/securebucket"
)

// RegistryStackName is the id of the registry stack in cdktf.out/stacks.
const RegistryStackName = "registry"

// Registry is the deployed registry platform.
type Registry struct {
	Stack     cdktf.TerraformStack
	Key       *encryptionkey.Key
	Artifacts *securebucket.Bucket
}

// NewRegistry composes the registry platform for cfg.
func NewRegistry(scope constructs.Construct, cfg config.Config) *Registry {
	stack := NewBase(scope, RegistryStackName, cfg)
	key := encryptionkey.New(stack, "ProjectKey", &encryptionkey.Props{Alias: cfg.KeyAlias})
	artifacts := securebucket.New(stack, "Artifacts", &securebucket.Props{
		BucketName:    cfg.ArtifactsBucket,
		EncryptionKey: key,
		// Only the emulator's buckets may be destroyed with objects still in them.
		ForceDestroy: cfg.IsLocal(),
	})
	output(stack, "kms_key_arn", key.KeyArn(), "ARN of the project KMS key")
	output(stack, "kms_key_alias", key.AliasName(), "Alias of the project KMS key")
	output(stack, "artifacts_bucket", artifacts.BucketName(), "Name of the SSE-KMS artifacts bucket")
	return &Registry{Stack: stack, Key: key, Artifacts: artifacts}
}

func output(stack cdktf.TerraformStack, id string, value *string, description string) {
	cdktf.NewTerraformOutput(stack, jsii.String(id), &cdktf.TerraformOutputConfig{
		Value: value, Description: jsii.String(description), StaticId: jsii.Bool(true),
	})
}
