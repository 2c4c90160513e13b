// Package auth issues and checks the registry's bearer tokens (HS256 JWTs
// with a server-side use counter) and verifies user passwords.
package auth

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/acme/module-registry/runtime/secrets"
	"github.com/acme/module-registry/runtime/storage"
	"github.com/acme/module-registry/runtime/throttle"
)

// Token limits from the security policy, and the claims every token carries.
const (
	DefaultTTL     = 10 * time.Hour
	DefaultMaxUses = 1000
	// Issuer is the iss claim of every token.
	Issuer = "acme-module-registry"
	// Audience is the aud claim: the registry's API, the only place tokens are for.
	Audience = "acme-module-registry-api"
	// ClockSkew is tolerated on the time claims (exp, nbf, iat) between the processes
	// of one deployment. Expiry itself is exact: the token record's expiry is checked
	// against the store's clock comparison on every use.
	ClockSkew = 5 * time.Second
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
	// PasswordChecks bounds the argon2id computations (login checks, hashing new
	// passwords) running at once; beyond it a caller waits briefly or is refused with
	// throttle.ErrBusy. Default: NewPasswordGate(PasswordCheckLimit(the process's
	// memory limit, Argon2, GOMAXPROCS)).
	PasswordChecks *throttle.Gate
	// LeaseWindow is how long a lease of token uses should last at the token's
	// recent request rate (lease.go). Default DefaultLeaseWindow.
	LeaseWindow time.Duration
	// MaxLease caps the uses of one lease, and so what a crash can forfeit per token
	// (MaxLease-1). Default DefaultMaxLease; 1 writes every use through.
	MaxLease int
}

// Service authenticates users and tokens against a MetadataStore.
type Service struct {
	store  storage.MetadataStore
	keys   secrets.Provider
	opts   Options
	dummy  string // hash compared against for unknown users (uniform timing)
	leases *leases
	// parserOpts are the checks of Verify; validator applies their time and
	// audience checks to remembered tokens.
	parserOpts []jwt.ParserOption
	validator  *jwt.Validator
	verified   verifiedTokens
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
	if opts.PasswordChecks == nil {
		opts.PasswordChecks = NewPasswordGate(PasswordCheckLimit(debug.SetMemoryLimit(-1), opts.Argon2, runtime.GOMAXPROCS(0)))
	}
	if opts.LeaseWindow <= 0 {
		opts.LeaseWindow = DefaultLeaseWindow
	}
	if opts.MaxLease <= 0 {
		opts.MaxLease = DefaultMaxLease
	}
	dummy, err := HashPassword("not-a-password", opts.Argon2)
	if err != nil {
		return nil, err
	}
	s := &Service{store: store, keys: keys, opts: opts, dummy: dummy, leases: newLeases(store, opts.Now, opts.LeaseWindow, opts.MaxLease)}
	s.parserOpts = []jwt.ParserOption{
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithIssuer(Issuer),
		jwt.WithAudience(Audience),
		jwt.WithLeeway(ClockSkew),
		jwt.WithStrictDecoding(),
		jwt.WithTimeFunc(opts.Now),
	}
	s.validator = jwt.NewValidator(s.parserOpts...)
	return s, nil
}

// ReleaseLeases gives the unused uses this Service leased back to the store, so no
// use is forfeited when the process ends (call it after the last request). The
// Service stays usable; later requests lease again.
func (s *Service) ReleaseLeases(ctx context.Context) error { return s.leases.release(ctx) }

// LeaseStats reports what the token-use leases did.
func (s *Service) LeaseStats() LeaseStats { return s.leases.stats() }

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

// HashPassword hashes pw with the service's parameters, taking a slot of the
// password-check gate (so it may fail with throttle.ErrBusy).
func (s *Service) HashPassword(pw string) (string, error) {
	release, err := s.opts.PasswordChecks.Acquire(context.Background())
	if err != nil {
		return "", err
	}
	defer release()
	return HashPassword(pw, s.opts.Argon2)
}

// Login checks the password and issues a token, returned as "bearer <jwt>". When the
// password checks are at capacity it fails with throttle.ErrBusy without checking.
func (s *Service) Login(ctx context.Context, name, password string) (string, error) {
	u, err := s.store.GetUser(ctx, name)
	known := err == nil
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return "", err
	}
	hash := s.dummy
	if known {
		hash = u.PasswordHash
	}
	release, err := s.opts.PasswordChecks.Acquire(ctx)
	if err != nil {
		return "", err
	}
	ok, err := VerifyPassword(hash, password)
	release()
	switch {
	case err != nil && known:
		return "", fmt.Errorf("stored hash for %q: %w", name, err)
	case !known || !ok:
		return "", ErrBadCredentials
	}
	if u.ID == "" {
		if u, err = s.giveIdentity(ctx, u); err != nil {
			return "", err
		}
	}
	return s.Issue(ctx, u)
}

// giveIdentity gives an account stored before accounts had identities its ID, once:
// of racing logins the first assignment wins and the others use it.
func (s *Service) giveIdentity(ctx context.Context, u storage.User) (storage.User, error) {
	v := u
	v.ID = storage.NewAccountID()
	err := s.store.UpdateUser(ctx, v, "")
	if err == nil {
		return v, nil
	}
	if !errors.Is(err, storage.ErrNotFound) {
		return storage.User{}, err
	}
	cur, err := s.store.GetUser(ctx, u.Name)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return storage.User{}, ErrBadCredentials
	case err != nil:
		return storage.User{}, err
	case cur.ID == "" || cur.PasswordHash != u.PasswordHash:
		// Replaced meanwhile by an account the checked password is not for.
		return storage.User{}, ErrBadCredentials
	}
	return cur, nil
}

