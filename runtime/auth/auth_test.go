package auth

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/runtime/secrets"
	"github.com/acme/module-registry/runtime/storage"
	"github.com/acme/module-registry/runtime/storage/embedded"
	"github.com/acme/module-registry/runtime/throttle"
)

// FastArgon2 keeps tests quick; production uses DefaultArgon2.
var fastArgon2 = Argon2Params{Time: 1, MemKiB: 64, Threads: 1}

var (
	keyA = []byte(strings.Repeat("a", 32))
	keyB = []byte(strings.Repeat("b", 32))
)

type clock struct{ t time.Time }

func (c *clock) Now() time.Time { return c.t }

func newService(t *testing.T, keys secrets.Provider, opts Options) (*Service, *embedded.Store) {
	t.Helper()
	st, err := embedded.Open(t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	opts.Argon2 = fastArgon2
	s, err := New(st, keys, opts)
	require.NoError(t, err)
	h, err := s.HashPassword("correct horse")
	require.NoError(t, err)
	require.NoError(t, st.CreateUser(context.Background(), storage.User{Name: "alice", PasswordHash: h, Permissions: []string{storage.PermDownload}}))
	return s, st
}

func TestDefaults(t *testing.T) {
	assert.Equal(t, 10*time.Hour, DefaultTTL)
	assert.Equal(t, 1000, DefaultMaxUses)
	s, err := New(nil, secrets.Static{Current: keyA}, Options{Argon2: fastArgon2})
	require.NoError(t, err)
	assert.Equal(t, DefaultTTL, s.opts.TTL)
	assert.Equal(t, DefaultMaxUses, s.opts.MaxUses)
}

func TestPasswordHash(t *testing.T) {
	h, err := HashPassword("pw", fastArgon2)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(h, "$argon2id$v=19$"))
	assert.NotContains(t, h, "pw$")
	ok, err := VerifyPassword(h, "pw")
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = VerifyPassword(h, "pW")
	require.NoError(t, err)
	assert.False(t, ok)
	h2, _ := HashPassword("pw", fastArgon2)
	assert.NotEqual(t, h, h2, "salted")
	_, err = VerifyPassword("$2a$10$bcrypt", "pw")
	assert.Error(t, err)
}

func TestLoginAndAuthenticate(t *testing.T) {
	ctx := context.Background()
	s, _ := newService(t, secrets.Static{Current: keyA}, Options{MaxUses: 2})
	_, err := s.Login(ctx, "alice", "wrong")
	assert.ErrorIs(t, err, ErrBadCredentials)
	_, err = s.Login(ctx, "nobody", "correct horse")
	assert.ErrorIs(t, err, ErrBadCredentials)

	tok, err := s.Login(ctx, "alice", "correct horse")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(tok, "bearer "))
	p, err := s.Authenticate(ctx, tok)
	require.NoError(t, err)
	assert.Equal(t, "alice", p.User.Name)
	assert.NoError(t, p.Require(storage.PermDownload))
	assert.ErrorIs(t, p.Require(storage.PermUpload), ErrForbidden)

	_, err = s.Authenticate(ctx, "Bearer "+strings.TrimPrefix(tok, "bearer "))
	require.NoError(t, err, "scheme is case-insensitive")
	_, err = s.Authenticate(ctx, tok)
	assert.ErrorIs(t, err, ErrUnauthenticated, "third use exceeds MaxUses=2")
}

func signed(t *testing.T, method jwt.SigningMethod, key any, claims jwt.Claims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	require.NoError(t, err)
	return "bearer " + s
}

