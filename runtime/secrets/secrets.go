// Package secrets supplies the HMAC key that signs and verifies the
// registry's JWTs. Resolution order: a secret store (AWS Secrets Manager,
// added by the AWS backend) -> the JWT_SECRET environment variable -> a
// development-only random key generated at start-up.
package secrets

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/acme/module-registry/runtime/contract"
)

// MinSecretBytes is the shortest accepted signing secret (HS256 wants a key
// at least as long as its 256-bit output).
const MinSecretBytes = 32

// Environment variables read by FromEnv.
const (
	// EnvSecret is injected into a deployed task from the secret's
	// contract.JWTFieldSecret.
	EnvSecret         = contract.EnvJWTSecret
	EnvPreviousSecret = "JWT_SECRET_PREVIOUS"
)

// ErrNoSecret means the provider has no secret configured.
var ErrNoSecret = errors.New("no JWT secret configured")

// Keys is the key material for one moment: Current signs new tokens;
// Previous (optional, during a rotation) is still accepted for verification.
type Keys struct {
	Current  []byte
	Previous []byte
}

// Verification returns the keys accepted when verifying, current first.
func (k Keys) Verification() [][]byte {
	if len(k.Previous) == 0 {
		return [][]byte{k.Current}
	}
	return [][]byte{k.Current, k.Previous}
}

// Provider returns the JWT signing keys. Implementations may cache and
// refresh (rotation); callers ask on every sign/verify and must not cache.
type Provider interface {
	Keys(ctx context.Context) (Keys, error)
}

// Static is a Provider with fixed keys.
type Static Keys

// Keys implements Provider.
func (s Static) Keys(context.Context) (Keys, error) {
	if len(s.Current) == 0 {
		return Keys{}, ErrNoSecret
	}
	return Keys(s), nil
}

// FromEnv reads JWT_SECRET (and JWT_SECRET_PREVIOUS) through getenv. It
// returns ErrNoSecret when JWT_SECRET is unset and an error when a set
// secret is too short.
func FromEnv(getenv func(string) string) (Provider, error) {
	cur, prev := getenv(EnvSecret), getenv(EnvPreviousSecret)
	if cur == "" {
		return nil, ErrNoSecret
	}
	if len(cur) < MinSecretBytes {
		return nil, fmt.Errorf("%s must be at least %d bytes, got %d", EnvSecret, MinSecretBytes, len(cur))
	}
	if prev != "" && len(prev) < MinSecretBytes {
		return nil, fmt.Errorf("%s must be at least %d bytes, got %d", EnvPreviousSecret, MinSecretBytes, len(prev))
	}
	return Static{Current: []byte(cur), Previous: []byte(prev)}, nil
}

// Generated returns a random 256-bit key for development only. Tokens
// signed with it die with the process.
func Generated() (Provider, error) {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	return Static{Current: k}, nil
}

// Resolve picks the provider: JWT_SECRET from the environment if set,
// otherwise (only when production is false) a generated development key,
// announced with a loud warning. In production a missing secret is an error.
func Resolve(getenv func(string) string, production bool, log *slog.Logger) (Provider, error) {
	p, err := FromEnv(getenv)
	if err == nil {
		return p, nil
	}
	if !errors.Is(err, ErrNoSecret) {
		return nil, err
	}
	if production {
		return nil, fmt.Errorf("%s is required in production (at least %d bytes)", EnvSecret, MinSecretBytes)
	}
	log.Warn("!!! USING A GENERATED DEVELOPMENT JWT SECRET - tokens die on restart; set " + EnvSecret + " for any real deployment !!!")
	if os.Getenv("REGISTRY_QUIET_DEV_WARNING") == "" {
		fmt.Fprintln(os.Stderr, "WARNING: no "+EnvSecret+" set; using a random development-only JWT secret. NEVER run like this in production.")
	}
	return Generated()
}
