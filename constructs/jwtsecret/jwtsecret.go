// Package jwtsecret provides the registry's JWT signing secret in AWS Secrets Manager,
// encrypted with the project key. Its value is a JSON object with exactly the fields the
// runtime reads:
//
//	{"jwt_secret": "<64+ random characters>", "jwt_algorithm": "HS256",
//	 "jwt_expiration_hours": 10, "jwt_max_uses": 1000}
//
// The last three come from typed, validated Props. jwt_secret is generated at deploy
// time and is never known to this program, to git, or to the Terraform state.
//
// # Why the secret value cannot leak
//
// The value is produced and consumed inside a single Terraform run, by two features that
// Terraform (>= 1.11) guarantees never to persist:
//
//   - An ephemeral "aws_secretsmanager_random_password" resource asks Secrets Manager's
//     GetRandomPassword for the random characters. Ephemeral resources exist only in
//     memory during plan and apply: Terraform refuses to store their results in the plan
//     file or the state, and it only allows them to flow into other ephemeral contexts.
//   - The value is handed to the write-only argument secret_string_wo of
//     aws_secretsmanager_secret_version. Write-only arguments are sent to the provider
//     and on to PutSecretValue, but are always stored as null in the plan and the state,
//     and Terraform shows them as "(write-only attribute)" in plan output. The JSON
//     object is built in the same expression with jsonencode(), so the secret never
//     passes through Go, the synthesized cdk.tf.json, or any output.
//
// Terraform itself enforces this: referencing the ephemeral value from anything that
// persists (a normal argument, an output, a local used by a resource) is an error at plan
// time, not a silent leak. What the synthesized JSON holds is only the reference
// "ephemeral.aws_secretsmanager_random_password.<name>.random_password". Because the
// argument is write-only, Terraform cannot notice when the value or its non-secret fields
// change: secret_string_wo_version carries a number derived from the non-secret Props and
// Props.Generation, so changing any of them (or bumping Generation) makes Terraform write
// a freshly generated value as a new version.
//
// The pair needs Terraform >= 1.11 (write-only arguments; ephemeral resources came in
// 1.10) and the AWS provider >= 5.99 (secret_string_wo), while the stacks accept any 5.x
// from 5.88. So New narrows its stack's required_providers constraint to
// RequiredAWSProvider and sets required_version to RequiredTerraform, only in stacks that
// use this construct: an older toolchain stops at "terraform init" with a version message
// instead of an "unsupported argument" or unknown ephemeral resource error at plan time.
// The override is on the stack because Terraform has one constraint per provider per
// module; it has to be added after stacks.NewBase sets the wider one, which New always is.
//
// # Rotation
//
// The command app/cmd/rotate-jwt-secret (see its package doc and this package's
// README.md) writes a new version with a fresh jwt_secret and the same other fields;
// Secrets Manager moves AWSCURRENT to it and AWSPREVIOUS to the old one, so a runtime that
// verifies tokens against both versions keeps accepting tokens signed before the
// rotation. Terraform keeps tracking the version it wrote and sees no drift.
package jwtsecret

import (
	"fmt"
	"hash/fnv"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/secretsmanagersecret"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/secretsmanagersecretversion"

	"github.com/acme/module-registry/constructs/encryptionkey"
	"github.com/acme/module-registry/constructs/iampolicy"
	"github.com/acme/module-registry/constructs/internal/validation"
	"github.com/acme/module-registry/constructs/internal/writeonly"
)

// Defaults from the security guide.
const (
	DefaultSecretName         = "acme-jwt-secret"
	DefaultDescription        = "JWT signing secret for the ACME module registry"
	DefaultAlgorithm          = "HS256"
	DefaultExpirationHours    = 10
	DefaultMaxUses            = 1000
	DefaultSecretLength       = 64
	DefaultRecoveryWindowDays = 7
)

// Limits.
const (
	// MinSecretLength is the shortest jwt_secret allowed: 64 characters from 62 letters
	// and digits carry about 381 bits, well above the 256 bits HS256 needs.
	MinSecretLength = 64
	// MaxSecretLength is the longest password Secrets Manager's GetRandomPassword makes.
	MaxSecretLength = 4096
)

// Toolchain the write-only/ephemeral mechanism needs; New sets both on the stack.
const (
	RequiredAWSProvider = writeonly.RequiredAWSProvider
	RequiredTerraform   = writeonly.RequiredTerraform
)

// Algorithms are the jwt_algorithm values allowed: HMAC with SHA-2, the family a shared
// signing secret is for.
var Algorithms = []string{"HS256", "HS384", "HS512"}