func TestRejectsForgedTokens(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Now()}
	s, st := newService(t, secrets.Static{Current: keyA}, Options{Now: clk.Now})
	now := clk.t
	alice, err := st.GetUser(ctx, "alice")
	require.NoError(t, err)
	require.NoError(t, st.CreateToken(ctx, storage.Token{ID: "id1", User: "alice", AccountID: alice.ID, ExpiresAt: now.Add(time.Hour), MaxUses: 100}))
	// A record issued to another account of the same name.
	require.NoError(t, st.CreateToken(ctx, storage.Token{ID: "id2", User: "alice", AccountID: storage.NewAccountID(), ExpiresAt: now.Add(time.Hour), MaxUses: 100}))
	good := Claims{RegisteredClaims: jwt.RegisteredClaims{Issuer: Issuer, Subject: "alice", Audience: jwt.ClaimStrings{Audience}, ID: "id1",
		IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour))}, Account: alice.ID}
	with := func(change func(c *Claims)) Claims { c := good; change(&c); return c }

	_, err = s.Authenticate(ctx, signed(t, jwt.SigningMethodHS256, keyA, good))
	require.NoError(t, err, "control: a correctly signed token passes")

	cases := map[string]string{
		"alg none":        signed(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, good),
		"alg HS384":       signed(t, jwt.SigningMethodHS384, keyA, good),
		"alg HS512":       signed(t, jwt.SigningMethodHS512, keyA, good),
		"wrong key":       signed(t, jwt.SigningMethodHS256, keyB, good),
		"no expiry":       signed(t, jwt.SigningMethodHS256, keyA, with(func(c *Claims) { c.ExpiresAt = nil })),
		"no issued-at":    signed(t, jwt.SigningMethodHS256, keyA, with(func(c *Claims) { c.IssuedAt = nil })),
		"no not-before":   signed(t, jwt.SigningMethodHS256, keyA, with(func(c *Claims) { c.NotBefore = nil })),
		"not yet valid":   signed(t, jwt.SigningMethodHS256, keyA, with(func(c *Claims) { c.NotBefore = jwt.NewNumericDate(now.Add(time.Minute)) })),
		"issued later":    signed(t, jwt.SigningMethodHS256, keyA, with(func(c *Claims) { c.IssuedAt = jwt.NewNumericDate(now.Add(time.Minute)) })),
		"wrong issuer":    signed(t, jwt.SigningMethodHS256, keyA, with(func(c *Claims) { c.Issuer = "x" })),
		"no audience":     signed(t, jwt.SigningMethodHS256, keyA, with(func(c *Claims) { c.Audience = nil })),
		"wrong audience":  signed(t, jwt.SigningMethodHS256, keyA, with(func(c *Claims) { c.Audience = jwt.ClaimStrings{"other-service"} })),
		"no token id":     signed(t, jwt.SigningMethodHS256, keyA, with(func(c *Claims) { c.ID = "" })),
		"unknown id":      signed(t, jwt.SigningMethodHS256, keyA, with(func(c *Claims) { c.ID = "nope" })),
		"other subject":   signed(t, jwt.SigningMethodHS256, keyA, with(func(c *Claims) { c.Subject = "mallory" })),
		"no account":      signed(t, jwt.SigningMethodHS256, keyA, with(func(c *Claims) { c.Account = "" })),
		"other account":   signed(t, jwt.SigningMethodHS256, keyA, with(func(c *Claims) { c.Account = storage.NewAccountID() })),
		"other record":    signed(t, jwt.SigningMethodHS256, keyA, with(func(c *Claims) { c.ID = "id2" })),
		"string expiry":   signedMap(t, keyA, good, "exp", fmt.Sprint(now.Add(time.Hour).Unix())),
		"string iat":      signedMap(t, keyA, good, "iat", fmt.Sprint(now.Unix())),
		"string nbf":      signedMap(t, keyA, good, "nbf", fmt.Sprint(now.Unix())),
		"empty":           "",
		"no scheme":       strings.TrimPrefix(signed(t, jwt.SigningMethodHS256, keyA, good), "bearer "),
		"basic scheme":    "Basic dXNlcjpwYXNz",
		"padded encoding": signed(t, jwt.SigningMethodHS256, keyA, good) + "==",
	}
	for name, h := range cases {
		_, err := s.Authenticate(ctx, h)
		assert.ErrorIs(t, err, ErrUnauthenticated, name)
	}
	_, err = s.Authenticate(ctx, signedMap(t, keyA, good, "exp", fmt.Sprint(now.Add(time.Hour).Unix())))
	assert.ErrorContains(t, err, `claim "exp" must be a number`)

	clk.t = now.Add(2 * time.Hour)
	_, err = s.Authenticate(ctx, signed(t, jwt.SigningMethodHS256, keyA, good))
	assert.ErrorIs(t, err, ErrUnauthenticated, "expired")
}

// signedMap signs claims with one claim replaced by a raw value (a string where a
// number belongs).
func signedMap(t *testing.T, key []byte, claims Claims, name string, value any) string {
	t.Helper()
	b, err := json.Marshal(claims)
	require.NoError(t, err)
	m := jwt.MapClaims{}
	require.NoError(t, json.Unmarshal(b, &m))
	m[name] = value
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, m).SignedString(key)
	require.NoError(t, err)
	return "bearer " + s
}

