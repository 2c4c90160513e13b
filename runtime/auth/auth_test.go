package auth

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/runtime/secrets"
	"github.com/acme/module-registry/runtime/storage"
	"github.com/acme/module-registry/runtime/storage/embedded"
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

func signed(t *testing.T, method jwt.SigningMethod, key any, claims jwt.RegisteredClaims) string {
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
	require.NoError(t, st.CreateToken(ctx, storage.Token{ID: "id1", User: "alice", ExpiresAt: now.Add(time.Hour), MaxUses: 10}))
	good := jwt.RegisteredClaims{Issuer: Issuer, Subject: "alice", ID: "id1", IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour))}

	_, err := s.Authenticate(ctx, signed(t, jwt.SigningMethodHS256, keyA, good))
	require.NoError(t, err, "control: a correctly signed token passes")

	cases := map[string]string{
		"alg none":      signed(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, good),
		"alg HS384":     signed(t, jwt.SigningMethodHS384, keyA, good),
		"alg HS512":     signed(t, jwt.SigningMethodHS512, keyA, good),
		"wrong key":     signed(t, jwt.SigningMethodHS256, keyB, good),
		"no expiry":     signed(t, jwt.SigningMethodHS256, keyA, jwt.RegisteredClaims{Issuer: Issuer, Subject: "alice", ID: "id1"}),
		"wrong issuer":  signed(t, jwt.SigningMethodHS256, keyA, jwt.RegisteredClaims{Issuer: "x", Subject: "alice", ID: "id1", ExpiresAt: good.ExpiresAt}),
		"unknown id":    signed(t, jwt.SigningMethodHS256, keyA, jwt.RegisteredClaims{Issuer: Issuer, Subject: "alice", ID: "nope", ExpiresAt: good.ExpiresAt}),
		"other subject": signed(t, jwt.SigningMethodHS256, keyA, jwt.RegisteredClaims{Issuer: Issuer, Subject: "mallory", ID: "id1", ExpiresAt: good.ExpiresAt}),
		"empty":         "",
		"no scheme":     strings.TrimPrefix(signed(t, jwt.SigningMethodHS256, keyA, good), "bearer "),
		"basic scheme":  "Basic dXNlcjpwYXNz",
	}
	for name, h := range cases {
		_, err := s.Authenticate(ctx, h)
		assert.ErrorIs(t, err, ErrUnauthenticated, name)
	}

	clk.t = now.Add(2 * time.Hour)
	_, err = s.Authenticate(ctx, signed(t, jwt.SigningMethodHS256, keyA, good))
	assert.ErrorIs(t, err, ErrUnauthenticated, "expired")
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
	old, err := New(st, secrets.Static{Current: keyA}, Options{Argon2: fastArgon2})
	require.NoError(t, err)
	tok, err := old.Issue(ctx, "alice")
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
