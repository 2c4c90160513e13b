// Package config turns defaults and environment variables into the validated settings
// every stack is built from. Nothing prompts: each setting has the seed's default and an
// ACME_* variable that overrides it.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/acme/module-registry/constructs/encryptionkey"
	"github.com/acme/module-registry/constructs/githuboidc"
	"github.com/acme/module-registry/constructs/secretrotation"
	"github.com/acme/module-registry/constructs/securebucket"
)

// Environment names a deployment target.
type Environment string

const (
	// Local points the AWS provider at the emulator and keeps state in a local file.
	Local Environment = "local"
	// Dev and Prod talk to real AWS and keep state in S3 with Terraform's native lockfile.
	Dev  Environment = "dev"
	Prod Environment = "prod"
)

// Defaults from the security guide's variables.tf.
const (
	DefaultRegion          = "us-east-1"
	DefaultAccountID       = "838693051036"
	DefaultArtifactsBucket = "pkg-artifacts"
	DefaultKeyAlias        = "alias/acme-main-key"
	DefaultLocalEndpoint   = "http://127.0.0.1:5000"
	DefaultLocalStateDir   = ".run/state"
	DefaultImageLayout     = ".run/image"
	// DefaultIngressCidrs: the registry is internal; only private address space reaches
	// its load balancer unless configured otherwise.
	DefaultIngressCidrs = "10.0.0.0/8"
	// DefaultRotationZip is where synth builds the secrets' rotation function.
	DefaultRotationZip = ".run/lambda/rotate-secret.zip"
	// DefaultRotationDays is how often the secrets rotate.
	DefaultRotationDays = secretrotation.DefaultRotationDays
	// DefaultGitHubRepository is the repository whose workflows deploy the registry.
	DefaultGitHubRepository = "acme/module-registry"
	// DefaultGitHubDeployRef is the only ref the deploy role trusts by default.
	DefaultGitHubDeployRef = githuboidc.DefaultDeployRef
)

// Config is the complete, validated configuration of one deployment.
type Config struct {
	// Environment is local, dev or prod (ACME_ENV, default local).
	Environment Environment
	// Region is the AWS region (ACME_REGION, default us-east-1).
	Region string
	// AccountID is the 12-digit account deployed to (ACME_ACCOUNT_ID, default
	// 838693051036). In dev/prod the provider refuses any other account.
	AccountID string
	// ArtifactsBucket names the package bucket (ACME_ARTIFACTS_BUCKET, default pkg-artifacts).
	ArtifactsBucket string
	// KeyAlias names the project key (ACME_KMS_KEY_ALIAS, default alias/acme-main-key).
	KeyAlias string
	// Endpoint is the emulator URL every AWS service is sent to; local only
	// (ACME_AWS_ENDPOINT, default http://127.0.0.1:5000).
	Endpoint string
	// StateDir holds local state files; local only (ACME_STATE_DIR, default .run/state,
	// made absolute so Terraform finds it from any working directory).
	StateDir string
	// StateBucket holds remote state for dev/prod (ACME_STATE_BUCKET, default
	// acme-tfstate-<account>-<region>).
	StateBucket string
	// StateKMSKeyArn is the state bucket's key (ACME_STATE_KMS_KEY_ARN, the bootstrap
	// stack's state_kms_key_arn output); dev/prod only. Unset, state objects are written
	// without an encryption header and the bucket's default SSE-KMS applies.
	StateKMSKeyArn string
	// ImageLayout is where the runtime's container image is built (an OCI layout) before
	// synth (ACME_IMAGE_LAYOUT, default .run/image, made absolute).
	ImageLayout string
	// IngressCidrs may reach the service's load balancer (ACME_INGRESS_CIDRS,
	// comma-separated, default 10.0.0.0/8).
	IngressCidrs []string
	// InternetFacing puts the load balancer in public subnets (ACME_INTERNET_FACING=true);
	// default false: an internal load balancer in the private subnets.
	InternetFacing bool
	// CertificateArn is the ACM certificate of the HTTPS listener (ACME_CERTIFICATE_ARN);
	// required in dev/prod. Local serves plain HTTP.
	CertificateArn string
	// RotationZip is where the secrets' rotation function is built before synth
	// (ACME_ROTATION_ZIP, default .run/lambda/rotate-secret.zip, made absolute).
	RotationZip string
	// RotationDays is how often the JWT secret and the admin password rotate
	// (ACME_ROTATION_DAYS, 1-30, default 30).
	RotationDays int
	// GitHubRepository is the "<owner>/<name>" whose workflows may deploy (the deploy
	// role) and plan (the plan role) through OIDC; dev/prod (ACME_GITHUB_REPOSITORY,
	// default acme/module-registry).
	GitHubRepository string
	// GitHubDeployRef is the one ref the deploy role trusts (ACME_GITHUB_DEPLOY_REF,
	// default refs/heads/main, unset when GitHubDeployEnvironment is set).
	GitHubDeployRef string
	// GitHubDeployEnvironment, when set, is the one GitHub environment the deploy role
	// trusts instead of a ref (ACME_GITHUB_DEPLOY_ENVIRONMENT, default none).
	GitHubDeployEnvironment string
	// GitHubOIDCProviderArn is the account's existing GitHub OIDC provider
	// (ACME_GITHUB_OIDC_PROVIDER_ARN, default none: the governance stack creates it).
	GitHubOIDCProviderArn string
	// CIPermissionsBoundaryArn caps the CI roles (ACME_CI_PERMISSIONS_BOUNDARY_ARN,
	// default none: githuboidc's default).
	CIPermissionsBoundaryArn string
}

