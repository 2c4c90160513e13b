package config_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/app/config"
)

func TestGovernanceDefaults(t *testing.T) {
	c, err := config.Load(env(map[string]string{"ACME_ENV": "prod", "ACME_CERTIFICATE_ARN": testCert}))
	require.NoError(t, err)
	assert.True(t, filepath.IsAbs(c.RotationZip), c.RotationZip)
	assert.Equal(t, "rotate-secret.zip", filepath.Base(c.RotationZip))
	assert.Equal(t, 30, c.RotationDays)
	assert.Equal(t, "acme/module-registry", c.GitHubRepository)
	assert.Equal(t, "refs/heads/main", c.GitHubDeployRef, "main only, unless an environment is named")
	assert.Empty(t, c.GitHubDeployEnvironment)
	assert.Empty(t, c.GitHubOIDCProviderArn)
	assert.Empty(t, c.CIPermissionsBoundaryArn)
}

func TestGovernanceOverrides(t *testing.T) {
	const provider = "arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"
	const boundary = "arn:aws:iam::111122223333:policy/ci-boundary"
	c, err := config.Load(env(map[string]string{
		"ACME_ENV": "prod", "ACME_CERTIFICATE_ARN": testCert, "ACME_ROTATION_DAYS": "7",
		"ACME_GITHUB_REPOSITORY": "team-b/registry", "ACME_GITHUB_DEPLOY_ENVIRONMENT": "production",
		"ACME_GITHUB_OIDC_PROVIDER_ARN": provider, "ACME_CI_PERMISSIONS_BOUNDARY_ARN": boundary,
	}))
	require.NoError(t, err)
	assert.Equal(t, 7, c.RotationDays)
	assert.Equal(t, "team-b/registry", c.GitHubRepository)
	assert.Equal(t, "production", c.GitHubDeployEnvironment)
	assert.Empty(t, c.GitHubDeployRef, "an environment replaces the default ref")
	assert.Equal(t, provider, c.GitHubOIDCProviderArn)
	assert.Equal(t, boundary, c.CIPermissionsBoundaryArn)
}

// Too-broad subjects, out-of-range schedules and malformed ARNs are each named.
func TestGovernanceSettingsAreValidated(t *testing.T) {
	_, err := config.Load(env(map[string]string{
		"ACME_ENV": "prod", "ACME_CERTIFICATE_ARN": testCert, "ACME_ROTATION_DAYS": "45",
		"ACME_GITHUB_REPOSITORY": "acme/*", "ACME_GITHUB_DEPLOY_REF": "refs/heads/*",
		"ACME_GITHUB_OIDC_PROVIDER_ARN":    "arn:aws:iam::111122223333:oidc-provider/example.com",
		"ACME_CI_PERMISSIONS_BOUNDARY_ARN": "ci-boundary",
	}))
	require.Error(t, err)
	for _, want := range []string{
		"config: ACME_ROTATION_DAYS: 45 is not between 1 and 30 days",
		`config: ACME_GITHUB_REPOSITORY: "acme/*" must be exactly <owner>/<name>, without wildcards`,
		`config: ACME_GITHUB_DEPLOY_REF: "refs/heads/*" must be one branch or tag`,
		`config: ACME_GITHUB_OIDC_PROVIDER_ARN: "arn:aws:iam::111122223333:oidc-provider/example.com" is not the ARN`,
		`config: ACME_CI_PERMISSIONS_BOUNDARY_ARN: "ci-boundary" is not a managed policy ARN`,
	} {
		assert.Contains(t, err.Error(), want)
	}
	for days, want := range map[string]string{"0": `"0" is not a number of days between 1 and 30`, "monthly": `"monthly" is not a number`} {
		_, err = config.Load(env(map[string]string{"ACME_ROTATION_DAYS": days}))
		assert.ErrorContains(t, err, "config: ACME_ROTATION_DAYS: "+want)
	}
	_, err = config.Load(env(map[string]string{"ACME_ENV": "dev", "ACME_CERTIFICATE_ARN": testCert,
		"ACME_GITHUB_DEPLOY_REF": "refs/heads/main", "ACME_GITHUB_DEPLOY_ENVIRONMENT": "dev"}))
	assert.ErrorContains(t, err, "the deploy role trusts one or the other")
	_, err = config.Load(env(map[string]string{"ACME_ENV": "dev", "ACME_CERTIFICATE_ARN": testCert, "ACME_GITHUB_DEPLOY_ENVIRONMENT": "dev*"}))
	assert.ErrorContains(t, err, `config: ACME_GITHUB_DEPLOY_ENVIRONMENT: "dev*" must be one environment name`)
}

// The CI settings matter only where CI deploys: local ignores them.
func TestGovernanceSettingsAreNotCheckedLocally(t *testing.T) {
	_, err := config.Load(env(map[string]string{"ACME_GITHUB_REPOSITORY": "acme/*"}))
	assert.NoError(t, err)
}
