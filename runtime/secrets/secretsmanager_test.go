package secrets_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/runtime/auth"
	"github.com/acme/module-registry/runtime/secrets"
	"github.com/acme/module-registry/runtime/storage/embedded"
	"github.com/acme/module-registry/test/emulator"
)

var (
	emuOnce sync.Once
	emu     *emulator.Emulator
	emuErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if emu != nil {
		emu.Stop()
	}
	os.Exit(code)
}

// sharedEmulator starts one emulator for the package, on first use only, so
// the unit tests stay free of AWS.
func sharedEmulator(t *testing.T) *emulator.Emulator {
	t.Helper()
	emuOnce.Do(func() { emu, emuErr = emulator.Launch(context.Background(), emulator.Options{}) })
	require.NoError(t, emuErr)
	return emu
}

// failingTransport fails every request while down is set, as an unreachable
// endpoint does.
type failingTransport struct{ down atomic.Bool }

func (f *failingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if f.down.Load() {
		return nil, errors.New("connection refused (injected)")
	}
	return http.DefaultTransport.RoundTrip(r)
}

func smClient(t *testing.T, tr http.RoundTripper) *secretsmanager.Client {
	t.Helper()
	cfg, err := sharedEmulator(t).AWSConfig(context.Background())
	require.NoError(t, err)
	if tr != nil {
		cfg.HTTPClient = &http.Client{Transport: tr}
	}
	return secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) { o.RetryMaxAttempts = 1 })
}

func secretJSON(key string) string {
	return fmt.Sprintf(`{"jwt_secret":%q,"jwt_algorithm":"HS256","jwt_expiration_hours":10,"jwt_max_uses":1000}`, key)
}

var secretSeq atomic.Int32

func createSecret(t *testing.T, c *secretsmanager.Client, value string) string {
	t.Helper()
	name := fmt.Sprintf("acme-jwt-secret-%d", secretSeq.Add(1))
	_, err := c.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{Name: &name, SecretString: &value})
	require.NoError(t, err)
	return name
}

func TestParseSecret(t *testing.T) {
	key, st, err := secrets.ParseSecret(secretJSON(strings.Repeat("k", 32)))
	require.NoError(t, err)
	assert.Equal(t, strings.Repeat("k", 32), string(key))
	assert.Equal(t, secrets.Settings{Algorithm: "HS256", ExpirationHours: 10, MaxUses: 1000}, st)
	assert.Equal(t, 10*time.Hour, st.TokenTTL())

	for doc, want := range map[string][]string{
		`not json`: {"not a JSON object"},
		`{}`:       {"jwt_secret is missing", "jwt_algorithm is missing", "jwt_expiration_hours is missing", "jwt_max_uses is missing"},
		`{"jwt_secret":"short","jwt_algorithm":"HS512","jwt_expiration_hours":0,"jwt_max_uses":1.5}`: {
			"jwt_secret must be at least 32 bytes, got 5", `jwt_algorithm must be HS256, got "HS512"`,
			"jwt_expiration_hours must be a whole number from 1 to 24, got 0", "jwt_max_uses must be a whole number >= 1, got 1.5"},
		`{"jwt_secret":"` + strings.Repeat("k", 32) + `","jwt_algorithm":"HS256","jwt_expiration_hours":"10","jwt_max_uses":1}`: {"jwt_expiration_hours"},
	} {
		_, _, err := secrets.ParseSecret(doc)
		require.Error(t, err, doc)
		for _, w := range want {
			assert.Contains(t, err.Error(), w, doc)
		}
	}
}

func TestRotationKeepsOldTokensValid(t *testing.T) {
	ctx := context.Background()
	c := smClient(t, nil)
	oldKey, newKey := strings.Repeat("o", 32), strings.Repeat("n", 40)
	name := createSecret(t, c, secretJSON(oldKey))
	sm, err := secrets.NewSecretsManager(ctx, c, secrets.SecretsManagerOptions{Name: name, RefreshInterval: time.Hour})
	require.NoError(t, err)
	defer sm.Close()

	store, err := embedded.Open(t.TempDir())
	require.NoError(t, err)
	defer store.Close()
	svc, err := auth.New(store, sm, auth.Options{Argon2: auth.Argon2Params{Time: 1, MemKiB: 64, Threads: 1}})
	require.NoError(t, err)
	oldTok, err := svc.Issue(ctx, "alice")
	require.NoError(t, err)

	// Rotate: the new value becomes AWSCURRENT, the old one AWSPREVIOUS.
	_, err = c.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: &name, SecretString: aws.String(secretJSON(newKey))})
	require.NoError(t, err)
	require.NoError(t, sm.Refresh(ctx))

	_, err = svc.Verify(ctx, bearer(oldTok))
	require.NoError(t, err, "a token signed before the rotation still verifies")
	newTok, err := svc.Issue(ctx, "alice")
	require.NoError(t, err)
	assert.True(t, signedWith(t, bearer(newTok), newKey), "new tokens are signed with the new secret")
	assert.False(t, signedWith(t, bearer(newTok), oldKey))
	assert.True(t, signedWith(t, bearer(oldTok), oldKey))
}

