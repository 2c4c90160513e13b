package main

import (
	"flag"
	"io"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/runtime/api"
	"github.com/acme/module-registry/runtime/contract"
	"github.com/acme/module-registry/runtime/throttle"
	"github.com/acme/module-registry/runtime/validator"
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
	assert.Equal(t, api.Limits{
		BodyTimeout: api.DefaultBodyTimeout, ResponseTimeout: api.DefaultResponseTimeout, TransferIdleTimeout: api.DefaultTransferIdleTimeout,
		TransferMinRate: api.DefaultTransferMinRate, MaxJSONBytes: api.DefaultMaxJSONBytes,
		TokenRate: api.DefaultTokenRate, AddressRate: api.DefaultAddressRate,
		NameLoginBackoff: api.DefaultNameLoginBackoff, AddressLoginBackoff: api.DefaultAddressLoginBackoff,
	}, c.Limits)
	assert.Zero(t, c.MaxPasswordChecks, "derived from the memory limit")
}

func TestConfigLimits(t *testing.T) {
	c, err := LoadConfig(nil, envOf(map[string]string{
		"REGISTRY_BODY_TIMEOUT": "2s", "REGISTRY_RESPONSE_TIMEOUT": "1m", "REGISTRY_TRANSFER_IDLE_TIMEOUT": "45s",
		"REGISTRY_TRANSFER_MIN_RATE": "0", "REGISTRY_MAX_JSON_BYTES": "4096",
		"REGISTRY_RATE_PER_TOKEN": "0", "REGISTRY_RATE_PER_ADDRESS": "2.5", "REGISTRY_BURST_PER_ADDRESS": "7",
		"REGISTRY_LOGIN_FREE_FAILURES_PER_NAME": "0", "REGISTRY_LOGIN_MAX_DELAY_PER_NAME": "3s",
		"REGISTRY_LOGIN_FREE_FAILURES_PER_ADDRESS": "50", "REGISTRY_LOGIN_MAX_DELAY_PER_ADDRESS": "2m",
		"REGISTRY_MAX_PASSWORD_CHECKS": "3", "REGISTRY_TRUSTED_PROXIES": "10.0.0.0/16, fd00::/8",
	}), io.Discard)
	require.NoError(t, err)
	l := c.Limits
	assert.Equal(t, 2*time.Second, l.BodyTimeout)
	assert.Equal(t, time.Minute, l.ResponseTimeout)
	assert.Equal(t, 45*time.Second, l.TransferIdleTimeout)
	assert.Negative(t, l.TransferMinRate, "0 means no minimum rate")
	assert.EqualValues(t, 4096, l.MaxJSONBytes)
	assert.True(t, l.TokenRate.IsUnlimited(), "0 means no limit")
	assert.Equal(t, throttle.Rate{PerSecond: 2.5, Burst: 7}, l.AddressRate)
	assert.Equal(t, throttle.BackoffPolicy{Free: 0, Base: time.Second, Max: 3 * time.Second}, l.NameLoginBackoff)
	assert.Equal(t, throttle.BackoffPolicy{Free: 50, Base: time.Second, Max: 2 * time.Minute}, l.AddressLoginBackoff)
	assert.Equal(t, 3, c.MaxPasswordChecks)
	assert.Equal(t, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/16"), netip.MustParsePrefix("fd00::/8")}, l.TrustedProxies)
}

func TestConfigLimitsReportEveryProblem(t *testing.T) {
	_, err := LoadConfig(nil, envOf(map[string]string{
		"REGISTRY_READ_TIMEOUT": "2h", "REGISTRY_WRITE_TIMEOUT": "2h",
		"REGISTRY_BODY_TIMEOUT": "fast", "REGISTRY_TRANSFER_MIN_RATE": "-5", "REGISTRY_MAX_JSON_BYTES": "0",
		"REGISTRY_RATE_PER_TOKEN": "lots", "REGISTRY_BURST_PER_TOKEN": "0", "REGISTRY_LOGIN_MAX_DELAY_PER_NAME": "10ms",
		"REGISTRY_MAX_PASSWORD_CHECKS": "-1", "REGISTRY_TRUSTED_PROXIES": "10.0.0.0/33",
	}), io.Discard)
	require.Error(t, err)
	for _, want := range []string{
		"REGISTRY_READ_TIMEOUT: is no longer read (no whole-request timeout any more: bodies have REGISTRY_BODY_TIMEOUT",
		"REGISTRY_WRITE_TIMEOUT: is no longer read",
		`REGISTRY_BODY_TIMEOUT: "fast" is not a positive duration`,
		`REGISTRY_TRANSFER_MIN_RATE: "-5" is not a non-negative integer`,
		`REGISTRY_MAX_JSON_BYTES: "0" is not a positive integer`,
		`REGISTRY_RATE_PER_TOKEN: "lots" is not a non-negative number of requests per second`,
		`REGISTRY_BURST_PER_TOKEN: "0" is not a positive integer`,
		"REGISTRY_LOGIN_MAX_DELAY_PER_NAME: 10ms is shorter than the first delay 1s",
		`REGISTRY_MAX_PASSWORD_CHECKS: "-1" is not a non-negative integer`,
		`REGISTRY_TRUSTED_PROXIES: "10.0.0.0/33" is neither a CIDR prefix nor an IP address`,
	} {
		assert.Contains(t, err.Error(), want)
	}
}

func TestHelpListsEveryVariable(t *testing.T) {
	var out strings.Builder
	_, err := LoadConfig([]string{"-help"}, envOf(nil), &out)
	require.ErrorIs(t, err, flag.ErrHelp)
	for _, name := range []string{"REGISTRY_BODY_TIMEOUT", "REGISTRY_RESPONSE_TIMEOUT", "REGISTRY_TRANSFER_IDLE_TIMEOUT", "REGISTRY_TRANSFER_MIN_RATE",
		"REGISTRY_MAX_JSON_BYTES", "REGISTRY_RATE_PER_TOKEN", "REGISTRY_BURST_PER_TOKEN", "REGISTRY_RATE_PER_ADDRESS", "REGISTRY_BURST_PER_ADDRESS",
		"REGISTRY_LOGIN_FREE_FAILURES_PER_NAME", "REGISTRY_LOGIN_MAX_DELAY_PER_NAME", "REGISTRY_LOGIN_FREE_FAILURES_PER_ADDRESS",
		"REGISTRY_LOGIN_MAX_DELAY_PER_ADDRESS", "REGISTRY_MAX_PASSWORD_CHECKS", "REGISTRY_TRUSTED_PROXIES", "GOMEMLIMIT"} {
		assert.Contains(t, out.String(), name)
	}
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
	svc := contract.Service{Region: "eu-west-1", Bucket: "team-b-artifacts", KMSKeyID: "arn:aws:kms:eu-west-1:111122223333:key/team-b", JWTSecretName: "team-b-jwt", MemoryMiB: 512,
		Name: "team-b-registry", Validators: contract.ValidatorSizing{PoolSize: 3, MemoryBytes: 48 << 20}}
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
	want, err := api.ParseTrustedProxies(contract.LoadBalancerSources)
	require.NoError(t, err)
	assert.Equal(t, want, c.Limits.TrustedProxies, "the load balancer's X-Forwarded-For is believed")
	assert.Equal(t, "223MiB", env[contract.EnvGoMemLimit], "read by the Go runtime itself; (512 - 3 x (48 + 40)) x 0.9: room for 3 validator children")
	assert.Equal(t, "team-b-registry", c.ServiceName, "the metrics' Service dimension the alarms select")
	assert.Equal(t, validator.Config{Size: 3, MemoryBytes: 48 << 20}, c.Validators)
}

func TestValidatorSettings(t *testing.T) {
	c, err := LoadConfig(nil, envOf(nil), io.Discard)
	require.NoError(t, err)
	assert.Equal(t, validator.Config{}, c.Validators, "the sandbox's defaults")
	assert.Equal(t, contract.DefaultServiceName, c.ServiceName)
	c, err = LoadConfig(nil, envOf(map[string]string{contract.EnvValidatorPoolSize: "8", contract.EnvValidatorDeadline: "2s",
		contract.EnvValidatorMemoryBytes: "33554432"}), io.Discard)
	require.NoError(t, err)
	assert.Equal(t, validator.Config{Size: 8, Deadline: 2 * time.Second, MemoryBytes: 32 << 20}, c.Validators)

	_, err = LoadConfig(nil, envOf(map[string]string{contract.EnvValidatorPoolSize: "0", contract.EnvValidatorDeadline: "6s",
		contract.EnvValidatorMemoryBytes: "1024"}), io.Discard)
	require.Error(t, err)
	for _, want := range []string{
		`REGISTRY_VALIDATOR_POOL_SIZE: "0" is not a pool size of 1-256`,
		`REGISTRY_VALIDATOR_DEADLINE: "6s" is not a duration of 10ms-5s`,
		`REGISTRY_VALIDATOR_MEMORY_BYTES: "1024" is not a number of bytes`,
	} {
		assert.Contains(t, err.Error(), want)
	}
	var out strings.Builder
	_, err = LoadConfig([]string{"-help"}, envOf(nil), &out)
	require.ErrorIs(t, err, flag.ErrHelp)
	for _, name := range []string{contract.EnvValidatorPoolSize, contract.EnvValidatorDeadline, contract.EnvValidatorMemoryBytes, contract.EnvServiceName, "-sandbox-report"} {
		assert.Contains(t, out.String(), name)
	}
}