// Variables lists every environment variable Load reads, for documentation and tests.
var Variables = []string{
	"ACME_ENV", "ACME_REGION", "ACME_ACCOUNT_ID", "ACME_ARTIFACTS_BUCKET",
	"ACME_KMS_KEY_ALIAS", "ACME_AWS_ENDPOINT", "ACME_STATE_DIR", "ACME_STATE_BUCKET", "ACME_STATE_KMS_KEY_ARN",
	"ACME_IMAGE_LAYOUT", "ACME_INGRESS_CIDRS", "ACME_INTERNET_FACING", "ACME_CERTIFICATE_ARN",
	"ACME_ROTATION_ZIP", "ACME_ROTATION_DAYS", "ACME_GITHUB_REPOSITORY", "ACME_GITHUB_DEPLOY_REF",
	"ACME_GITHUB_DEPLOY_ENVIRONMENT", "ACME_GITHUB_OIDC_PROVIDER_ARN", "ACME_CI_PERMISSIONS_BOUNDARY_ARN",
}

// FromEnv loads the configuration from the process environment.
func FromEnv() (Config, error) { return Load(os.Getenv) }

// Load builds a Config from defaults overridden by getenv, and validates it. The error
// lists every problem found, one per line, each naming its variable.
func Load(getenv func(string) string) (Config, error) {
	get := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	c := Config{
		Environment:     Environment(get("ACME_ENV", string(Local))),
		Region:          get("ACME_REGION", DefaultRegion),
		AccountID:       get("ACME_ACCOUNT_ID", DefaultAccountID),
		ArtifactsBucket: get("ACME_ARTIFACTS_BUCKET", DefaultArtifactsBucket),
		KeyAlias:        get("ACME_KMS_KEY_ALIAS", DefaultKeyAlias),
		Endpoint:        getenv("ACME_AWS_ENDPOINT"),
		StateDir:        getenv("ACME_STATE_DIR"),
		StateBucket:     getenv("ACME_STATE_BUCKET"),
		StateKMSKeyArn:  getenv("ACME_STATE_KMS_KEY_ARN"),
		ImageLayout:     get("ACME_IMAGE_LAYOUT", DefaultImageLayout),
		CertificateArn:  getenv("ACME_CERTIFICATE_ARN"),
		RotationZip:     get("ACME_ROTATION_ZIP", DefaultRotationZip),

		GitHubRepository:         get("ACME_GITHUB_REPOSITORY", DefaultGitHubRepository),
		GitHubDeployRef:          strings.TrimSpace(getenv("ACME_GITHUB_DEPLOY_REF")),
		GitHubDeployEnvironment:  strings.TrimSpace(getenv("ACME_GITHUB_DEPLOY_ENVIRONMENT")),
		GitHubOIDCProviderArn:    strings.TrimSpace(getenv("ACME_GITHUB_OIDC_PROVIDER_ARN")),
		CIPermissionsBoundaryArn: strings.TrimSpace(getenv("ACME_CI_PERMISSIONS_BOUNDARY_ARN")),
	}
	if c.GitHubDeployEnvironment == "" && c.GitHubDeployRef == "" {
		c.GitHubDeployRef = DefaultGitHubDeployRef
	}
	var badDays error
	if c.RotationDays, badDays = strconv.Atoi(get("ACME_ROTATION_DAYS", strconv.Itoa(DefaultRotationDays))); badDays != nil || c.RotationDays == 0 {
		badDays = fmt.Errorf("config: ACME_ROTATION_DAYS: %q is not a number of days between 1 and %d", get("ACME_ROTATION_DAYS", ""), secretrotation.MaxRotationDays)
	}
	for _, cidr := range strings.Split(get("ACME_INGRESS_CIDRS", DefaultIngressCidrs), ",") {
		if cidr = strings.TrimSpace(cidr); cidr != "" {
			c.IngressCidrs = append(c.IngressCidrs, cidr)
		}
	}
	var badBool error
	if v := get("ACME_INTERNET_FACING", "false"); v == "true" || v == "false" {
		c.InternetFacing = v == "true"
	} else {
		badBool = fmt.Errorf("config: ACME_INTERNET_FACING: %q is not true or false", v)
	}
	if abs, err := filepath.Abs(c.ImageLayout); err == nil {
		c.ImageLayout = abs
	}
	if abs, err := filepath.Abs(c.RotationZip); err == nil {
		c.RotationZip = abs
	}
	if c.Environment == Local {
		if c.Endpoint == "" {
			c.Endpoint = DefaultLocalEndpoint
		}
		if c.StateDir == "" {
			c.StateDir = DefaultLocalStateDir
		}
	} else if c.StateBucket == "" {
		c.StateBucket = fmt.Sprintf("acme-tfstate-%s-%s", c.AccountID, c.Region)
	}
	if c.StateDir != "" {
		abs, err := filepath.Abs(c.StateDir)
		if err != nil {
			return c, fmt.Errorf("config: ACME_STATE_DIR: %w", err)
		}
		c.StateDir = abs
	}
	return c, errors.Join(badBool, badDays, c.Validate())
}

