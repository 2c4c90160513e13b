package config_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/app/config"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaultsFollowTheSeed(t *testing.T) {
	c, err := config.Load(env(nil))
	require.NoError(t, err)
	assert.Equal(t, config.Local, c.Environment)
	assert.Equal(t, "us-east-1", c.Region)
	assert.Equal(t, "838693051036", c.AccountID)
	assert.Equal(t, "pkg-artifacts", c.ArtifactsBucket)
	assert.Equal(t, "alias/acme-main-key", c.KeyAlias)
	assert.Equal(t, "http://127.0.0.1:5000", c.Endpoint)
	assert.True(t, filepath.IsAbs(c.StateDir), c.StateDir)
	assert.Empty(t, c.StateBucket)
	assert.Equal(t, []string{"10.0.0.0/8"}, c.IngressCidrs, "internal by default")
	assert.False(t, c.InternetFacing)
	assert.True(t, filepath.IsAbs(c.ImageLayout), c.ImageLayout)
}

const testCert = "arn:aws:acm:us-east-1:111122223333:certificate/1234abcd-12ab-34cd-56ef-1234567890ab"

func TestServiceSettingsAreValidated(t *testing.T) {
	_, err := config.Load(env(map[string]string{"ACME_ENV": "dev", "ACME_INGRESS_CIDRS": "10.0.0.0/33,x",
		"ACME_INTERNET_FACING": "yes"}))
	require.Error(t, err)
	for _, want := range []string{
		`config: ACME_INGRESS_CIDRS: "10.0.0.0/33" is not a CIDR`, `config: ACME_INGRESS_CIDRS: "x" is not a CIDR`,
		`config: ACME_INTERNET_FACING: "yes" is not true or false`,
		"config: ACME_CERTIFICATE_ARN: is required in dev: the load balancer serves HTTPS only",
	} {
		assert.Contains(t, err.Error(), want)
	}
	_, err = config.Load(env(map[string]string{"ACME_CERTIFICATE_ARN": "arn:aws:iam::111122223333:server-certificate/x"}))
	assert.ErrorContains(t, err, "is not an ACM certificate ARN")
}

func TestEnvironmentOverrides(t *testing.T) {
	c, err := config.Load(env(map[string]string{
		"ACME_ENV": "prod", "ACME_REGION": "eu-west-1", "ACME_ACCOUNT_ID": "111122223333",
		"ACME_ARTIFACTS_BUCKET": "team-b-artifacts", "ACME_KMS_KEY_ALIAS": "alias/team-b",
		"ACME_CERTIFICATE_ARN": testCert, "ACME_INGRESS_CIDRS": "10.1.0.0/16, 192.168.0.0/24", "ACME_INTERNET_FACING": "true",
	}))
	require.NoError(t, err)
	assert.Equal(t, testCert, c.CertificateArn)
	assert.Equal(t, []string{"10.1.0.0/16", "192.168.0.0/24"}, c.IngressCidrs)
	assert.True(t, c.InternetFacing)
	assert.Equal(t, config.Prod, c.Environment)
	assert.Equal(t, "eu-west-1", c.Region)
	assert.Equal(t, "team-b-artifacts", c.ArtifactsBucket)
	assert.Equal(t, "alias/team-b", c.KeyAlias)
	assert.Equal(t, "acme-tfstate-111122223333-eu-west-1", c.StateBucket)
	assert.Empty(t, c.Endpoint, "no endpoint overrides outside local")
	assert.Empty(t, c.StateDir)
}

func TestEveryInvalidSettingIsReported(t *testing.T) {
	_, err := config.Load(env(map[string]string{
		"ACME_ENV": "staging", "ACME_REGION": "mars-1", "ACME_ACCOUNT_ID": "12345",
		"ACME_ARTIFACTS_BUCKET": "Bad_Bucket", "ACME_KMS_KEY_ALIAS": "alias/aws/s3",
	}))
	require.Error(t, err)
	lines := strings.Split(err.Error(), "\n")
	assert.Equal(t, []string{
		`config: ACME_ENV: "staging" is not an environment; use local, dev or prod`,
		`config: ACME_REGION: "mars-1" is not an AWS region name such as us-east-1`,
		`config: ACME_ACCOUNT_ID: "12345" is not a 12-digit AWS account id`,
		`config: ACME_ARTIFACTS_BUCKET: bucket name "Bad_Bucket" may hold only lowercase letters, digits, dots and hyphens, and must begin and end with a letter or digit`,
		`config: ACME_KMS_KEY_ALIAS: "alias/aws/s3" must be alias/<name> (letters, digits, /_-) and must not start with alias/aws/`,
	}, lines)
}

func TestLocalOnlySettingsAreRefusedElsewhere(t *testing.T) {
	_, err := config.Load(env(map[string]string{
		"ACME_ENV": "dev", "ACME_AWS_ENDPOINT": "http://127.0.0.1:5000", "ACME_STATE_DIR": "/tmp/x",
	}))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "ACME_AWS_ENDPOINT: endpoint overrides are for local only")
	assert.Contains(t, err.Error(), "ACME_STATE_DIR: dev keeps state in the S3 bucket")

	_, err = config.Load(env(map[string]string{"ACME_AWS_ENDPOINT": "127.0.0.1:5000", "ACME_STATE_BUCKET": "x-state",
		"ACME_STATE_KMS_KEY_ARN": "arn:aws:kms:us-east-1:111122223333:key/abc"}))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `ACME_AWS_ENDPOINT: "127.0.0.1:5000" is not an http(s) URL`)
	assert.Contains(t, err.Error(), "ACME_STATE_BUCKET: local keeps state in ACME_STATE_DIR")
	assert.Contains(t, err.Error(), "ACME_STATE_KMS_KEY_ARN: local keeps state in ACME_STATE_DIR")
}

func TestStateKeyMustBeAKeyArn(t *testing.T) {
	_, err := config.Load(env(map[string]string{"ACME_ENV": "prod", "ACME_CERTIFICATE_ARN": testCert, "ACME_STATE_KMS_KEY_ARN": "alias/acme-tfstate-key"}))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `config: ACME_STATE_KMS_KEY_ARN: "alias/acme-tfstate-key" is not a KMS key ARN`)
	c, err := config.Load(env(map[string]string{"ACME_ENV": "prod", "ACME_CERTIFICATE_ARN": testCert, "ACME_STATE_KMS_KEY_ARN": "arn:aws:kms:us-east-1:111122223333:key/abc-1"}))
	require.NoError(t, err)
	assert.Equal(t, "arn:aws:kms:us-east-1:111122223333:key/abc-1", c.StateKMSKeyArn)
}
