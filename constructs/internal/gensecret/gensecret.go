// Package gensecret is the core of the constructs holding a generated secret (jwtsecret,
// passwordsecret): a Secrets Manager secret under the project key whose JSON value
// Terraform generates at deploy and writes through a write-only argument (package
// writeonly), so the value never reaches Go, the synthesized JSON, the plan or the state.
// Both constructs get the same validation, attributes and grants from it.
package gensecret

import (
	"fmt"
	"hash/fnv"
	"regexp"

	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/secretsmanagersecret"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/secretsmanagersecretversion"

	"github.com/acme/module-registry/constructs/encryptionkey"
	"github.com/acme/module-registry/constructs/iampolicy"
	"github.com/acme/module-registry/constructs/internal/grant"
	"github.com/acme/module-registry/constructs/internal/validation"
	"github.com/acme/module-registry/constructs/internal/writeonly"
	"github.com/acme/module-registry/constructs/removal"
)

// DefaultRecoveryWindowDays is how long a deleted secret stays recoverable by default.
const DefaultRecoveryWindowDays = 7

// MaxLength is the longest value Secrets Manager's GetRandomPassword generates.
const MaxLength = 4096

// Props are the settings every generated secret has; the constructs copy theirs in.
type Props struct {
	EncryptionKey      encryptionkey.IKey
	SecretName         string
	Description        string
	RecoveryWindowDays int
	RemovalPolicy      removal.Policy
	Generation         int
}

// Spec is what a construct tells the core about its value.
type Spec struct {
	DefaultSecretName  string
	DefaultDescription string
	// Field is the JSON key of the generated characters; FieldProp names the prop that
	// chose it, or is "" when the construct fixes it.
	Field     string
	FieldProp string
	// Length is the number of generated letters and digits; LengthProp names its prop
	// and MinLength its lower bound (the upper one is MaxLength).
	Length     int
	LengthProp string
	MinLength  int
	// Value is the Terraform expression of the whole JSON value, given the reference to
	// the generated characters, to be written unquoted inside it.
	Value func(generated string) string
	// VersionInputs are the value's non-secret inputs: with Generation they decide
	// secret_string_wo_version, so changing any of them writes a fresh value.
	VersionInputs string
	// Subject names the secret in grant statement ids ("JwtSecret" -> "ReadJwtSecret").
	Subject string
}

// Core is the secret and the version Terraform writes at deploy.
type Core struct {
	props   Props
	spec    Spec
	secret  secretsmanagersecret.SecretsmanagerSecret
	version secretsmanagersecretversion.SecretsmanagerSecretVersion
	grants  *grant.Granter
}

// New creates the secret and its generated value under scope (the construct itself) and
// registers the shared validation; the construct adds its own checks to extra. It sets
// the stack's toolchain constraints (see writeonly.RandomPassword).
func New(scope constructs.Construct, p Props, spec Spec, extra func(*validation.Errors)) *Core {
	if p.SecretName == "" {
		p.SecretName = spec.DefaultSecretName
	}
	if p.Description == "" {
		p.Description = spec.DefaultDescription
	}
	if p.Generation == 0 {
		p.Generation = 1
	}
	c := &Core{props: p, spec: spec, grants: grant.New(scope)}
	validation.Register(scope, func(e *validation.Errors) {
		c.validate(e)
		if extra != nil {
			extra(e)
		}
		c.grants.Validate(e)
	})
	recovery := p.RecoveryWindowDays
	switch {
	case p.RemovalPolicy.Destroys():
		recovery = 0 // deleted at once, so the name can be reused right away
	case recovery == 0:
		recovery = DefaultRecoveryWindowDays
	}
	cfg := &secretsmanagersecret.SecretsmanagerSecretConfig{
		Name:                 jsii.String(p.SecretName),
		Description:          jsii.String(p.Description),
		RecoveryWindowInDays: jsii.Number(float64(recovery)),
	}
	if p.EncryptionKey != nil {
		cfg.KmsKeyId = p.EncryptionKey.KeyArn()
	}
	// No key-policy statement for Secrets Manager: it calls KMS on behalf of whoever
	// reads or writes the secret, with that caller's permissions, so grants scoped by
	// kms:ViaService (GrantRead, GrantRotate) are enough and the key policy's root
	// delegation lets them take effect.
	c.secret = secretsmanagersecret.NewSecretsmanagerSecret(scope, jsii.String("Secret"), cfg)
	c.version = secretsmanagersecretversion.NewSecretsmanagerSecretVersion(scope, jsii.String("Version"),
		&secretsmanagersecretversion.SecretsmanagerSecretVersionConfig{
			SecretId:              c.secret.Id(),
			SecretStringWoVersion: jsii.Number(float64(valueVersion(p.Generation, spec.VersionInputs))),
		})
	generated := writeonly.RandomPassword(c.version, spec.Field, spec.Length)
	writeonly.SetValue(c.version, spec.Value(generated))
	return c
}