// JSON field names of the secret value, as the runtime reads them.
const (
	FieldSecret          = "jwt_secret"
	FieldAlgorithm       = "jwt_algorithm"
	FieldExpirationHours = "jwt_expiration_hours"
	FieldMaxUses         = "jwt_max_uses"
)

// Props configures a Secret. The zero value (plus EncryptionKey) is the secure default.
type Props struct {
	// EncryptionKey encrypts the secret. Required.
	EncryptionKey encryptionkey.IKey
	// SecretName names the secret. Default: "acme-jwt-secret".
	SecretName string
	// Description of the secret. Default: "JWT signing secret for the ACME module registry".
	Description string
	// Algorithm is jwt_algorithm, one of HS256, HS384, HS512. Default: "HS256".
	Algorithm string
	// ExpirationHours is jwt_expiration_hours, 1-24. Default: 10.
	ExpirationHours int
	// MaxUses is jwt_max_uses, how often one token may be used, at least 1. Default: 1000.
	MaxUses int
	// SecretLength is the length of jwt_secret in characters (letters and digits),
	// 64-4096. Default: 64.
	SecretLength int
	// RecoveryWindowDays is how long a deleted secret stays recoverable, 7-30.
	// Default: 7.
	RecoveryWindowDays int
	// ForceDeleteWithoutRecovery deletes the secret at once on destroy (a recovery window
	// of 0), so a test or local stack can be redeployed under the same name right away.
	// Default: false. Must not be combined with RecoveryWindowDays.
	ForceDeleteWithoutRecovery bool
	// Generation, when changed, makes the next apply write a freshly generated value as
	// a new version (an alternative to the rotation command). At least 1. Default: 1.
	Generation int
}

// Secret is the JWT signing secret and the version Terraform writes at deploy time.
type Secret struct {
	constructs.Construct
	props   Props
	secret  secretsmanagersecret.SecretsmanagerSecret
	version secretsmanagersecretversion.SecretsmanagerSecretVersion
	grants  int
	errs    validation.Errors
}

