package secrets_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/runtime/auth"
	"github.com/acme/module-registry/runtime/contract"
	"github.com/acme/module-registry/runtime/internal/syncbuf"
	"github.com/acme/module-registry/runtime/secrets"
	"github.com/acme/module-registry/runtime/storage"
	"github.com/acme/module-registry/runtime/storage/embedded"
	"github.com/acme/module-registry/test/emulator"
)

// TestSecretsManager runs the tests that need Secrets Manager against one
// emulator; the other tests need no AWS.
func TestSecretsManager(t *testing.T) {
	cfg, err := emulator.Start(t).AWSConfig(context.Background())
	require.NoError(t, err)
	t.Run("RotationKeepsOldTokensValid", func(t *testing.T) { testRotationKeepsOldTokensValid(t, cfg) })
	t.Run("ServesCacheWhenUnreachable", func(t *testing.T) { testServesCacheWhenUnreachable(t, cfg) })
	t.Run("ResolveWhenUnreachableAtStart", func(t *testing.T) { testResolveWhenUnreachableAtStart(t, cfg) })
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

func smClient(cfg aws.Config, tr http.RoundTripper) *secretsmanager.Client {
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
		`{"jwt_secret":5,"jwt_algorithm":"HS256","jwt_expiration_hours":"10","jwt_max_uses":0}`: {
			"jwt_secret must be a JSON string, got 5", `jwt_expiration_hours must be a JSON number, got "10"`, "jwt_max_uses must be a whole number >= 1, got 0"},
	} {
		_, _, err := secrets.ParseSecret(doc)
		require.Error(t, err, doc)
		for _, w := range want {
			assert.Contains(t, err.Error(), w, doc)
		}
	}
}

// The secret's fields are the contract's: a document written with them is
// what the runtime reads.
func TestParseSecretReadsTheContractFields(t *testing.T) {
	doc, err := json.Marshal(map[string]any{
		contract.JWTFieldSecret: strings.Repeat("c", 40), contract.JWTFieldAlgorithm: "HS256",
		contract.JWTFieldExpirationHours: 3, contract.JWTFieldMaxUses: 7,
	})
	require.NoError(t, err)
	key, st, err := secrets.ParseSecret(string(doc))
	require.NoError(t, err)
	assert.Equal(t, strings.Repeat("c", 40), string(key))
	assert.Equal(t, secrets.Settings{Algorithm: "HS256", ExpirationHours: 3, MaxUses: 7}, st)
	assert.Equal(t, contract.EnvJWTSecretName, secrets.EnvSecretName)
	assert.Equal(t, contract.DefaultJWTSecretName, secrets.DefaultSecretName)
}

func testRotationKeepsOldTokensValid(t *testing.T, cfg aws.Config) {
	ctx := context.Background()
	c := smClient(cfg, nil)
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
	alice := storage.User{Name: "alice", ID: storage.NewAccountID()}
	require.NoError(t, store.CreateUser(ctx, alice))
	oldTok, err := svc.Issue(ctx, alice)
	require.NoError(t, err)

	// Rotate: the new value becomes AWSCURRENT, the old one AWSPREVIOUS.
	_, err = c.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: &name, SecretString: aws.String(secretJSON(newKey))})
	require.NoError(t, err)
	require.NoError(t, sm.Refresh(ctx))

	_, err = svc.Verify(ctx, bearer(oldTok))
	require.NoError(t, err, "a token signed before the rotation still verifies")
	newTok, err := svc.Issue(ctx, alice)
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

// When Secrets Manager becomes unreachable after start-up, the cached
// secret keeps being served.
func testServesCacheWhenUnreachable(t *testing.T, cfg aws.Config) {
	ctx := context.Background()
	tr := &failingTransport{}
	c := smClient(cfg, tr)
	key := strings.Repeat("c", 32)
	name := createSecret(t, c, secretJSON(key))
	var logs syncbuf.Buffer
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

func testResolveWhenUnreachableAtStart(t *testing.T, cfg aws.Config) {
	ctx := context.Background()
	tr := &failingTransport{}
	tr.down.Store(true)
	c := smClient(cfg, tr)
	var logs syncbuf.Buffer
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