// A token names the account it was issued to: deleting the user revokes it, and a new
// account of the same name, whatever its permissions, does not inherit it.
func TestTokenIsBoundToTheAccount(t *testing.T) {
	ctx := context.Background()
	s, st := newService(t, secrets.Static{Current: keyA}, Options{})
	tok, err := s.Login(ctx, "alice", "correct horse")
	require.NoError(t, err)
	p, err := s.Authenticate(ctx, tok)
	require.NoError(t, err)
	assert.False(t, p.User.Has(storage.PermAdmin))

	require.NoError(t, st.DeleteUser(ctx, "alice"))
	h, err := s.HashPassword("another password")
	require.NoError(t, err)
	require.NoError(t, st.CreateUser(ctx, storage.User{Name: "alice", PasswordHash: h, Permissions: []string{storage.PermAdmin}}))
	_, err = s.Authenticate(ctx, tok)
	require.ErrorIs(t, err, ErrUnauthenticated, "the old account's token is refused")
	assert.ErrorContains(t, err, "no longer exists")

	fresh, err := s.Login(ctx, "alice", "another password")
	require.NoError(t, err)
	p, err = s.Authenticate(ctx, fresh)
	require.NoError(t, err)
	assert.True(t, p.User.Has(storage.PermAdmin))
	_, err = s.Authenticate(ctx, tok)
	require.ErrorIs(t, err, ErrUnauthenticated, "still refused after the new account logged in")
}

func TestPermissionChangeAppliesToTheNextRequest(t *testing.T) {
	ctx := context.Background()
	s, st := newService(t, secrets.Static{Current: keyA}, Options{})
	tok, err := s.Login(ctx, "alice", "correct horse")
	require.NoError(t, err)
	u, err := st.GetUser(ctx, "alice")
	require.NoError(t, err)
	changed := u
	changed.Permissions = []string{storage.PermUpload}
	require.NoError(t, st.UpdateUser(ctx, changed, u.ID))
	p, err := s.Authenticate(ctx, tok)
	require.NoError(t, err, "the same account: its token stays valid")
	assert.NoError(t, p.Require(storage.PermUpload))
	assert.ErrorIs(t, p.Require(storage.PermDownload), ErrForbidden)
}

// legacyStore shows the users named in legacy as they were stored before accounts had
// identities, until one is given.
type legacyStore struct {
	storage.MetadataStore
	mu     sync.Mutex
	legacy map[string]bool
}

func (l *legacyStore) GetUser(ctx context.Context, name string) (storage.User, error) {
	u, err := l.MetadataStore.GetUser(ctx, name)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.legacy[name] {
		u.ID = ""
	}
	return u, err
}

func (l *legacyStore) UpdateUser(ctx context.Context, u storage.User, ifID string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.legacy[u.Name] {
		if ifID != "" {
			return storage.ErrNotFound
		}
		cur, err := l.MetadataStore.GetUser(ctx, u.Name)
		if err != nil {
			return err
		}
		delete(l.legacy, u.Name)
		ifID = cur.ID
	}
	return l.MetadataStore.UpdateUser(ctx, u, ifID)
}

// An account stored before identities existed gets one at its next login; a token
// issued before tokens named their account is refused.
func TestLegacyAccountsAndTokens(t *testing.T) {
	ctx := context.Background()
	_, st := newService(t, secrets.Static{Current: keyA}, Options{})
	ls := &legacyStore{MetadataStore: st, legacy: map[string]bool{"alice": true}}
	s, err := New(ls, secrets.Static{Current: keyA}, Options{Argon2: fastArgon2})
	require.NoError(t, err)

	tok, err := s.Login(ctx, "alice", "correct horse")
	require.NoError(t, err)
	u, err := ls.GetUser(ctx, "alice")
	require.NoError(t, err)
	require.NotEmpty(t, u.ID, "the login gave the account its identity")
	p, err := s.Authenticate(ctx, tok)
	require.NoError(t, err)
	assert.Equal(t, u.ID, p.User.ID)

	now := time.Now()
	require.NoError(t, st.CreateToken(ctx, storage.Token{ID: "old", User: "alice", ExpiresAt: now.Add(time.Hour), MaxUses: 10}))
	old := signed(t, jwt.SigningMethodHS256, keyA, Claims{RegisteredClaims: jwt.RegisteredClaims{Issuer: Issuer, Subject: "alice", ID: "old",
		IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour))}})
	_, err = s.Authenticate(ctx, old)
	require.ErrorIs(t, err, ErrUnauthenticated)
	assert.ErrorContains(t, err, "not bound to an account", "the message tells the holder to log in again")
}

