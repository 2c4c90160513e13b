// Package passwordsecret provides a Secrets Manager secret holding one generated
// password, such as the registry's bootstrap administrator password, encrypted with the
// project key. The value is {"<Field>": "<Length random letters and digits>"}, generated
// at deploy time by Terraform and written through a write-only argument: it never
// reaches this program, the synthesized JSON, the plan or the state (the mechanism is
// explained in constructs/jwtsecret). Needs Terraform >= 1.11 and AWS provider >= 5.99;
// New narrows its stack's constraints accordingly.
//
// Read it with `aws secretsmanager get-secret-value --secret-id <name>`, or inject it
// into a container with the ECS secret reference "<SecretArn>:<Field>::".
package passwordsecret

import (
	"fmt"
	"hash/fnv"
	"regexp"
	"strconv"

	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/secretsmanagersecret"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/secretsmanagersecretversion"

	"github.com/acme/module-registry/constructs/encryptionkey"
	"github.com/acme/module-registry/constructs/iampolicy"
	"github.com/acme/module-registry/constructs/internal/validation"
	"github.com/acme/module-registry/constructs/internal/writeonly"
)

// Defaults.
const (
	DefaultSecretName         = "acme-registry-admin"
	DefaultDescription        = "Bootstrap administrator password of the ACME module registry"
	DefaultField              = "password"
	DefaultLength             = 32
	DefaultRecoveryWindowDays = 7
	// MinLength is the shortest password allowed: 20 letters and digits carry about 119 bits.
	MinLength = 20
	// MaxLength is the longest password Secrets Manager's GetRandomPassword makes.
	MaxLength = 4096
)

// Props configures a Secret. The zero value (plus EncryptionKey) is the secure default.
type Props struct {
	// EncryptionKey encrypts the secret. Required.
	EncryptionKey encryptionkey.IKey
	// SecretName names the secret. Default: "acme-registry-admin".
	SecretName string
	// Description of the secret. Default: DefaultDescription.
	Description string
	// Field is the JSON key holding the password. Default: "password".
	Field string
	// Length of the password in letters and digits, 20-4096. Default: 32.
	Length int
	// RecoveryWindowDays is how long a deleted secret stays recoverable, 7-30. Default: 7.
	RecoveryWindowDays int
	// ForceDeleteWithoutRecovery deletes the secret at once on destroy (local and test
	// stacks). Default: false. Must not be combined with RecoveryWindowDays.
	ForceDeleteWithoutRecovery bool
	// Generation, when changed, makes the next apply write a new password. At least 1.
	// Default: 1.
	Generation int
}

// Secret is the password secret and the version Terraform writes at deploy time.
type Secret struct {
	constructs.Construct
	props   Props
	secret  secretsmanagersecret.SecretsmanagerSecret
	version secretsmanagersecretversion.SecretsmanagerSecretVersion
	grants  int
	errs    validation.Errors
}