var (
	regionPattern  = regexp.MustCompile(`^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]$`)
	accountPattern = regexp.MustCompile(`^[0-9]{12}$`)
	certArnPattern = regexp.MustCompile(`^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/[A-Za-z0-9-]+$`)
	keyArnPattern  = regexp.MustCompile(`^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$`)
)

// Validate reports every invalid setting at once.
func (c Config) Validate() error {
	var errs []error
	bad := func(variable, format string, args ...any) {
		errs = append(errs, fmt.Errorf("config: %s: %s", variable, fmt.Sprintf(format, args...)))
	}
	switch c.Environment {
	case Local, Dev, Prod:
	default:
		bad("ACME_ENV", "%q is not an environment; use local, dev or prod", c.Environment)
	}
	if !regionPattern.MatchString(c.Region) {
		bad("ACME_REGION", "%q is not an AWS region name such as us-east-1", c.Region)
	}
	if !accountPattern.MatchString(c.AccountID) {
		bad("ACME_ACCOUNT_ID", "%q is not a 12-digit AWS account id", c.AccountID)
	}
	if err := securebucket.ValidateBucketName(c.ArtifactsBucket); err != nil {
		bad("ACME_ARTIFACTS_BUCKET", "%v", err)
	}
	if err := encryptionkey.ValidateAlias(c.KeyAlias); err != nil {
		bad("ACME_KMS_KEY_ALIAS", "%v", err)
	}
	if len(c.IngressCidrs) == 0 {
		bad("ACME_INGRESS_CIDRS", "names no CIDR; give at least one, e.g. 10.0.0.0/8")
	}
	for _, cidr := range c.IngressCidrs {
		if _, _, err := net.ParseCIDR(cidr); err != nil {
			bad("ACME_INGRESS_CIDRS", "%q is not a CIDR such as 10.0.0.0/8", cidr)
		}
	}
	if c.CertificateArn != "" && !certArnPattern.MatchString(c.CertificateArn) {
		bad("ACME_CERTIFICATE_ARN", "%q is not an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<id>)", c.CertificateArn)
	}
	// 0 leaves the schedule to secretrotation's default (Load always sets a value).
	if c.RotationDays < 0 || c.RotationDays > secretrotation.MaxRotationDays {
		bad("ACME_ROTATION_DAYS", "%d is not between 1 and %d days", c.RotationDays, secretrotation.MaxRotationDays)
	}
	if c.Environment != Local {
		errs = append(errs, c.validateGitHub()...)
	}
	switch c.Environment {
	case Local:
		if u, err := url.Parse(c.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("ACME_AWS_ENDPOINT", "%q is not an http(s) URL of the emulator", c.Endpoint)
		}
		if c.StateBucket != "" {
			bad("ACME_STATE_BUCKET", "local keeps state in ACME_STATE_DIR; unset ACME_STATE_BUCKET")
		}
		if c.StateKMSKeyArn != "" {
			bad("ACME_STATE_KMS_KEY_ARN", "local keeps state in ACME_STATE_DIR; unset ACME_STATE_KMS_KEY_ARN")
		}
	case Dev, Prod:
		if c.Endpoint != "" {
			bad("ACME_AWS_ENDPOINT", "endpoint overrides are for local only; unset it for %s", c.Environment)
		}
		if c.StateDir != "" {
			bad("ACME_STATE_DIR", "%s keeps state in the S3 bucket ACME_STATE_BUCKET; unset ACME_STATE_DIR", c.Environment)
		}
		if err := securebucket.ValidateBucketName(c.StateBucket); err != nil {
			bad("ACME_STATE_BUCKET", "%v", err)
		}
		if c.CertificateArn == "" {
			bad("ACME_CERTIFICATE_ARN", "is required in %s: the load balancer serves HTTPS only", c.Environment)
		}
		if c.StateKMSKeyArn != "" && !keyArnPattern.MatchString(c.StateKMSKeyArn) {
			bad("ACME_STATE_KMS_KEY_ARN", "%q is not a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)", c.StateKMSKeyArn)
		}
	}
	return errors.Join(errs...)
}