// valueVersion is secret_string_wo_version: Terraform cannot compare a write-only value,
// so this number changes whenever anything that goes into the value changes.
func valueVersion(generation int, inputs string) uint32 {
	h := fnv.New32a()
	fmt.Fprintf(h, "%d|%s", generation, inputs)
	return h.Sum32()
}

// SecretArn is the secret's ARN.
func (c *Core) SecretArn() *string { return c.secret.Arn() }

// SecretName is the secret's name.
func (c *Core) SecretName() *string { return c.secret.Name() }

// VersionID is the id of the version Terraform wrote.
func (c *Core) VersionID() *string { return c.version.VersionId() }

// Field is the JSON key holding the generated value.
func (c *Core) Field() string { return c.spec.Field }

// EncryptionKey is the key the secret is encrypted with.
func (c *Core) EncryptionKey() encryptionkey.IKey { return c.props.EncryptionKey }

// Resource is the underlying secretsmanager_secret.
func (c *Core) Resource() secretsmanagersecret.SecretsmanagerSecret { return c.secret }

// GrantRead lets role read the value of this secret only (what a service reading its
// secret and ECS injecting it call), and decrypt it with the key only through Secrets
// Manager.
func (c *Core) GrantRead(role iampolicy.Role) {
	c.grant("Read", role, []string{"secretsmanager:GetSecretValue"}, grant.Decrypt)
}

// GrantRotate lets role read the secret and its versions' metadata and put a new version
// of it, encrypting and decrypting with the key only through Secrets Manager.
func (c *Core) GrantRotate(role iampolicy.Role) {
	c.grant("Rotate", role, []string{"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret", "secretsmanager:PutSecretValue"}, grant.EncryptDecrypt)
}

func (c *Core) grant(kind string, role iampolicy.Role, actions []string, keyUse grant.KeyUse) {
	c.grants.Grant(grant.Request{
		Kind: kind, Role: role,
		Statements: []iampolicy.Statement{{Sid: kind + c.spec.Subject, Actions: actions, Resources: []string{*c.secret.Arn()}}},
		Key:        c.props.EncryptionKey, KeyUse: keyUse, Via: "secretsmanager",
	})
}

var (
	// Secrets Manager names: letters, digits and /_+=.@- up to 512 characters.
	namePattern  = regexp.MustCompile(`^[A-Za-z0-9/_+=.@-]{1,512}$`)
	fieldPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)
)

func (c *Core) validate(e *validation.Errors) {
	p, spec := c.props, c.spec
	if p.EncryptionKey == nil {
		e.Addf("EncryptionKey", "is required: the secret is encrypted with the project's customer-managed key")
	}
	if !validation.IsToken(p.SecretName) && !namePattern.MatchString(p.SecretName) {
		e.Addf("SecretName", "%q must be 1-512 letters, digits or /_+=.@- characters", p.SecretName)
	}
	if len(p.Description) > 2048 {
		e.Addf("Description", "must be at most 2048 characters, got %d", len(p.Description))
	}
	if spec.FieldProp != "" && !fieldPattern.MatchString(spec.Field) {
		e.Addf(spec.FieldProp, "%q must be a letter or underscore followed by up to 63 letters, digits or underscores", spec.Field)
	}
	if spec.Length < spec.MinLength || spec.Length > MaxLength {
		e.Addf(spec.LengthProp, "must be between %d and %d characters, got %d", spec.MinLength, MaxLength, spec.Length)
	}
	e.CheckRemovalPolicy(p.RemovalPolicy)
	switch {
	case p.RemovalPolicy.Destroys() && p.RecoveryWindowDays != 0:
		e.Addf("RecoveryWindowDays", "is %d but RemovalPolicy is removal.Destroy (deletion without recovery); set one or the other", p.RecoveryWindowDays)
	case p.RecoveryWindowDays != 0 && (p.RecoveryWindowDays < 7 || p.RecoveryWindowDays > 30):
		e.Addf("RecoveryWindowDays", "must be between 7 and 30 days, got %d (RemovalPolicy removal.Destroy deletes without recovery)", p.RecoveryWindowDays)
	}
	if p.Generation < 1 {
		e.Addf("Generation", "must be at least 1, got %d", p.Generation)
	}
}
