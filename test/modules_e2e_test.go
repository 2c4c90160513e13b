package test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/runtime/client"
	"github.com/acme/module-registry/runtime/client/clienttest"
	"github.com/acme/module-registry/runtime/moduleaddr"
	"github.com/acme/module-registry/runtime/storage/awsstore/awsstoretest"
	"github.com/acme/module-registry/test/emulator"
)

// moduleHost is the host name module sources use; the CLI configuration sends it to
// the local registry.
const moduleHost = "registry.acme.internal"

// TestTerraformInitFromTheRegistry publishes a module to a registry process (embedded
// backend), has `terraform init` install it by <host>/<namespace>/<name>/<system> with
// a version constraint, and then shows both integrity checks at work: archive bytes
// altered on their way to Terraform are refused by Terraform itself, because the
// registry's download answer carries the archive's checksum, and stored bytes altered
// behind the registry's back are refused by the registry.
func TestTerraformInitFromTheRegistry(t *testing.T) {
	t.Parallel()
	require.NoError(t, emulator.RequireTerraform())
	ctx := context.Background()

	dataDir := t.TempDir()
	secret := make([]byte, 32)
	_, err := rand.Read(secret)
	require.NoError(t, err)
	const password = "modules-admin-password"
	addr := startRuntime(t, map[string]string{
		"REGISTRY_DATA_DIR": dataDir, "REGISTRY_ADMIN_PASSWORD": password,
		"JWT_SECRET": base64.StdEncoding.EncodeToString(secret),
	}, "", "")
	base := "http://" + addr
	c, err := client.New(base, nil)
	require.NoError(t, err)
	_, err = c.Login(ctx, "admin", password)
	require.NoError(t, err)

	// Three versions; "~> 1.0" must pick 1.1.0.
	mod, err := moduleaddr.Parse("acme/greeter/null")
	require.NoError(t, err)
	published := map[string]client.Package{}
	for _, v := range []string{"1.0.0", "1.1.0", "2.0.0"} {
		pkg, err := c.PublishModuleDir(ctx, mod, v, greeterModule(t, v), nil)
		require.NoError(t, err)
		published[v] = pkg
	}
	var evil bytes.Buffer
	require.NoError(t, client.PackModule(greeterModule(t, "evil"), &evil))

	token := strings.TrimPrefix(c.Token(), "bearer ")
	direct := cliConfig(t, base, token)

	// 1. Installed and used.
	requireInstalls(t, direct)

	// 2. The archive altered in transit (a proxy, cache or mirror between Terraform and
	// the registry serving another valid module): Terraform verifies the checksum the
	// download answer gave it and refuses before unpacking.
	proxy := tamperingProxy(t, base, evil.Bytes())
	root := rootModule(t)
	out, took, err := runTerraform(root, cliConfig(t, proxy, token), "init", "-input=false", "-no-color")
	t.Logf("terraform init through a tampering proxy: %s", took)
	require.Error(t, err, "terraform must refuse the altered archive:\n%s", out)
	assert.Contains(t, out, "Checksums did not match")
	assert.Contains(t, out, published["1.1.0"].SHA256, "the expected checksum is the one the registry recorded")
	assertNotInstalled(t, root, "evil")

	// 3. The stored archive altered behind the registry's back: the registry verifies
	// what it streams and refuses.
	tamperBlob(t, dataDir, published["1.1.0"].SHA256, evil.Bytes())
	root = rootModule(t)
	out, took, err = runTerraform(root, direct, "init", "-input=false", "-no-color")
	t.Logf("terraform init of a tampered stored archive: %s", took)
	require.Error(t, err, "the registry must refuse the tampered archive:\n%s", out)
	assert.Contains(t, out, "bad response code: 500")
	assertNotInstalled(t, root, "evil")
	_, err = c.Open(ctx, mod.PackageName(), "1.1.0", nil)
	assert.ErrorIs(t, err, client.ErrServer, "the package download is refused alike")
}

// TestTerraformInitFromTheRegistryOnS3 installs a module from a registry on the AWS
// backend (against the emulator): the download answer is a presigned URL of the S3
// object version, with the checksum appended, which Terraform fetches from the store.
func TestTerraformInitFromTheRegistryOnS3(t *testing.T) {
	t.Parallel()
	require.NoError(t, emulator.RequireTerraform())
	ctx := context.Background()
	env := awsstoretest.New(t, emulator.Start(t))
	st, _ := env.NewStore(t, nil)
	c := clienttest.StartBackend(t, st.Backend(), nil).Admin(t)
	mod, err := moduleaddr.Parse("acme/greeter/null")
	require.NoError(t, err)

	sums := map[string]string{}
	for _, v := range []string{"1.0.0", "1.1.0", "2.0.0"} {
		pkg, err := c.PublishModuleDir(ctx, mod, v, greeterModule(t, v), nil)
		require.NoError(t, err)
		sums[v] = pkg.SHA256
	}
	loc, err := c.ModuleDownloadURL(ctx, mod, "1.1.0")
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(loc, env.Endpoint()+"/"), "fetched from the store: %s", loc)
	assert.Contains(t, loc, "X-Amz-Signature=")
	assert.Contains(t, loc, "versionId=")
	assert.True(t, strings.HasSuffix(loc, "&archive=tar.gz&checksum=sha256:"+sums["1.1.0"]), loc)
	requireInstalls(t, cliConfig(t, c.BaseURL(), strings.TrimPrefix(c.Token(), "bearer ")))
}

