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
)

// AWSProviderConstraint accepts every 5.x provider from the one the bindings were
// generated for; the bindings alone would pin exactly 5.88.0.
const AWSProviderConstraint = ">= 5.88.0, < 6.0.0"

// NewBase creates a stack wired for cfg's environment: the AWS provider (pointed at the
// emulator for local), the state backend and the relaxed provider constraint. Every
// stack, including the single-construct stacks of the tests, starts here.
func NewBase(scope constructs.Construct, id string, cfg config.Config) cdktf.TerraformStack {
	stack := cdktf.NewTerraformStack(scope, jsii.String(id))
	pc := &provider.AwsProviderConfig{
		Region: jsii.String(cfg.Region),
		DefaultTags: &[]*provider.AwsProviderDefaultTags{{Tags: &map[string]*string{
			"Project":     jsii.String("acme-module-registry"),
			"Environment": jsii.String(string(cfg.Environment)),
			"ManagedBy":   jsii.String("cdktf"),
		}}},
	}
	if cfg.IsLocal() {
		// The emulator accepts any credentials; account checks and instance metadata
		// lookups would only slow every run down or fail.
		pc.AccessKey = jsii.String("test")
		pc.SecretKey = jsii.String("test")
		pc.SkipCredentialsValidation = jsii.Bool(true)
		pc.SkipMetadataApiCheck = jsii.String("true")
		pc.SkipRequestingAccountId = jsii.Bool(true)
		pc.S3UsePathStyle = jsii.Bool(true)
		pc.Endpoints = &[]*provider.AwsProviderEndpoints{emulatorEndpoints(cfg.Endpoint)}
		cdktf.NewLocalBackend(stack, &cdktf.LocalBackendConfig{
			Path: jsii.String(filepath.Join(cfg.StateDir, id+".tfstate")),
		})
	} else {
		// Refuse to run against any account but the configured one.
		pc.AllowedAccountIds = jsii.Strings(cfg.AccountID)
		cdktf.NewS3Backend(stack, &cdktf.S3BackendConfig{
			Bucket:  jsii.String(cfg.StateBucket),
			Key:     jsii.String(string(cfg.Environment) + "/" + id + ".tfstate"),
			Region:  jsii.String(cfg.Region),
			Encrypt: jsii.Bool(true),
		})
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
