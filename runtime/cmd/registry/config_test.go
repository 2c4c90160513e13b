package main

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/runtime/contract"
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

func TestConfigAWSBackendNamesEachMissingVariable(t *testing.T) {
	_, err := LoadConfig(nil, envOf(map[string]string{"REGISTRY_BACKEND": "aws", "AWS_ENDPOINT_URL": "ftp://x", "REGISTRY_TABLE_TOKENS": "x"}), io.Discard)
	require.Error(t, err)
	for _, want := range []string{
		"AWS_REGION: required with REGISTRY_BACKEND=aws",
		`AWS_ENDPOINT_URL: "ftp://x" is not an http(s) URL`,
		"REGISTRY_BUCKET: required with REGISTRY_BACKEND=aws",
		"REGISTRY_KMS_KEY_ID: required with REGISTRY_BACKEND=aws",
		`REGISTRY_TABLE_TOKENS: "x" is not a valid DynamoDB table name`,
	} {
		assert.Contains(t, err.Error(), want)
	}

	c, err := LoadConfig(nil, envOf(map[string]string{"REGISTRY_BACKEND": "aws", "AWS_REGION": "us-east-1", "REGISTRY_BUCKET": "pkg-artifacts",
		"REGISTRY_KMS_KEY_ID": "arn:aws:kms:us-east-1:123456789012:key/k", "REGISTRY_TABLE_USERS": "team-users",
		"REGISTRY_PRODUCTION": "true", "REGISTRY_ADMIN_PASSWORD": "a-long-admin-password"}), io.Discard)
	require.NoError(t, err, "production on aws takes the JWT secret from Secrets Manager, JWT_SECRET is optional")
	assert.Equal(t, "team-users", c.AWS.Tables.Users)
	assert.Equal(t, "packages", c.AWS.Tables.Packages)
	assert.True(t, c.UseSecretsManager)
	assert.Equal(t, "acme-jwt-secret", c.SecretName)

	_, err = LoadConfig(nil, envOf(map[string]string{"REGISTRY_BACKEND": "s3"}), io.Discard)
	require.ErrorContains(t, err, `REGISTRY_BACKEND: "s3" is not embedded or aws`)
}

func TestConfigPresignTTLCapped(t *testing.T) {
	c, err := LoadConfig(nil, envOf(nil), io.Discard)
	require.NoError(t, err)
	assert.Equal(t, 300*time.Second, c.PresignTTL)
	assert.False(t, c.UseSecretsManager, "the embedded default never consults AWS")
	c, err = LoadConfig(nil, envOf(map[string]string{"REGISTRY_PRESIGN_TTL": "2m"}), io.Discard)
	require.NoError(t, err)
	assert.Equal(t, 2*time.Minute, c.PresignTTL)
	_, err = LoadConfig(nil, envOf(map[string]string{"REGISTRY_PRESIGN_TTL": "301s"}), io.Discard)
	require.ErrorContains(t, err, "REGISTRY_PRESIGN_TTL: 5m1s is longer than the 5m0s maximum")
}

func TestHealthcheckFlagNeedsOnlyTheAddress(t *testing.T) {
	c, err := LoadConfig([]string{"-healthcheck"}, envOf(map[string]string{"REGISTRY_ADDR": "0.0.0.0:8080", "REGISTRY_PRODUCTION": "true"}), io.Discard)
	require.NoError(t, err)
	assert.True(t, c.Healthcheck)
	assert.Equal(t, "0.0.0.0:8080", c.Addr)
}

// The runtime half of the deployment contract: the environment a
// deployment writes into the task definition (contract.Service.Environment
// plus the injected secrets), with a name other than the default for every
// table, is what the registry configures itself from.
func TestConfigReadsTheTaskEnvironment(t *testing.T) {
	svc := contract.Service{Region: "eu-west-1", Bucket: "team-b-artifacts", KMSKeyID: "arn:aws:kms:eu-west-1:111122223333:key/team-b", JWTSecretName: "team-b-jwt"}
	for _, tbl := range contract.Tables() {
		svc.Tables = svc.Tables.With(tbl.Kind, "team-b-"+tbl.DefaultName())
	}
	env := svc.Environment()
	secretValues := map[string]string{contract.EnvJWTSecret: strings.Repeat("s", 32), contract.EnvAdminPassword: "a-long-admin-password"}
	for _, v := range contract.SecretVariables() {
		require.Contains(t, secretValues, v, "a valid value for every injected secret")
		env[v] = secretValues[v]
	}

	c, err := LoadConfig(nil, envOf(env), io.Discard)
	require.NoError(t, err)
	assert.Equal(t, BackendAWS, c.Backend)
	assert.Equal(t, AWSConfig{Region: svc.Region, Bucket: svc.Bucket, KMSKeyID: svc.KMSKeyID, Tables: svc.Tables}, c.AWS)
	for _, tbl := range contract.Tables() {
		assert.Equal(t, svc.Tables.Get(tbl.Kind), c.AWS.Tables.Get(tbl.Kind), tbl.EnvVar)
		assert.NotEqual(t, tbl.DefaultName(), c.AWS.Tables.Get(tbl.Kind), "%s: a default would hide an unread variable", tbl.EnvVar)
	}
	assert.Equal(t, svc.JWTSecretName, c.SecretName)
	assert.NotEqual(t, contract.DefaultJWTSecretName, c.SecretName)
	assert.True(t, c.UseSecretsManager)
	assert.True(t, c.Production)
	assert.Equal(t, contract.ListenAddress, c.Addr)
	assert.Equal(t, secretValues[contract.EnvAdminPassword], c.AdminPassword)
}