// requireInstalls has `terraform init` install the greeter through the CLI
// configuration rc ("~> 1.0" picks 1.1.0 of 1.0.0, 1.1.0 and 2.0.0) and `terraform
// apply` use it.
func requireInstalls(t *testing.T, rc string) {
	t.Helper()
	root := rootModule(t)
	out, took, err := runTerraform(root, rc, "init", "-input=false", "-no-color")
	require.NoError(t, err, "%s", out)
	t.Logf("terraform init from the registry: %s", took)
	assert.Contains(t, out, "Downloading "+moduleHost+"/acme/greeter/null 1.1.0 for greeter...")
	assert.Equal(t, "1.1.0", installedVersion(t, root))
	out, took, err = runTerraform(root, rc, "apply", "-auto-approve", "-input=false", "-no-color")
	require.NoError(t, err, "%s", out)
	t.Logf("terraform apply: %s", took)
	assert.Contains(t, out, `greeting = "hello from 1.1.0"`)
}

// greeterModule writes a module whose output names version.
func greeterModule(t *testing.T, version string) string {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.tf"), []byte(fmt.Sprintf(
		"output \"greeting\" {\n  value = \"hello from %s\"\n}\n", version)), 0o644))
	return dir
}

// rootModule writes a root module sourcing the greeter from the registry by host name.
func rootModule(t *testing.T) string {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.tf"), []byte(`module "greeter" {
  source  = "`+moduleHost+`/acme/greeter/null"
  version = "~> 1.0"
}

output "greeting" {
  value = module.greeter.greeting
}
`), 0o644))
	return dir
}

// cliConfig writes a Terraform CLI configuration that resolves moduleHost's modules
// service to registry (no HTTPS, no DNS) and sends the token there. The root module
// needs no provider, so no provider installation settings are needed.
func cliConfig(t *testing.T, registry, token string) string {
	path := filepath.Join(t.TempDir(), "terraform.rc")
	require.NoError(t, os.WriteFile(path, []byte(fmt.Sprintf(`host %[1]q {
  services = {
    "modules.v1" = %[2]q
  }
}

credentials %[1]q {
  token = %[3]q
}
`, moduleHost, registry+client.ModulesPath, token)), 0o600))
	return path
}

// runTerraform runs terraform in dir with the CLI configuration rc and nothing else of
// the machine's Terraform settings.
func runTerraform(dir, rc string, args ...string) (string, time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "terraform", args...)
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TF_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "TF_CLI_CONFIG_FILE="+rc, "CHECKPOINT_DISABLE=1", "TF_IN_AUTOMATION=1")
	start := time.Now()
	out, err := cmd.CombinedOutput()
	return string(out), time.Since(start).Round(time.Millisecond), err
}

// installedVersion is the greeter's version in the working directory's module manifest.
func installedVersion(t *testing.T, root string) string {
	b, err := os.ReadFile(filepath.Join(root, ".terraform", "modules", "modules.json"))
	require.NoError(t, err)
	var manifest struct {
		Modules []struct{ Key, Version string }
	}
	require.NoError(t, json.Unmarshal(b, &manifest))
	for _, m := range manifest.Modules {
		if m.Key == "greeter" {
			return m.Version
		}
	}
	t.Fatalf("greeter not in the module manifest: %s", b)
	return ""
}

// assertNotInstalled checks that no installed file holds marker.
func assertNotInstalled(t *testing.T, root, marker string) {
	t.Helper()
	_ = filepath.WalkDir(filepath.Join(root, ".terraform"), func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(path)
			assert.NotContains(t, string(b), marker, "%s was installed", path)
		}
		return nil
	})
}

// tamperingProxy forwards to registry but answers every module archive with other
// bytes, as a compromised cache or mirror on the way would.
func tamperingProxy(t *testing.T, registry string, replacement []byte) string {
	u, err := url.Parse(registry)
	require.NoError(t, err)
	p := httputil.NewSingleHostReverseProxy(u)
	p.ModifyResponse = func(resp *http.Response) error {
		if strings.HasSuffix(resp.Request.URL.Path, "/archive.tar.gz") && resp.StatusCode == http.StatusOK {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			resp.Body = io.NopCloser(bytes.NewReader(replacement))
			resp.ContentLength = int64(len(replacement))
			resp.Header.Set("Content-Length", fmt.Sprint(len(replacement)))
		}
		return nil
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return srv.URL
}

// tamperBlob overwrites the stored blob whose content has the SHA-256 sum.
func tamperBlob(t *testing.T, dataDir, sum string, content []byte) {
	blobs, err := filepath.Glob(filepath.Join(dataDir, "blobs", "*"))
	require.NoError(t, err)
	for _, path := range blobs {
		f, err := os.Open(path)
		require.NoError(t, err)
		got, _, err := client.Digest(f)
		f.Close()
		require.NoError(t, err)
		if got == sum {
			require.NoError(t, os.WriteFile(path, content, 0o600))
			return
		}
	}
	t.Fatalf("no stored blob has the SHA-256 %s", sum)
}
