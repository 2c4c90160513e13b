package tfmirror_test

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/app/tfmirror"
)

var platform = runtime.GOOS + "_" + runtime.GOARCH

func unpacked(t *testing.T, version string) string {
	dir := t.TempDir()
	bin := filepath.Join(dir, "registry.terraform.io/hashicorp/aws", version, platform, "terraform-provider-aws_v"+version+"_x5")
	require.NoError(t, os.MkdirAll(filepath.Dir(bin), 0o755))
	require.NoError(t, os.WriteFile(bin, nil, 0o755))
	return dir
}

func TestHoldsAWSProvider(t *testing.T) {
	assert.True(t, tfmirror.HoldsAWSProvider(unpacked(t, "5.100.0")))
	assert.True(t, tfmirror.HoldsAWSProvider(unpacked(t, "5.88.0")))
	assert.False(t, tfmirror.HoldsAWSProvider(unpacked(t, "5.87.0")), "older than the bindings")
	assert.False(t, tfmirror.HoldsAWSProvider(unpacked(t, "6.0.0")), "next major")
	assert.False(t, tfmirror.HoldsAWSProvider(t.TempDir()))

	packed := t.TempDir()
	zip := filepath.Join(packed, "registry.terraform.io/hashicorp/aws", "terraform-provider-aws_5.90.1_"+platform+".zip")
	require.NoError(t, os.MkdirAll(filepath.Dir(zip), 0o755))
	require.NoError(t, os.WriteFile(zip, nil, 0o644))
	assert.True(t, tfmirror.HoldsAWSProvider(packed))
}

func TestEnvVarMirrorWinsAndConfigNamesIt(t *testing.T) {
	mirror := unpacked(t, "5.100.0")
	t.Setenv(tfmirror.EnvVar, mirror)
	assert.Equal(t, mirror, tfmirror.Detect())

	env, err := tfmirror.Env(filepath.Join(t.TempDir(), "cli.tfrc"))
	require.NoError(t, err)
	assert.Equal(t, "1", env["CHECKPOINT_DISABLE"])
	body, err := os.ReadFile(env["TF_CLI_CONFIG_FILE"])
	require.NoError(t, err)
	assert.Contains(t, string(body), `path    = "`+mirror+`"`)
	assert.Contains(t, string(body), `include = ["registry.terraform.io/hashicorp/aws"]`)
	assert.Contains(t, string(body), `exclude = ["registry.terraform.io/hashicorp/aws"]`, "other providers still come from the registry")
}

func TestNoMirrorLeavesTerraformAlone(t *testing.T) {
	assert.Empty(t, tfmirror.DetectIn(t.TempDir(), unpacked(t, "4.67.0")))
	path := filepath.Join(t.TempDir(), "cli.tfrc")
	env, err := tfmirror.EnvFor("", path)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"CHECKPOINT_DISABLE": "1"}, env)
	assert.NoFileExists(t, path)
}

// stackDir is a working directory requiring the AWS provider, as cdktf synthesizes one.
func stackDir(t *testing.T) string {
	dir := t.TempDir()
	cfg := `{"terraform":{"required_providers":{"aws":{"source":"hashicorp/aws","version":">= 5.99.0, < 6.0.0"}}}}`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "cdk.tf.json"), []byte(cfg), 0o644))
	return dir
}

func TestLockProvidersWritesTheLockFromTheMirror(t *testing.T) {
	mirror, dir := unpacked(t, "5.100.0"), stackDir(t)
	require.NoError(t, tfmirror.LockProviders(mirror, dir))

	lock, err := os.ReadFile(filepath.Join(dir, tfmirror.LockFileName))
	require.NoError(t, err)
	assert.Contains(t, string(lock), `provider "registry.terraform.io/hashicorp/aws"`)
	assert.Contains(t, string(lock), `version     = "5.100.0"`)
	assert.Contains(t, string(lock), `"h1:`, "hashed from the mirror's package")
}

func TestLockProvidersKeepsAnExistingLockAndNeedsAMirror(t *testing.T) {
	dir := stackDir(t)
	lockPath := filepath.Join(dir, tfmirror.LockFileName)
	require.NoError(t, os.WriteFile(lockPath, []byte("# kept\n"), 0o644))
	require.NoError(t, tfmirror.LockProviders(unpacked(t, "5.100.0"), dir))
	lock, err := os.ReadFile(lockPath)
	require.NoError(t, err)
	assert.Equal(t, "# kept\n", string(lock))

	bare := stackDir(t)
	require.NoError(t, tfmirror.LockProviders("", bare))
	assert.NoFileExists(t, filepath.Join(bare, tfmirror.LockFileName), "no mirror: the cdktf CLI locks from the registry")
}

func TestLockProvidersReportsWhatTerraformSaid(t *testing.T) {
	mirror, dir := unpacked(t, "5.88.0"), stackDir(t) // below the stack's constraint
	err := tfmirror.LockProviders(mirror, dir)
	require.Error(t, err)
	assert.Contains(t, err.Error(), dir)
	assert.Contains(t, err.Error(), mirror)
	assert.Contains(t, err.Error(), "hashicorp/aws", "terraform's own explanation is kept")
	assert.NoFileExists(t, filepath.Join(dir, tfmirror.LockFileName))
}