// New creates the secret and its generated value under scope. It also sets the stack's
// AWS provider constraint to RequiredAWSProvider and required_version to
// RequiredTerraform (see the package doc).
func New(scope constructs.Construct, id string, props *Props) *Secret {
	p := Props{}
	if props != nil {
		p = *props
	}
	if p.SecretName == "" {
		p.SecretName = DefaultSecretName
	}
	if p.Description == "" {
		p.Description = DefaultDescription
	}
	if p.Algorithm == "" {
		p.Algorithm = DefaultAlgorithm
	}
	if p.ExpirationHours == 0 {
		p.ExpirationHours = DefaultExpirationHours
	}
	if p.MaxUses == 0 {
		p.MaxUses = DefaultMaxUses
	}
	if p.SecretLength == 0 {
		p.SecretLength = DefaultSecretLength
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
	// No key-policy statement for Secrets Manager: it has no service principal use of the
	// key. It calls KMS on behalf of whoever reads or writes the secret, with that
	// caller's permissions, so IAM grants scoped by kms:ViaService (GrantRead,
	// GrantRotate) are enough, and the key policy's root delegation lets them take effect.
	s.secret = secretsmanagersecret.NewSecretsmanagerSecret(s, jsii.String("Secret"), cfg)

	s.version = secretsmanagersecretversion.NewSecretsmanagerSecretVersion(s, jsii.String("Version"),
		&secretsmanagersecretversion.SecretsmanagerSecretVersionConfig{
			SecretId:              s.secret.Id(),
			SecretStringWoVersion: jsii.Number(float64(valueVersion(p))),
		})
	// The value is assembled by Terraform's jsonencode: only the reference to the ephemeral
	// result is in the synthesized JSON, never the characters themselves.
	password := writeonly.RandomPassword(s.version, FieldSecret, p.SecretLength)
	writeonly.SetValue(s.version, valueExpression(password, p))
	return s
}

// valueExpression is the Terraform expression building the secret's JSON value from the
// ephemeral password (a reference, written unquoted so Terraform resolves it) and the
// typed, validated props. cdktf's Fn.jsonencode would quote the reference as a literal
// string, hence the expression is written here; Terraform's jsonencode does the encoding.
func valueExpression(passwordRef string, p Props) string {
	return fmt.Sprintf("${jsonencode({%s = %s, %s = %s, %s = %d, %s = %d})}",
		FieldSecret, passwordRef,
		FieldAlgorithm, strconv.Quote(p.Algorithm),
		FieldExpirationHours, p.ExpirationHours,
		FieldMaxUses, p.MaxUses)
}

// valueVersion is secret_string_wo_version: a number that changes whenever anything that
// goes into the write-only value changes, since Terraform cannot compare the value itself.
func valueVersion(p Props) uint32 {
	h := fnv.New32a()
	fmt.Fprintf(h, "%d|%s|%d|%d|%d", p.Generation, p.Algorithm, p.ExpirationHours, p.MaxUses, p.SecretLength)
	return h.Sum32()
}

// SecretArn is the secret's ARN.
func (s *Secret) SecretArn() *string { return s.secret.Arn() }

// SecretName is the secret's name.
func (s *Secret) SecretName() *string { return s.secret.Name() }

// VersionID is the id of the version Terraform wrote.
func (s *Secret) VersionID() *string { return s.version.VersionId() }

// EncryptionKey is the key the secret is encrypted with.
func (s *Secret) EncryptionKey() encryptionkey.IKey { return s.props.EncryptionKey }

// Resource exposes the underlying secretsmanager_secret for escape hatches.
func (s *Secret) Resource() secretsmanagersecret.SecretsmanagerSecret { return s.secret }

// GrantRead lets role read the secret's value and metadata (GetSecretValue,
// DescribeSecret on this secret only) and decrypt it with the key, only through Secrets
// Manager in this region.
func (s *Secret) GrantRead(role iampolicy.Role) {
	if s.grant("Read", role, readActions) && s.props.EncryptionKey != nil {
		s.props.EncryptionKey.GrantDecrypt(role, "secretsmanager")
	}
}

// GrantRotate lets role do what the rotation command does: read the secret and put a new
// version (GetSecretValue, DescribeSecret, PutSecretValue on this secret only), with
// encrypt and decrypt on the key only through Secrets Manager.
func (s *Secret) GrantRotate(role iampolicy.Role) {
	if s.grant("Rotate", role, append(append([]string{}, readActions...), "secretsmanager:PutSecretValue")) && s.props.EncryptionKey != nil {
		s.props.EncryptionKey.GrantEncryptDecrypt(role, "secretsmanager")
	}
}

var readActions = []string{"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"}

func (s *Secret) grant(kind string, role iampolicy.Role, actions []string) bool {
	s.grants++
	if role == nil {
		s.errs.Addf("Grant"+kind, "role is nil")
		return false
	}
	iampolicy.Grant(s, iampolicy.GrantID(kind, role, s.grants), role, iampolicy.Statement{
		Sid:       kind + "JwtSecret",
		Actions:   actions,
		Resources: []string{*s.secret.Arn()},
	})
	return true
}

var (
	// Secrets Manager names: letters, digits and /_+=.@- up to 512 characters.
	namePattern = regexp.MustCompile(`^[A-Za-z0-9/_+=.@-]{1,512}$`)
)

func (s *Secret) validate(e *validation.Errors) {
	p := s.props
	if p.EncryptionKey == nil {
		e.Addf("EncryptionKey", "is required: the secret is encrypted with the project's customer-managed key")
	}
	if !validation.IsToken(p.SecretName) {
		if !namePattern.MatchString(p.SecretName) {
			e.Addf("SecretName", "%q must be 1-512 letters, digits or /_+=.@- characters", p.SecretName)
		}
	}
	if len(p.Description) > 2048 {
		e.Addf("Description", "must be at most 2048 characters, got %d", len(p.Description))
	}
	if !slices.Contains(Algorithms, p.Algorithm) {
		e.Addf("Algorithm", "%q is not one of %s", p.Algorithm, strings.Join(Algorithms, ", "))
	}
	if p.ExpirationHours < 1 || p.ExpirationHours > 24 {
		e.Addf("ExpirationHours", "must be between 1 and 24, got %d", p.ExpirationHours)
	}
	if p.MaxUses < 1 {
		e.Addf("MaxUses", "must be at least 1, got %d", p.MaxUses)
	}
	if p.SecretLength < MinSecretLength || p.SecretLength > MaxSecretLength {
		e.Addf("SecretLength", "must be between %d and %d characters, got %d", MinSecretLength, MaxSecretLength, p.SecretLength)
	}
	switch {
	case p.ForceDeleteWithoutRecovery && p.RecoveryWindowDays != 0:
		e.Addf("RecoveryWindowDays", "is %d but ForceDeleteWithoutRecovery is true; set one or the other", p.RecoveryWindowDays)
	case p.RecoveryWindowDays != 0 && (p.RecoveryWindowDays < 7 || p.RecoveryWindowDays > 30):
		e.Addf("RecoveryWindowDays", "must be between 7 and 30 days, got %d (use ForceDeleteWithoutRecovery for immediate deletion)", p.RecoveryWindowDays)
	}
	if p.Generation < 1 {
		e.Addf("Generation", "must be at least 1, got %d", p.Generation)
	}
	e.Merge(&s.errs)
}