// When every password-check slot is taken (and the queue is full), a login is refused
// at once with ErrBusy, and so is hashing a new password.
func TestPasswordChecksAreBounded(t *testing.T) {
	ctx := context.Background()
	gate := throttle.NewGate(1, 0, 0, "password checks")
	s, _ := newService(t, secrets.Static{Current: keyA}, Options{PasswordChecks: gate})
	release, err := gate.Acquire(ctx)
	require.NoError(t, err)
	_, err = s.Login(ctx, "alice", "correct horse")
	require.ErrorIs(t, err, throttle.ErrBusy)
	_, err = s.Login(ctx, "nobody", "x")
	require.ErrorIs(t, err, throttle.ErrBusy, "unknown users take a slot too")
	_, err = s.HashPassword("a new password")
	require.ErrorIs(t, err, throttle.ErrBusy)
	release()
	_, err = s.Login(ctx, "alice", "correct horse")
	require.NoError(t, err)
	assert.Zero(t, gate.InUse(), "every check gives its slot back")
}

func TestPasswordCheckLimit(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		mem   int64
		procs int
		want  int
	}{
		{460 * mib, 2, 2},                // a 512 MiB task (GOMEMLIMIT 460MiB) on 2 CPUs: CPU-bound
		{460 * mib, 64, 12},              // memory-bound: half of 460 MiB in 19 MiB checks
		{math.MaxInt64, 64, 13},          // no limit set: the 512 MiB default budget
		{0, 64, 13},                      // likewise
		{16 * mib, 4, 1},                 // never fewer than one
		{4 << 30, 8, 8},                  // a large task: as many as CPUs
		{DefaultMemoryBudget, 1, 1},      // one CPU
		{DefaultMemoryBudget * 10, 1, 1}, // memory does not buy CPUs
	} {
		assert.Equal(t, c.want, PasswordCheckLimit(c.mem, DefaultArgon2, c.procs), "%d bytes, %d CPUs", c.mem, c.procs)
	}
}

func TestExpiryIsTenHours(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Now()}
	s, _ := newService(t, secrets.Static{Current: keyA}, Options{Now: clk.Now})
	tok, err := s.Login(ctx, "alice", "correct horse")
	require.NoError(t, err)
	clk.t = clk.t.Add(10*time.Hour - time.Minute)
	_, err = s.Authenticate(ctx, tok)
	require.NoError(t, err)
	clk.t = clk.t.Add(2 * time.Minute)
	_, err = s.Authenticate(ctx, tok)
	assert.ErrorIs(t, err, ErrUnauthenticated)
}

func TestPreviousKeyStillVerifies(t *testing.T) {
	ctx := context.Background()
	st, err := embedded.Open(t.TempDir())
	require.NoError(t, err)
	defer st.Close()
	require.NoError(t, st.CreateUser(ctx, storage.User{Name: "alice"}))
	alice, err := st.GetUser(ctx, "alice")
	require.NoError(t, err)
	old, err := New(st, secrets.Static{Current: keyA}, Options{Argon2: fastArgon2})
	require.NoError(t, err)
	tok, err := old.Issue(ctx, alice)
	require.NoError(t, err)

	rotated, err := New(st, secrets.Static{Current: keyB, Previous: keyA}, Options{Argon2: fastArgon2})
	require.NoError(t, err)
	_, err = rotated.Authenticate(ctx, tok)
	require.NoError(t, err)

	dropped, err := New(st, secrets.Static{Current: keyB}, Options{Argon2: fastArgon2})
	require.NoError(t, err)
	_, err = dropped.Authenticate(ctx, tok)
	assert.ErrorIs(t, err, ErrUnauthenticated)
}

func TestDeletedUserLosesAccess(t *testing.T) {
	ctx := context.Background()
	s, st := newService(t, secrets.Static{Current: keyA}, Options{})
	tok, err := s.Login(ctx, "alice", "correct horse")
	require.NoError(t, err)
	require.NoError(t, st.DeleteUser(ctx, "alice"))
	_, err = s.Authenticate(ctx, tok)
	assert.ErrorIs(t, err, ErrUnauthenticated)
}