// Claims are a token's JWT claims: the registered ones and the account it is bound to.
type Claims struct {
	jwt.RegisteredClaims
	// Account is the ID of the account the token was issued to (storage.User.ID).
	Account string `json:"acct"`
}

// UnmarshalJSON refuses time claims that are not JSON numbers (RFC 7519 NumericDate),
// which the JWT library would otherwise read from strings too.
func (c *Claims) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	for _, k := range []string{"exp", "nbf", "iat"} {
		if v, ok := raw[k]; ok && !isJSONNumber(v) {
			return fmt.Errorf("claim %q must be a number, got %.20s", k, v)
		}
	}
	type plain Claims // without this method
	return json.Unmarshal(b, (*plain)(c))
}

func isJSONNumber(v json.RawMessage) bool {
	v = bytes.TrimSpace(v)
	return len(v) > 0 && (v[0] == '-' || v[0] >= '0' && v[0] <= '9')
}

// Issue creates a token record and the signed JWT for the account u, which must have
// its ID.
func (s *Service) Issue(ctx context.Context, u storage.User) (string, error) {
	if u.ID == "" {
		return "", fmt.Errorf("user %q has no account id", u.Name)
	}
	keys, err := s.keys.Keys(ctx)
	if err != nil {
		return "", fmt.Errorf("signing key: %w", err)
	}
	idb := make([]byte, 16)
	if _, err := rand.Read(idb); err != nil {
		return "", err
	}
	now := s.opts.Now().UTC()
	rec := storage.Token{ID: hex.EncodeToString(idb), User: u.Name, AccountID: u.ID, IssuedAt: now, ExpiresAt: now.Add(s.opts.TTL), MaxUses: s.opts.MaxUses}
	claims := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    Issuer,
			Subject:   u.Name,
			Audience:  jwt.ClaimStrings{Audience},
			ID:        rec.ID,
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(rec.ExpiresAt),
		},
		Account: u.ID,
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

// Verify checks a raw JWT without consuming a use and returns its claims: HS256 with
// a current or previous key; issuer and audience; numeric exp, nbf and iat, all
// present and in range; a token id, a subject and an account.
func (s *Service) Verify(ctx context.Context, raw string) (*Claims, error) {
	keys, err := s.keys.Keys(ctx)
	if err != nil {
		return nil, fmt.Errorf("verification key: %w", err)
	}
	if c, ok := s.verified.get(raw, keys, s.validator, s.opts.Now()); ok {
		return c, nil
	}
	vks := jwt.VerificationKeySet{}
	for _, k := range keys.Verification() {
		vks.Keys = append(vks.Keys, k)
	}
	claims := &Claims{}
	_, err = jwt.ParseWithClaims(raw, claims, func(*jwt.Token) (any, error) { return vks, nil }, s.parserOpts...)
	if err == nil || errors.Is(err, jwt.ErrTokenInvalidClaims) { // signature good
		if claims.Account == "" {
			return nil, fmt.Errorf("%w: token is not bound to an account (issued by an older registry); log in again", ErrUnauthenticated)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnauthenticated, err)
	}
	var missing []string
	for claim, absent := range map[string]bool{
		"jti": claims.ID == "", "sub": claims.Subject == "", "iat": claims.IssuedAt == nil, "nbf": claims.NotBefore == nil,
	} {
		if absent {
			missing = append(missing, claim)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, fmt.Errorf("%w: token lacks the %s claim(s)", ErrUnauthenticated, strings.Join(missing, ", "))
	}
	s.verified.put(raw, keys, claims, s.opts.Now())
	return claims, nil
}

// Authenticate verifies the header's token, consumes one use and loads the
// user. Every failure wraps ErrUnauthenticated except store outages.
func (s *Service) Authenticate(ctx context.Context, header string) (Principal, error) {
	claims, err := s.Parse(ctx, header)
	if err != nil {
		return Principal{}, err
	}
	return s.Use(ctx, claims)
}

// Parse extracts and verifies the header's token without consuming a use, so a caller
// can refuse it (throttling) before it costs a use.
func (s *Service) Parse(ctx context.Context, header string) (*Claims, error) {
	raw, err := ParseBearer(header)
	if err != nil {
		return nil, err
	}
	return s.Verify(ctx, raw)
}

// Use consumes one use of the verified token (from this process's lease of its
// uses, see lease.go) and loads its user, refusing a token whose account is not
// the user's current account (deleted, or deleted and re-created under the same
// name). The user is read on every use, so a change of permissions applies to the
// next request.
func (s *Service) Use(ctx context.Context, claims *Claims) (Principal, error) {
	tok, err := s.leases.use(ctx, claims.ID)
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
	if tok.User != claims.Subject || tok.AccountID != claims.Account {
		return Principal{}, fmt.Errorf("%w: token does not match its record", ErrUnauthenticated)
	}
	u, err := s.store.GetUser(ctx, claims.Subject)
	if errors.Is(err, storage.ErrNotFound) {
		return Principal{}, fmt.Errorf("%w: user no longer exists", ErrUnauthenticated)
	}
	if err != nil {
		return Principal{}, err
	}
	if u.ID != claims.Account {
		return Principal{}, fmt.Errorf("%w: the account this token was issued to no longer exists; log in again", ErrUnauthenticated)
	}
	return Principal{User: u, TokenID: tok.ID}, nil
}
