// Package auth issues and checks the registry's bearer tokens (HS256 JWTs
// with a server-side use counter) and verifies user passwords.
package auth

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/acme/module-registry/runtime/secrets"
	"github.com/acme/module-registry/runtime/storage"
)

// Token limits from the security policy.
const (
	DefaultTTL     = 10 * time.Hour
	DefaultMaxUses = 1000
	Issuer         = "acme-module-registry"
	// MaxTokenBytes caps the size of a presented token before parsing.
	MaxTokenBytes = 4096
)

var (
	// ErrBadCredentials: unknown user or wrong password (401).
	ErrBadCredentials = errors.New("invalid user name or password")
	// ErrUnauthenticated: no usable token (403 per the API contract).
	ErrUnauthenticated = errors.New("authentication failed")
	// ErrForbidden: authenticated but lacking a permission (403).
	ErrForbidden = errors.New("permission denied")
)

// Options configures a Service. Zero fields take the defaults.
type Options struct {
	TTL     time.Duration // default DefaultTTL
	MaxUses int           // default DefaultMaxUses
	Argon2  Argon2Params  // default DefaultArgon2
	Now     func() time.Time
}

// Service authenticates users and tokens against a MetadataStore.
type Service struct {
	store storage.MetadataStore
	keys  secrets.Provider
	opts  Options
	dummy string // hash compared against for unknown users (uniform timing)
}

// New returns a Service.
func New(store storage.MetadataStore, keys secrets.Provider, opts Options) (*Service, error) {
	if opts.TTL <= 0 {
		opts.TTL = DefaultTTL
	}
	if opts.MaxUses <= 0 {
		opts.MaxUses = DefaultMaxUses
	}
	if opts.Argon2 == (Argon2Params{}) {
		opts.Argon2 = DefaultArgon2
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	dummy, err := HashPassword("not-a-password", opts.Argon2)
	if err != nil {
		return nil, err
	}
	return &Service{store: store, keys: keys, opts: opts, dummy: dummy}, nil
}

// Principal is an authenticated caller.
type Principal struct {
	User    storage.User
	TokenID string
}

// Require returns ErrForbidden unless p holds perm.
func (p Principal) Require(perm string) error {
	if !p.User.Has(perm) {
		return fmt.Errorf("%w: %q permission required", ErrForbidden, perm)
	}
	return nil
}

// HashPassword hashes with the service's parameters.
func (s *Service) HashPassword(pw string) (string, error) { return HashPassword(pw, s.opts.Argon2) }

// Login checks the password and issues a token, returned as "bearer <jwt>".
func (s *Service) Login(ctx context.Context, name, password string) (string, error) {
	u, err := s.store.GetUser(ctx, name)
	if errors.Is(err, storage.ErrNotFound) {
		_, _ = VerifyPassword(s.dummy, password)
		return "", ErrBadCredentials
	}
	if err != nil {
		return "", err
	}
	ok, err := VerifyPassword(u.PasswordHash, password)
	if err != nil {
		return "", fmt.Errorf("stored hash for %q: %w", name, err)
	}
	if !ok {
		return "", ErrBadCredentials
	}
	return s.Issue(ctx, u.Name)
}

// Issue creates a token record and the signed JWT for user.
func (s *Service) Issue(ctx context.Context, user string) (string, error) {
	keys, err := s.keys.Keys(ctx)
	if err != nil {
		return "", fmt.Errorf("signing key: %w", err)
	}
	idb := make([]byte, 16)
	if _, err := rand.Read(idb); err != nil {
		return "", err
	}
	now := s.opts.Now().UTC()
	rec := storage.Token{ID: hex.EncodeToString(idb), User: user, IssuedAt: now, ExpiresAt: now.Add(s.opts.TTL), MaxUses: s.opts.MaxUses}
	claims := jwt.RegisteredClaims{
		Issuer:    Issuer,
		Subject:   user,
		ID:        rec.ID,
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(rec.ExpiresAt),
	}
	signed, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(keys.Current)
	if err != nil {
		return "", err
	}
	if err := s.store.CreateToken(ctx, rec); err != nil {
		return "", err
	}
	return "bearer " + signed, nil
}

// ParseBearer extracts the JWT from an "X-Authorization"/"Authorization"
// header value of the form "bearer <jwt>" (scheme case-insensitive).
func ParseBearer(h string) (string, error) {
	if h == "" {
		return "", fmt.Errorf("%w: missing token", ErrUnauthenticated)
	}
	if len(h) > MaxTokenBytes {
		return "", fmt.Errorf("%w: token too long", ErrUnauthenticated)
	}
	scheme, tok, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return "", fmt.Errorf("%w: expected \"bearer <token>\"", ErrUnauthenticated)
	}
	tok = strings.TrimSpace(tok)
	if tok == "" || strings.Count(tok, ".") != 2 {
		return "", fmt.Errorf("%w: malformed token", ErrUnauthenticated)
	}
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return "", fmt.Errorf("%w: malformed token", ErrUnauthenticated)
		}
	}
	return tok, nil
}

// Verify checks signature, algorithm, issuer and expiry of a raw JWT without
// consuming a use, returning its claims.
func (s *Service) Verify(ctx context.Context, raw string) (*jwt.RegisteredClaims, error) {
	keys, err := s.keys.Keys(ctx)
	if err != nil {
		return nil, fmt.Errorf("verification key: %w", err)
	}
	vks := jwt.VerificationKeySet{}
	for _, k := range keys.Verification() {
		vks.Keys = append(vks.Keys, k)
	}
	claims := &jwt.RegisteredClaims{}
	_, err = jwt.ParseWithClaims(raw, claims, func(*jwt.Token) (any, error) { return vks, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuer(Issuer),
		jwt.WithTimeFunc(s.opts.Now),
	)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnauthenticated, err)
	}
	if claims.ID == "" || claims.Subject == "" {
		return nil, fmt.Errorf("%w: token lacks id or subject", ErrUnauthenticated)
	}
	return claims, nil
}

// Authenticate verifies the header's token, consumes one use and loads the
// user. Every failure wraps ErrUnauthenticated except store outages.
func (s *Service) Authenticate(ctx context.Context, header string) (Principal, error) {
	raw, err := ParseBearer(header)
	if err != nil {
		return Principal{}, err
	}
	claims, err := s.Verify(ctx, raw)
	if err != nil {
		return Principal{}, err
	}
	tok, err := s.store.UseToken(ctx, claims.ID, s.opts.Now())
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return Principal{}, fmt.Errorf("%w: unknown token", ErrUnauthenticated)
	case errors.Is(err, storage.ErrTokenExhausted):
		return Principal{}, fmt.Errorf("%w: token use limit (%d) reached", ErrUnauthenticated, s.opts.MaxUses)
	case errors.Is(err, storage.ErrTokenExpired):
		return Principal{}, fmt.Errorf("%w: token expired", ErrUnauthenticated)
	case err != nil:
		return Principal{}, err
	}
	if tok.User != claims.Subject {
		return Principal{}, fmt.Errorf("%w: token subject mismatch", ErrUnauthenticated)
	}
	u, err := s.store.GetUser(ctx, claims.Subject)
	if errors.Is(err, storage.ErrNotFound) {
		return Principal{}, fmt.Errorf("%w: user no longer exists", ErrUnauthenticated)
	}
	if err != nil {
		return Principal{}, err
	}
	return Principal{User: u, TokenID: tok.ID}, nil
}