// New creates the secret and its generated value under scope.
func New(scope constructs.Construct, id string, props *Props) *Secret {
	p := Props{}
	if props != nil {
		p = *props
	}
	def := func(v *string, d string) {
		if *v == "" {
			*v = d
		}
	}
	def(&p.SecretName, DefaultSecretName)
	def(&p.Description, DefaultDescription)
	def(&p.Field, DefaultField)
	if p.Length == 0 {
		p.Length = DefaultLength
	}
	if p.Generation == 0 {
		p.Generation = 1
	}
	recovery := p.RecoveryWindowDays
	if recovery == 0 && !p.ForceDeleteWithoutRecovery {
		recovery = DefaultRecoveryWindowDays
	}
	s := &Secret{props: p}
	constructs.NewConstruct_Override(s, scope, jsii.String(id))
	validation.Register(s, s.validate)

	cfg := &secretsmanagersecret.SecretsmanagerSecretConfig{
		Name:                 jsii.String(p.SecretName),
		Description:          jsii.String(p.Description),
		RecoveryWindowInDays: jsii.Number(float64(recovery)),
	}
	if p.EncryptionKey != nil {
		cfg.KmsKeyId = p.EncryptionKey.KeyArn()
	}
	s.secret = secretsmanagersecret.NewSecretsmanagerSecret(s, jsii.String("Secret"), cfg)
	h := fnv.New32a()
	fmt.Fprintf(h, "%d|%s|%d", p.Generation, p.Field, p.Length)
	s.version = secretsmanagersecretversion.NewSecretsmanagerSecretVersion(s, jsii.String("Version"),
		&secretsmanagersecretversion.SecretsmanagerSecretVersionConfig{
			SecretId:              s.secret.Id(),
			SecretStringWoVersion: jsii.Number(float64(h.Sum32())),
		})
	password := writeonly.RandomPassword(s.version, p.Field, p.Length)
	writeonly.SetValue(s.version, fmt.Sprintf("${jsonencode({%s = %s})}", strconv.Quote(p.Field), password))
	return s
}

// SecretArn is the secret's ARN.
func (s *Secret) SecretArn() *string { return s.secret.Arn() }

// SecretName is the secret's name.
func (s *Secret) SecretName() *string { return s.secret.Name() }

// Field is the JSON key holding the password.
func (s *Secret) Field() string { return s.props.Field }

// Resource exposes the underlying secretsmanager_secret for escape hatches.
func (s *Secret) Resource() secretsmanagersecret.SecretsmanagerSecret { return s.secret }

// GrantRead lets role read the value (GetSecretValue, DescribeSecret on this secret only)
// and decrypt it with the key, only through Secrets Manager.
func (s *Secret) GrantRead(role iampolicy.Role) {
	s.grants++
	if role == nil {
		s.errs.Addf("GrantRead", "role is nil")
		return
	}
	iampolicy.Grant(s, iampolicy.GrantID("Read", role, s.grants), role, iampolicy.Statement{
		Sid:       "ReadPasswordSecret",
		Actions:   []string{"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"},
		Resources: []string{*s.secret.Arn()},
	})
	if s.props.EncryptionKey != nil {
		s.props.EncryptionKey.GrantDecrypt(role, "secretsmanager")
	}
}

var (
	namePattern  = regexp.MustCompile(`^[A-Za-z0-9/_+=.@-]{1,512}$`)
	fieldPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)
)

func (s *Secret) validate(e *validation.Errors) {
	p := s.props
	if p.EncryptionKey == nil {
		e.Addf("EncryptionKey", "is required: the secret is encrypted with the project's customer-managed key")
	}
	if !validation.IsToken(p.SecretName) && !namePattern.MatchString(p.SecretName) {
		e.Addf("SecretName", "%q must be 1-512 letters, digits or /_+=.@- characters", p.SecretName)
	}
	if !fieldPattern.MatchString(p.Field) {
		e.Addf("Field", "%q must be a letter or underscore followed by up to 63 letters, digits or underscores", p.Field)
	}
	if p.Length < MinLength || p.Length > MaxLength {
		e.Addf("Length", "must be between %d and %d characters, got %d", MinLength, MaxLength, p.Length)
	}
	switch {
	case p.ForceDeleteWithoutRecovery && p.RecoveryWindowDays != 0:
		e.Addf("RecoveryWindowDays", "is %d but ForceDeleteWithoutRecovery is true; set one or the other", p.RecoveryWindowDays)
	case p.RecoveryWindowDays != 0 && (p.RecoveryWindowDays < 7 || p.RecoveryWindowDays > 30):
		e.Addf("RecoveryWindowDays", "must be between 7 and 30 days, got %d", p.RecoveryWindowDays)
	}
	if p.Generation < 1 {
		e.Addf("Generation", "must be at least 1, got %d", p.Generation)
	}
	e.Merge(&s.errs)
}
