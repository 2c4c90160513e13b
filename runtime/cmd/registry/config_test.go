package main

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestConfigDefaults(t *testing.T) {
	c, err := LoadConfig(nil, envOf(nil), io.Discard)
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:8080", c.Addr)
	assert.Equal(t, "./data", c.DataDir)
	assert.Equal(t, "admin", c.AdminUser)
	assert.Equal(t, int64(5<<30), c.MaxUploadBytes)
	assert.False(t, c.Production)
	assert.Equal(t, 10*time.Second, c.ReadHeaderTimeout)
}

func TestConfigReportsEveryProblem(t *testing.T) {
	_, err := LoadConfig(nil, envOf(map[string]string{
		"REGISTRY_ADDR":             "nonsense",
		"REGISTRY_MAX_UPLOAD_BYTES": "-1",
		"REGISTRY_LOG_LEVEL":        "loud",
		"REGISTRY_IDLE_TIMEOUT":     "soon",
		"REGISTRY_ADMIN_PASSWORD":   "short",
		"REGISTRY_PRODUCTION":       "maybe",
	}), io.Discard)
	require.Error(t, err)
	for _, name := range []string{"REGISTRY_ADDR", "REGISTRY_MAX_UPLOAD_BYTES", "REGISTRY_LOG_LEVEL", "REGISTRY_IDLE_TIMEOUT", "REGISTRY_ADMIN_PASSWORD", "REGISTRY_PRODUCTION"} {
		assert.Contains(t, err.Error(), name)
	}
}

func TestProductionNeedsSecretAndAdmin(t *testing.T) {
	_, err := LoadConfig([]string{"-production"}, envOf(nil), io.Discard)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "JWT_SECRET: required in production")
	assert.Contains(t, err.Error(), "REGISTRY_ADMIN_PASSWORD: required in production")

	_, err = LoadConfig(nil, envOf(map[string]string{"REGISTRY_PRODUCTION": "true", "JWT_SECRET": strings.Repeat("s", 32), "REGISTRY_ADMIN_PASSWORD": "a-long-admin-password"}), io.Discard)
	require.NoError(t, err)
}
