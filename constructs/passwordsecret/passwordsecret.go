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
	"strconv"

	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/secretsmanagersecret"

	"github.com/acme/module-registry/constructs/encryptionkey"
	"github.com/acme/module-registry/constructs/iampolicy"
	"github.com/acme/module-registry/constructs/internal/defaults"
	"github.com/acme/module-registry/constructs/internal/gensecret"
	"github.com/acme/module-registry/constructs/removal"
	"github.com/acme/module-registry/runtime/contract"
)

// Defaults.
const (
	DefaultSecretName         = "acme-registry-admin"
	DefaultDescription        = "Bootstrap administrator password of the ACME module registry"
	DefaultField              = contract.AdminPasswordField
	DefaultLength             = 32
	DefaultRecoveryWindowDays = gensecret.DefaultRecoveryWindowDays
	// MinLength is the shortest password allowed: 20 letters and digits carry about 119 bits.
	MinLength = 20
	// MaxLength is the longest password Secrets Manager's GetRandomPassword makes.
	MaxLength = gensecret.MaxLength
)

// Props configures a Secret. The zero value (plus EncryptionKey) is the secure default.
type Props struct {
	// EncryptionKey encrypts the secret. Required.
	EncryptionKey encryptionkey.IKey
	// SecretName names the secret. Default: "acme-registry-admin".
	SecretName string
	// Description of the secret, at most 2048 characters. Default: "Bootstrap
	// administrator password of the ACME module registry".
	Description string
	// Field is the JSON key holding the password. Default: "password".
	Field string
	// Length of the password in letters and digits, 20-4096. Default: 32.
	Length int
	// RecoveryWindowDays is how long a deleted secret stays recoverable, 7-30; not with
	// RemovalPolicy removal.Destroy. Default: 7.
	RecoveryWindowDays int
	// RemovalPolicy removal.Destroy deletes the secret at once on destroy (no recovery
	// window), for local and test stacks. Default: removal.Retain.
	RemovalPolicy removal.Policy
	// Generation, when changed, makes the next apply write a new password. At least 1.
	// Default: 1.
	Generation int
}

// Secret is the password secret and the version Terraform writes at deploy time.
type Secret struct {
	constructs.Construct
	core *gensecret.Core
}

// New creates the secret and its generated value under scope.
func New(scope constructs.Construct, id string, props *Props) *Secret {
	p := defaults.Copy(props)
	defaults.Set(&p.Field, DefaultField)
	defaults.Set(&p.Length, DefaultLength)
	s := &Secret{}
	constructs.NewConstruct_Override(s, scope, jsii.String(id))
	s.core = gensecret.New(s, gensecret.Props{
		EncryptionKey: p.EncryptionKey, SecretName: p.SecretName, Description: p.Description,
		RecoveryWindowDays: p.RecoveryWindowDays, RemovalPolicy: p.RemovalPolicy, Generation: p.Generation,
	}, gensecret.Spec{
		DefaultSecretName: DefaultSecretName, DefaultDescription: DefaultDescription,
		Field: p.Field, FieldProp: "Field", Length: p.Length, LengthProp: "Length", MinLength: MinLength,
		Value: func(generated string) string {
			return fmt.Sprintf("${jsonencode({%s = %s})}", strconv.Quote(p.Field), generated)
		},
		VersionInputs: fmt.Sprintf("%s|%d", p.Field, p.Length),
		Subject:       "PasswordSecret",
	}, nil)
	return s
}

// SecretArn is the secret's ARN.
func (s *Secret) SecretArn() *string { return s.core.SecretArn() }

// SecretName is the secret's name.
func (s *Secret) SecretName() *string { return s.core.SecretName() }

// VersionID is the id of the version Terraform wrote.
func (s *Secret) VersionID() *string { return s.core.VersionID() }

// Field is the JSON key holding the password.
func (s *Secret) Field() string { return s.core.Field() }

// EncryptionKey is the key the secret is encrypted with.
func (s *Secret) EncryptionKey() encryptionkey.IKey { return s.core.EncryptionKey() }

// Resource exposes the underlying secretsmanager_secret for escape hatches.
func (s *Secret) Resource() secretsmanagersecret.SecretsmanagerSecret { return s.core.Resource() }

// GrantRead lets role read the value (GetSecretValue on this secret only) and decrypt it
// with the key, only through Secrets Manager in this region.
func (s *Secret) GrantRead(role iampolicy.Role) { s.core.GrantRead(role) }

// GrantRotate lets role read the secret and put a new version (GetSecretValue,
// DescribeSecret, PutSecretValue on this secret only), with encrypt and decrypt on the
// key only through Secrets Manager: what a rotation function needs.
func (s *Secret) GrantRotate(role iampolicy.Role) { s.core.GrantRotate(role) }
