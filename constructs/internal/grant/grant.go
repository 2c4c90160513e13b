// Package grant hands out a construct's IAM grants the same way in every construct: it
// numbers them, so several grants to one role never collide; it reports a nil role as a
// synth error naming the grant instead of panicking; it attaches the statements to the
// role as one inline policy; and it extends the grant to the construct's KMS key, only
// through the service that uses the key on the role's behalf.
package grant

import (
	"github.com/aws/constructs-go/constructs/v10"

	"github.com/acme/module-registry/constructs/iampolicy"
	"github.com/acme/module-registry/constructs/internal/validation"
)

// Key is what a grant needs of a KMS key (encryptionkey.IKey satisfies it).
type Key interface {
	GrantDecrypt(role iampolicy.Role, viaServices ...string)
	GrantEncryptDecrypt(role iampolicy.Role, viaServices ...string)
}

// KeyUse is what a grant lets the role do with the key.
type KeyUse int

const (
	// NoKeyUse grants nothing on the key.
	NoKeyUse KeyUse = iota
	// Decrypt lets the role read data encrypted under the key.
	Decrypt
	// EncryptDecrypt lets the role write (and read back) data under the key.
	EncryptDecrypt
)

// Request is one grant.
type Request struct {
	// Kind names the grant: the inline policy is named after it and the role
	// (iampolicy.GrantID), and a nil role is reported on the prop "Grant<Kind>".
	Kind string
	// Prop replaces "Grant<Kind>" as the prop a nil role is reported on, e.g.
	// "Users().GrantRead".
	Prop       string
	Role       iampolicy.Role
	Statements []iampolicy.Statement
	// Key, when not nil, is extended to the role with KeyUse, only through Via
	// (a service name such as "s3", for kms:ViaService).
	Key    Key
	KeyUse KeyUse
	Via    string
}

// Granter hands out the grants of one construct.
type Granter struct {
	scope constructs.Construct
	n     int
	errs  validation.Errors
}

// New returns a Granter creating its policies under scope.
func New(scope constructs.Construct) *Granter { return &Granter{scope: scope} }

// Grant attaches r's statements to r.Role and extends it to r.Key. It reports whether
// the grant was made: a nil role is recorded as a violation instead.
func (g *Granter) Grant(r Request) bool {
	g.n++
	if r.Role == nil {
		prop := r.Prop
		if prop == "" {
			prop = "Grant" + r.Kind
		}
		g.errs.Addf(prop, "role is nil")
		return false
	}
	iampolicy.Grant(g.scope, iampolicy.GrantID(r.Kind, r.Role, g.n), r.Role, r.Statements...)
	if r.Key == nil {
		return true
	}
	var via []string
	if r.Via != "" {
		via = []string{r.Via}
	}
	switch r.KeyUse {
	case Decrypt:
		r.Key.GrantDecrypt(r.Role, via...)
	case EncryptDecrypt:
		r.Key.GrantEncryptDecrypt(r.Role, via...)
	}
	return true
}

// Validate adds the violations recorded by Grant to e.
func (g *Granter) Validate(e *validation.Errors) { e.Merge(&g.errs) }
