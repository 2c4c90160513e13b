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
	"slices"
	"strconv"
	"strings"

	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/secretsmanagersecret"

	"github.com/acme/module-registry/constructs/encryptionkey"
	"github.com/acme/module-registry/constructs/iampolicy"
	"github.com/acme/module-registry/constructs/internal/defaults"
	"github.com/acme/module-registry/constructs/internal/gensecret"
	"github.com/acme/module-registry/constructs/internal/validation"
	"github.com/acme/module-registry/constructs/internal/writeonly"
	"github.com/acme/module-registry/constructs/removal"
	"github.com/acme/module-registry/runtime/contract"
)

// Defaults from the security guide.
const (
	DefaultSecretName         = contract.DefaultJWTSecretName
	DefaultDescription        = "JWT signing secret for the ACME module registry"
	DefaultAlgorithm          = "HS256"
	DefaultExpirationHours    = 10
	DefaultMaxUses            = 1000
	DefaultSecretLength       = 64
	DefaultRecoveryWindowDays = gensecret.DefaultRecoveryWindowDays
)

// Limits.
const (
	// MinSecretLength is the shortest jwt_secret allowed: 64 characters from 62 letters
	// and digits carry about 381 bits, well above the 256 bits HS256 needs.
	MinSecretLength = 64
	// MaxSecretLength is the longest password Secrets Manager's GetRandomPassword makes.
	MaxSecretLength = gensecret.MaxLength
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
	FieldSecret          = contract.JWTFieldSecret
	FieldAlgorithm       = contract.JWTFieldAlgorithm
	FieldExpirationHours = contract.JWTFieldExpirationHours
	FieldMaxUses         = contract.JWTFieldMaxUses
)

// Props configures a Secret. The zero value (plus EncryptionKey) is the secure default.
type Props struct {
	// EncryptionKey encrypts the secret. Required.
	EncryptionKey encryptionkey.IKey
	// SecretName names the secret. Default: "acme-jwt-secret".
	SecretName string
	// Description of the secret, at most 2048 characters. Default: "JWT signing secret
	// for the ACME module registry".
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
	// RecoveryWindowDays is how long a deleted secret stays recoverable, 7-30; not with
	// RemovalPolicy removal.Destroy. Default: 7.
	RecoveryWindowDays int
	// RemovalPolicy removal.Destroy deletes the secret at once on destroy (no recovery
	// window), so a test or local stack can be redeployed under the same name right
	// away. Default: removal.Retain.
	RemovalPolicy removal.Policy
	// Generation, when changed, makes the next apply write a freshly generated value as
	// a new version (an alternative to the rotation command). At least 1. Default: 1.
	Generation int
}

// Secret is the JWT signing secret and the version Terraform writes at deploy time.
type Secret struct {
	constructs.Construct
	props Props
	core  *gensecret.Core
}

// New creates the secret and its generated value under scope. It also sets the stack's
// AWS provider constraint to RequiredAWSProvider and required_version to
// RequiredTerraform (see the package doc).
func New(scope constructs.Construct, id string, props *Props) *Secret {
	p := defaults.Copy(props)
	defaults.Set(&p.Algorithm, DefaultAlgorithm)
	defaults.Set(&p.ExpirationHours, DefaultExpirationHours)
	defaults.Set(&p.MaxUses, DefaultMaxUses)
	defaults.Set(&p.SecretLength, DefaultSecretLength)
	s := &Secret{props: p}
	constructs.NewConstruct_Override(s, scope, jsii.String(id))
	s.core = gensecret.New(s, gensecret.Props{
		EncryptionKey: p.EncryptionKey, SecretName: p.SecretName, Description: p.Description,
		RecoveryWindowDays: p.RecoveryWindowDays, RemovalPolicy: p.RemovalPolicy, Generation: p.Generation,
	}, gensecret.Spec{
		DefaultSecretName: DefaultSecretName, DefaultDescription: DefaultDescription,
		Field: FieldSecret, Length: p.SecretLength, LengthProp: "SecretLength", MinLength: MinSecretLength,
		// The value is assembled by Terraform's jsonencode: only the reference to the
		// ephemeral result is in the synthesized JSON, never the characters themselves.
		Value:         func(generated string) string { return valueExpression(generated, p) },
		VersionInputs: fmt.Sprintf("%s|%d|%d|%d", p.Algorithm, p.ExpirationHours, p.MaxUses, p.SecretLength),
		Subject:       "JwtSecret",
	}, s.validate)
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

// SecretArn is the secret's ARN.
func (s *Secret) SecretArn() *string { return s.core.SecretArn() }

// SecretName is the secret's name.
func (s *Secret) SecretName() *string { return s.core.SecretName() }

// VersionID is the id of the version Terraform wrote.
func (s *Secret) VersionID() *string { return s.core.VersionID() }

// Field is the JSON key holding the generated signing secret, "jwt_secret".
func (s *Secret) Field() string { return s.core.Field() }

// EncryptionKey is the key the secret is encrypted with.
func (s *Secret) EncryptionKey() encryptionkey.IKey { return s.core.EncryptionKey() }

// Resource exposes the underlying secretsmanager_secret for escape hatches.
func (s *Secret) Resource() secretsmanagersecret.SecretsmanagerSecret { return s.core.Resource() }

// GrantRead lets role read the value (GetSecretValue on this secret only) and decrypt it
// with the key, only through Secrets Manager in this region.
func (s *Secret) GrantRead(role iampolicy.Role) { s.core.GrantRead(role) }

// GrantRotate lets role do what the rotation command does: read the secret and put a new
// version (GetSecretValue, DescribeSecret, PutSecretValue on this secret only), with
// encrypt and decrypt on the key only through Secrets Manager.
func (s *Secret) GrantRotate(role iampolicy.Role) { s.core.GrantRotate(role) }

func (s *Secret) validate(e *validation.Errors) {
	p := s.props
	if !slices.Contains(Algorithms, p.Algorithm) {
		e.Addf("Algorithm", "%q is not one of %s", p.Algorithm, strings.Join(Algorithms, ", "))
	}
	if p.ExpirationHours < 1 || p.ExpirationHours > 24 {
		e.Addf("ExpirationHours", "must be between 1 and 24, got %d", p.ExpirationHours)
	}
	if p.MaxUses < 1 {
		e.Addf("MaxUses", "must be at least 1, got %d", p.MaxUses)
	}
}
