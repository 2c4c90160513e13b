// Package stacks composes constructs into deployable stacks. Stacks hold no resource
// logic: they choose constructs, wire them together and declare outputs. Each takes typed
// props; the app (package app) maps its validated configuration onto them.
package stacks

import (
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/provider"
	"github.com/hashicorp/terraform-cdk-go/cdktf"

	"github.com/acme/module-registry/constructs/compliance"
)

// AWSProviderConstraint accepts every 5.x provider from the one the bindings were
// generated for; the bindings alone would pin exactly 5.88.0.
const AWSProviderConstraint = ">= 5.88.0, < 6.0.0"

// BaseProps configure the provider and the state backend a stack starts from.
type BaseProps struct {
	// Environment names the deployment (local, dev, prod) in the Environment tag of every
	// resource. Required.
	Environment string
	// Region is the AWS region. Required.
	Region string
	// AccountID is the only account the provider may deploy to. Required unless Emulator.
	AccountID string
	// Emulator is the endpoint of a local AWS emulator: the provider sends every call
	// there with fake credentials and skips the checks real AWS needs. Terraform finds
	// the endpoint in its environment (see EmulatorEnv), not in the stack. Default: ""
	// (AWS).
	Emulator string
	// State is where Terraform keeps the stack's state. Required.
	State State
}

// State is a stack's backend: a local file, or an object in an S3 bucket locked with
// Terraform's native lockfile.
type State struct {
	// LocalFile is the absolute path of a local state file; when set the S3 fields are
	// unused.
	LocalFile string
	// Bucket and Key locate the state object in S3.
	Bucket, Key string
	// KMSKeyArn is the state bucket's key; "" sends no encryption header, so the bucket's
	// default SSE-KMS applies.
	KMSKeyArn string
}

// EmulatorEndpointVar is the variable of Terraform's environment in which the provider of
// a local stack finds the emulator (the SDK's global endpoint override, for every
// service). The provider's endpoints block would say the same inside the stack, but
// provider 5.x validates all ~300 attributes of that block each time it is configured:
// about 10 s of CPU per plan, apply or destroy, three times what the rest of a small
// stack's apply costs (test/bench/provider.sh).
const EmulatorEndpointVar = "AWS_ENDPOINT_URL"

// EmulatorEnv is what Terraform's environment needs for a local stack on the emulator
// at endpoint (BaseProps.Emulator). Without it the provider would send the stack's
// fake credentials to AWS itself, and fail on its first call (the account id lookup).
func EmulatorEnv(endpoint string) map[string]string {
	return map[string]string{EmulatorEndpointVar: endpoint}
}

// IsLocal reports whether p targets the emulator.
func (p BaseProps) IsLocal() bool { return p.Emulator != "" }

