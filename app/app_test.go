package app_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/jsii-runtime-go"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/cloudwatchloggroup"
	"github.com/hashicorp/terraform-cdk-go/cdktf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/app"
	"github.com/acme/module-registry/app/config"
	"github.com/acme/module-registry/constructs/compliance"
	"github.com/acme/module-registry/constructs/jwtsecret"
	"github.com/acme/module-registry/runtime/lambdabuild"
	"github.com/acme/module-registry/stacks"
)

const testCert = "arn:aws:acm:us-east-1:111122223333:certificate/1234abcd-12ab-34cd-56ef-1234567890ab"

// fakeLayout writes an OCI image layout holding one (empty) image manifest: synth reads
// only its digest, and building the real image belongs to main.go and runtime/image.
func fakeLayout(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	manifest := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[]}`)
	sum := sha256.Sum256(manifest)
	digest := hex.EncodeToString(sum[:])
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "blobs", "sha256", digest), manifest, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644))
	index := fmt.Sprintf(`{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%d}]}`, digest, len(manifest))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "index.json"), []byte(index), 0o644))
	return dir
}

// fakeZip writes a deployment package holding a stand-in bootstrap: synth reads only its
// hash, and building the real function belongs to main.go and runtime/lambdabuild.
func fakeZip(t *testing.T) string {
	t.Helper()
	path, err := lambdabuild.StandIn(t.TempDir())
	require.NoError(t, err)
	return path
}

func synth(t *testing.T, vars map[string]string) map[string][]byte {
	t.Helper()
	if vars["ACME_IMAGE_LAYOUT"] == "" {
		vars["ACME_IMAGE_LAYOUT"] = fakeLayout(t)
	}
	if vars["ACME_ROTATION_ZIP"] == "" {
		vars["ACME_ROTATION_ZIP"] = fakeZip(t)
	}
	if env := vars["ACME_ENV"]; (env == "dev" || env == "prod") && vars["ACME_CERTIFICATE_ARN"] == "" {
		vars["ACME_CERTIFICATE_ARN"] = testCert // dev and prod serve HTTPS only
	}
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

// Every stack of every environment holds to the security invariants (the aspect would
// already have failed synth; this also proves each environment synthesizes).
func TestEveryStackIsCompliant(t *testing.T) {
	want := map[string][]string{
		"local": {stacks.RegistryStackName},
		"dev":   {stacks.BootstrapStackName, stacks.GovernanceStackName, stacks.RegistryStackName},
		"prod":  {stacks.BootstrapStackName, stacks.GovernanceStackName, stacks.RegistryStackName},
	}
	for _, env := range []string{"local", "dev", "prod"} {
		got := synth(t, map[string]string{"ACME_ENV": env})
		var names []string
		opts := compliance.Options{}
		if env == "local" {
			opts.Waivers = stacks.EmulatorWaivers // as stacks.NewBase applies them; none elsewhere
		}
		for name, body := range got {
			names = append(names, name)
			v, err := compliance.Check(body, opts)
			require.NoError(t, err)
			assert.Empty(t, v, "%s/%s", env, name)
		}
		assert.ElementsMatch(t, want[env], names, env)
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
		// The generated secrets need write-only arguments: the registry stack narrows the pin.
		assert.Equal(t, jwtsecret.RequiredAWSProvider, tr.Terraform.RequiredProviders["aws"]["version"])
	}

	lp := local.Provider["aws"][0]
	assert.NotContains(t, lp, "endpoints", "the endpoint is in Terraform's environment (stacks.EmulatorEnv)")
	assert.Equal(t, "http://127.0.0.1:4566", lp["http_proxy"])
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
	assert.NotContains(t, s3, "encrypt", "encrypt alone asks SSE-S3, which the state bucket refuses; its default SSE-KMS applies")
	assert.Equal(t, true, s3["use_lockfile"])

	const stateKey = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	var keyed, boot tree
	out := synth(t, map[string]string{"ACME_ENV": "prod", "ACME_ACCOUNT_ID": "111122223333", "ACME_STATE_KMS_KEY_ARN": stateKey})
	require.NoError(t, json.Unmarshal(out[stacks.RegistryStackName], &keyed))
	assert.Equal(t, true, keyed.Terraform.Backend["s3"]["encrypt"])
	assert.Equal(t, stateKey, keyed.Terraform.Backend["s3"]["kms_key_id"])

	// The bootstrap stack cannot keep its state in the bucket it creates.
	require.NoError(t, json.Unmarshal(out[stacks.BootstrapStackName], &boot))
	require.Contains(t, boot.Terraform.Backend, "local")
	assert.Regexp(t, `/bootstrap-prod\.tfstate$`, boot.Terraform.Backend["local"]["path"])
	assert.Equal(t, []any{"111122223333"}, boot.Provider["aws"][0]["allowed_account_ids"])
	assert.Equal(t, stacks.AWSProviderConstraint, boot.Terraform.RequiredProviders["aws"]["version"])
}

// The app applies the compliance aspect: a non-compliant resource added to any stack
// fails synth with the violations listed.
func TestAppFailsSynthOnViolations(t *testing.T) {
	vars := map[string]string{"ACME_IMAGE_LAYOUT": fakeLayout(t), "ACME_ROTATION_ZIP": fakeZip(t)}
	cfg, err := config.Load(func(k string) string { return vars[k] })
	require.NoError(t, err)
	a := app.New(cfg, t.TempDir())
	stack := cdktf.TerraformStack_Of(a.Node().FindChild(jsii.String(stacks.RegistryStackName)))
	cloudwatchloggroup.NewCloudwatchLogGroup(stack, jsii.String("Unencrypted"), &cloudwatchloggroup.CloudwatchLogGroupConfig{Name: jsii.String("/x")})
	msg := func() (msg string) {
		defer func() { msg = fmt.Sprint(recover()) }()
		a.Synth()
		return ""
	}()
	assert.Contains(t, msg, "compliance: aws_cloudwatch_log_group.Unencrypted: "+compliance.RuleLogsKMS)
	assert.Contains(t, msg, "compliance: aws_cloudwatch_log_group.Unencrypted: "+compliance.RuleLogsRetention)
}
