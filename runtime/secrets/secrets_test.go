package secrets

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestFromEnv(t *testing.T) {
	good := strings.Repeat("s", 32)
	p, err := FromEnv(env(map[string]string{EnvSecret: good, EnvPreviousSecret: strings.Repeat("p", 40)}))
	require.NoError(t, err)
	k, err := p.Keys(context.Background())
	require.NoError(t, err)
	assert.Equal(t, good, string(k.Current))
	assert.Len(t, k.Verification(), 2)

	_, err = FromEnv(env(nil))
	assert.ErrorIs(t, err, ErrNoSecret)
	_, err = FromEnv(env(map[string]string{EnvSecret: "short"}))
	assert.ErrorContains(t, err, "at least 32 bytes")
	_, err = FromEnv(env(map[string]string{EnvSecret: good, EnvPreviousSecret: "short"}))
	assert.ErrorContains(t, err, EnvPreviousSecret)
}

func TestResolve(t *testing.T) {
	t.Setenv("REGISTRY_QUIET_DEV_WARNING", "1")
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	_, err := Resolve(env(nil), true, log)
	assert.ErrorContains(t, err, "required in production")

	p, err := Resolve(env(nil), false, log)
	require.NoError(t, err)
	k, err := p.Keys(context.Background())
	require.NoError(t, err)
	assert.Len(t, k.Current, 32)
	assert.Contains(t, logs.String(), "DEVELOPMENT JWT SECRET")

	p2, err := Resolve(env(nil), false, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	require.NoError(t, err)
	k2, _ := p2.Keys(context.Background())
	assert.NotEqual(t, k.Current, k2.Current, "each generated secret is random")

	_, err = Resolve(env(map[string]string{EnvSecret: "short"}), false, log)
	assert.Error(t, err, "a bad explicit secret is never silently replaced")
}