func bearer(tok string) string {
	return strings.TrimPrefix(strings.TrimPrefix(tok, "bearer "), "Bearer ")
}

func signedWith(t *testing.T, raw, key string) bool {
	t.Helper()
	_, err := jwt.Parse(raw, func(*jwt.Token) (any, error) { return []byte(key), nil }, jwt.WithValidMethods([]string{"HS256"}))
	return err == nil
}

func TestServesCacheWhenSecretsManagerBecomesUnreachable(t *testing.T) {
	ctx := context.Background()
	tr := &failingTransport{}
	c := smClient(t, tr)
	key := strings.Repeat("c", 32)
	name := createSecret(t, c, secretJSON(key))
	var logs syncBuf
	sm, err := secrets.NewSecretsManager(ctx, c, secrets.SecretsManagerOptions{Name: name, RefreshInterval: 20 * time.Millisecond,
		Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	require.NoError(t, err)
	defer sm.Close()

	tr.down.Store(true)
	require.Error(t, sm.Refresh(ctx))
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "serving the cached secret") }, 5*time.Second, 10*time.Millisecond,
		"the background refresh fails and says so")
	k, err := sm.Keys(ctx)
	require.NoError(t, err)
	assert.Equal(t, key, string(k.Current))
}

func TestResolveWhenSecretsManagerUnreachableAtStart(t *testing.T) {
	ctx := context.Background()
	tr := &failingTransport{}
	tr.down.Store(true)
	c := smClient(t, tr)
	var logs syncBuf
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	t.Setenv("REGISTRY_QUIET_DEV_WARNING", "1")

	envOf := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	_, err := secrets.ResolveWithSecretsManager(ctx, secrets.ResolveOptions{Getenv: envOf(nil), Production: true, Logger: log, SecretsManager: c})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no usable JWT secret in production")
	assert.Contains(t, err.Error(), "acme-jwt-secret")
	assert.Contains(t, err.Error(), "JWT_SECRET is not set")

	envKey := strings.Repeat("e", 32)
	r, err := secrets.ResolveWithSecretsManager(ctx, secrets.ResolveOptions{Getenv: envOf(map[string]string{secrets.EnvSecret: envKey}), Production: true, Logger: log, SecretsManager: c})
	require.NoError(t, err)
	assert.Equal(t, "env", r.Source)
	assert.Contains(t, logs.String(), "Secrets Manager unusable at start-up")

	r, err = secrets.ResolveWithSecretsManager(ctx, secrets.ResolveOptions{Getenv: envOf(nil), Production: false, Logger: log, SecretsManager: c})
	require.NoError(t, err)
	assert.Equal(t, "generated", r.Source)

	// Reachable: Secrets Manager wins over JWT_SECRET and brings its settings.
	tr.down.Store(false)
	name := createSecret(t, c, `{"jwt_secret":"`+strings.Repeat("s", 32)+`","jwt_algorithm":"HS256","jwt_expiration_hours":2,"jwt_max_uses":5}`)
	r, err = secrets.ResolveWithSecretsManager(ctx, secrets.ResolveOptions{Getenv: envOf(map[string]string{secrets.EnvSecret: envKey, secrets.EnvSecretName: name}), Production: true, Logger: log, SecretsManager: c})
	require.NoError(t, err)
	defer r.Close()
	assert.Equal(t, "secretsmanager", r.Source)
	require.NotNil(t, r.Settings)
	assert.Equal(t, 5, r.Settings.MaxUses)
	k, err := r.Provider.Keys(ctx)
	require.NoError(t, err)
	assert.Equal(t, strings.Repeat("s", 32), string(k.Current))

	// A malformed secret is refused at start in production, naming the field.
	bad := createSecret(t, c, `{"jwt_secret":"`+strings.Repeat("s", 32)+`","jwt_algorithm":"none","jwt_expiration_hours":2,"jwt_max_uses":5}`)
	_, err = secrets.ResolveWithSecretsManager(ctx, secrets.ResolveOptions{Getenv: envOf(map[string]string{secrets.EnvSecretName: bad}), Production: true, Logger: log, SecretsManager: c})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `jwt_algorithm must be HS256, got "none"`)
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

var _ io.Writer = (*syncBuf)(nil)
