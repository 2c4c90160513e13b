// Package stacks composes constructs into deployable stacks. Stacks hold no resource
// logic: they choose constructs, wire them together and declare outputs.
package stacks

import (
	"path/filepath"

	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/provider"
	"github.com/hashicorp/terraform-cdk-go/cdktf"

	"github.com/acme/module-registry/app/config"
	"github.com/acme/module-registry/constructs/compliance"
)

// AWSProviderConstraint accepts every 5.x provider from the one the bindings were
// generated for; the bindings alone would pin exactly 5.88.0.
const AWSProviderConstraint = ">= 5.88.0, < 6.0.0"

// NewBase creates a stack wired for cfg's environment: the AWS provider (pointed at the
// emulator for local), the state backend, the relaxed provider constraint and the
// compliance aspect. Every stack, including the single-construct stacks of the tests,
// starts here.
func NewBase(scope constructs.Construct, id string, cfg config.Config) cdktf.TerraformStack {
	if cfg.IsLocal() {
		return newStack(scope, id, cfg, filepath.Join(cfg.StateDir, id+".tfstate"))
	}
	return newStack(scope, id, cfg, "")
}

// newStack creates the stack with its provider; state goes to localState when set, else
// to the S3 state bucket.
func newStack(scope constructs.Construct, id string, cfg config.Config, localState string) cdktf.TerraformStack {
	stack := cdktf.NewTerraformStack(scope, jsii.String(id))
	// Every stack must hold to the security invariants; synth fails listing each breach.
	compliance.Apply(stack, compliance.Options{})
	pc := &provider.AwsProviderConfig{
		Region: jsii.String(cfg.Region),
		DefaultTags: &[]*provider.AwsProviderDefaultTags{{Tags: &map[string]*string{
			"Project":     jsii.String("acme-module-registry"),
			"Environment": jsii.String(string(cfg.Environment)),
			"ManagedBy":   jsii.String("cdktf"),
		}}},
	}
	if cfg.IsLocal() {
		// The emulator accepts any credentials; credential validation and instance
		// metadata lookups would only slow every run down or fail. The account id is
		// still requested (the emulator's STS answers it): without it the provider
		// prefixes every security-group reference with an account and never converges.
		pc.AccessKey = jsii.String("test")
		pc.SecretKey = jsii.String("test")
		pc.SkipCredentialsValidation = jsii.Bool(true)
		pc.SkipMetadataApiCheck = jsii.String("true")
		pc.S3UsePathStyle = jsii.Bool(true)
		pc.Endpoints = &[]*provider.AwsProviderEndpoints{emulatorEndpoints(cfg.Endpoint)}
	} else {
		// Refuse to run against any account but the configured one.
		pc.AllowedAccountIds = jsii.Strings(cfg.AccountID)
	}
	if localState != "" {
		cdktf.NewLocalBackend(stack, &cdktf.LocalBackendConfig{Path: jsii.String(localState)})
	} else {
		bc := &cdktf.S3BackendConfig{
			Bucket: jsii.String(cfg.StateBucket),
			Key:    jsii.String(string(cfg.Environment) + "/" + id + ".tfstate"),
			Region: jsii.String(cfg.Region),
		}
		// The state bucket (see NewBootstrap) refuses any encryption but SSE-KMS under its
		// own key: name that key, or send no encryption header and let the bucket's default
		// apply. encrypt=true alone would ask for SSE-S3 and be refused.
		if cfg.StateKMSKeyArn != "" {
			bc.Encrypt = jsii.Bool(true)
			bc.KmsKeyId = jsii.String(cfg.StateKMSKeyArn)
		}
		cdktf.NewS3Backend(stack, bc)
		// Terraform >= 1.10 locks with a lock object next to the state; no DynamoDB table.
		stack.AddOverride(jsii.String("terraform.backend.s3.use_lockfile"), true)
	}
	provider.NewAwsProvider(stack, jsii.String("aws"), pc)
	stack.AddOverride(jsii.String("terraform.required_providers.aws.version"), jsii.String(AWSProviderConstraint))
	return stack
}

func emulatorEndpoints(url string) *provider.AwsProviderEndpoints {
	u := jsii.String(url)
	return &provider.AwsProviderEndpoints{
		Appautoscaling: u, Cloudtrail: u, Cloudwatch: u, Logs: u, Dynamodb: u, Ec2: u,
		Ecr: u, Ecs: u, Elbv2: u, Iam: u, Kms: u, S3: u, Secretsmanager: u, Sts: u, Wafv2: u,
	}
}