// NewBase creates a stack wired for p: the AWS provider (pointed at the emulator when
// p.Emulator is set, with Terraform run in EmulatorEnv), the state backend, the relaxed provider constraint and the
// compliance aspect. Every stack, including the single-construct stacks of the tests,
// starts here.
func NewBase(scope constructs.Construct, id string, p BaseProps) cdktf.TerraformStack {
	stack := cdktf.NewTerraformStack(scope, jsii.String(id))
	// Every stack must hold to the security invariants; synth fails listing each breach.
	// Stacks on the emulator are torn down whole and serve no TLS: the waivers say so.
	opts := compliance.Options{}
	if p.IsLocal() {
		opts.Waivers = EmulatorWaivers
	}
	compliance.Apply(stack, opts)
	pc := &provider.AwsProviderConfig{
		Region: jsii.String(p.Region),
		DefaultTags: &[]*provider.AwsProviderDefaultTags{{Tags: &map[string]*string{
			"Project":     jsii.String("acme-module-registry"),
			"Environment": jsii.String(p.Environment),
			"ManagedBy":   jsii.String("cdktf"),
		}}},
	}
	if p.IsLocal() {
		// The emulator accepts any credentials; credential validation and instance
		// metadata lookups would only slow every run down or fail. The account id is
		// still requested (the emulator's STS answers it): without it the provider
		// prefixes every security-group reference with an account and never converges.
		pc.AccessKey = jsii.String("test")
		pc.SecretKey = jsii.String("test")
		pc.SkipCredentialsValidation = jsii.Bool(true)
		pc.SkipMetadataApiCheck = jsii.String("true")
		pc.S3UsePathStyle = jsii.Bool(true)
		// S3 Control prefixes the account id to the endpoint's host
		// (123456789012.127.0.0.1:PORT), which no resolver knows. Those requests go
		// through the emulator as an HTTP proxy instead, which serves them as its own
		// (the client never proxies loopback addresses, so nothing else does); there is
		// no HTTPS to proxy.
		pc.HttpProxy = jsii.String(p.Emulator)
		pc.HttpsProxy = jsii.String("")
	} else {
		// Refuse to run against any account but the configured one.
		pc.AllowedAccountIds = jsii.Strings(p.AccountID)
	}
	if s := p.State; s.LocalFile != "" {
		cdktf.NewLocalBackend(stack, &cdktf.LocalBackendConfig{Path: jsii.String(s.LocalFile)})
	} else {
		bc := &cdktf.S3BackendConfig{Bucket: jsii.String(s.Bucket), Key: jsii.String(s.Key), Region: jsii.String(p.Region)}
		// The state bucket (see NewBootstrap) refuses any encryption but SSE-KMS under its
		// own key: name that key, or send no encryption header and let the bucket's default
		// apply. encrypt=true alone would ask for SSE-S3 and be refused.
		if s.KMSKeyArn != "" {
			bc.Encrypt = jsii.Bool(true)
			bc.KmsKeyId = jsii.String(s.KMSKeyArn)
		}
		cdktf.NewS3Backend(stack, bc)
		// Terraform >= 1.10 locks with a lock object next to the state; no DynamoDB table.
		stack.AddOverride(jsii.String("terraform.backend.s3.use_lockfile"), true)
	}
	provider.NewAwsProvider(stack, jsii.String("aws"), pc)
	stack.AddOverride(jsii.String("terraform.required_providers.aws.version"), jsii.String(AWSProviderConstraint))
	stack.Node().AddValidation(&propsCheck{p})
	return stack
}

// propsCheck reports base props that would synthesize a stack Terraform cannot use.
type propsCheck struct{ BaseProps }

// Validate implements constructs.IValidation.
func (p *propsCheck) Validate() *[]*string {
	var errs []string
	if p.Environment == "" {
		errs = append(errs, "BaseProps.Environment: is required")
	}
	if p.Region == "" {
		errs = append(errs, "BaseProps.Region: is required")
	}
	if p.Emulator == "" && p.AccountID == "" {
		errs = append(errs, "BaseProps.AccountID: is required outside the emulator (the provider refuses every other account)")
	}
	if p.State.LocalFile == "" && (p.State.Bucket == "" || p.State.Key == "") {
		errs = append(errs, "BaseProps.State: needs LocalFile, or Bucket and Key")
	}
	return jsii.Strings(errs...)
}

// EmulatorWaivers are what a stack on the emulator is exempt from, each with its reason;
// dev and prod have none. Local stacks are torn down whole (removal.Destroy lifts
// deletion protection, so make down and the tests leave nothing behind) and serve plain
// HTTP (the emulator issues no certificates).
var EmulatorWaivers = []compliance.Waiver{
	{Address: "aws_dynamodb_table.", Rule: compliance.RuleDynamoDBDeletionProtection,
		Why: "local stacks on the emulator are destroyed whole after every run; removal.Destroy lifts deletion protection so they can be"},
	{Address: "aws_lb.", Rule: compliance.RuleELBDeletionProtection,
		Why: "local stacks on the emulator are destroyed whole after every run; removal.Destroy lifts deletion protection so they can be"},
	{Address: "aws_lb_listener.", Rule: compliance.RuleELBRedirectHTTP,
		Why: "the emulator issues no certificates, so local stacks serve plain HTTP (AllowPlainHTTP) to the local process only"},
}
