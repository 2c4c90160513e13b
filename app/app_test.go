package app_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/app"
	"github.com/acme/module-registry/app/config"
	"github.com/acme/module-registry/constructs/compliance"
	"github.com/acme/module-registry/stacks"
)

func synth(t *testing.T, vars map[string]string) map[string][]byte {
	t.Helper()
	cfg, err := config.Load(func(k string) string { return vars[k] })
	require.NoError(t, err)
	out := t.TempDir()
	app.New(cfg, out).Synth()
	files, err := filepath.Glob(filepath.Join(out, "stacks", "*", "cdk.tf.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	stackJSON := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		stackJSON[filepath.Base(filepath.Dir(f))] = b
	}
	return stackJSON
}

// Every stack of every environment holds to the IAM invariant.
func TestNoIAMWildcardsInAnyStack(t *testing.T) {
	for _, env := range []string{"local", "dev", "prod"} {
		for name, body := range synth(t, map[string]string{"ACME_ENV": env}) {
			v, err := compliance.CheckIAMWildcards(body)
			require.NoError(t, err)
			assert.Empty(t, v, "%s/%s", env, name)
		}
	}
}

func TestEnvironmentsWireProviderAndBackend(t *testing.T) {
	type tree struct {
		Terraform struct {
			Backend           map[string]map[string]any `json:"backend"`
			RequiredProviders map[string]map[string]any `json:"required_providers"`
		} `json:"terraform"`
		Provider map[string][]map[string]any `json:"provider"`
	}
	var local, prod tree
	require.NoError(t, json.Unmarshal(synth(t, map[string]string{"ACME_AWS_ENDPOINT": "http://127.0.0.1:4566"})[stacks.RegistryStackName], &local))
	require.NoError(t, json.Unmarshal(synth(t, map[string]string{"ACME_ENV": "prod", "ACME_ACCOUNT_ID": "111122223333"})[stacks.RegistryStackName], &prod))

	for _, tr := range []tree{local, prod} {
		assert.Equal(t, stacks.AWSProviderConstraint, tr.Terraform.RequiredProviders["aws"]["version"])
	}

	lp := local.Provider["aws"][0]
	assert.Equal(t, "http://127.0.0.1:4566", lp["endpoints"].([]any)[0].(map[string]any)["s3"])
	assert.Equal(t, true, lp["s3_use_path_style"])
	assert.Equal(t, true, lp["skip_credentials_validation"])
	require.Contains(t, local.Terraform.Backend, "local")
	assert.Regexp(t, `^/.+/registry\.tfstate$`, local.Terraform.Backend["local"]["path"])

	pp := prod.Provider["aws"][0]
	assert.NotContains(t, pp, "endpoints")
	assert.NotContains(t, pp, "access_key")
	assert.Equal(t, []any{"111122223333"}, pp["allowed_account_ids"])
	s3 := prod.Terraform.Backend["s3"]
	require.NotNil(t, s3)
	assert.Equal(t, "acme-tfstate-111122223333-us-east-1", s3["bucket"])
	assert.Equal(t, "prod/registry.tfstate", s3["key"])
	assert.Equal(t, true, s3["encrypt"])
	assert.Equal(t, true, s3["use_lockfile"])
}