// validateGitHub checks the CI settings, which only dev and prod use.
func (c Config) validateGitHub() []error {
	var errs []error
	bad := func(variable, format string, args ...any) {
		errs = append(errs, fmt.Errorf("config: %s: %s", variable, fmt.Sprintf(format, args...)))
	}
	if err := githuboidc.ValidateRepository(c.GitHubRepository); err != nil {
		bad("ACME_GITHUB_REPOSITORY", "%v", err)
	}
	switch {
	case c.GitHubDeployRef != "" && c.GitHubDeployEnvironment != "":
		bad("ACME_GITHUB_DEPLOY_REF", "is %q but ACME_GITHUB_DEPLOY_ENVIRONMENT is %q; the deploy role trusts one or the other", c.GitHubDeployRef, c.GitHubDeployEnvironment)
	case c.GitHubDeployEnvironment != "":
		if err := githuboidc.ValidateEnvironment(c.GitHubDeployEnvironment); err != nil {
			bad("ACME_GITHUB_DEPLOY_ENVIRONMENT", "%v", err)
		}
	default:
		if err := githuboidc.ValidateRef(c.GitHubDeployRef); err != nil {
			bad("ACME_GITHUB_DEPLOY_REF", "%v", err)
		}
	}
	if c.GitHubOIDCProviderArn != "" {
		if err := githuboidc.ValidateProviderArn(c.GitHubOIDCProviderArn); err != nil {
			bad("ACME_GITHUB_OIDC_PROVIDER_ARN", "%v", err)
		}
	}
	if c.CIPermissionsBoundaryArn != "" {
		if err := githuboidc.ValidatePolicyArn(c.CIPermissionsBoundaryArn); err != nil {
			bad("ACME_CI_PERMISSIONS_BOUNDARY_ARN", "%v", err)
		}
	}
	return errs
}

// IsLocal reports whether the configuration targets the emulator.
func (c Config) IsLocal() bool { return c.Environment == Local }
