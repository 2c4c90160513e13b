package client_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/runtime/client"
	"github.com/acme/module-registry/runtime/client/clienttest"
	"github.com/acme/module-registry/runtime/moduleaddr"
)

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
	}
}

func untar(t *testing.T, archive []byte) map[string]string {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(archive))
	require.NoError(t, err)
	tr := tar.NewReader(gz)
	out := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		require.NoError(t, err)
		b, err := io.ReadAll(tr)
		require.NoError(t, err)
		out[h.Name] = string(b)
	}
}

func pack(t *testing.T, dir string) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, client.PackModule(dir, &buf))
	return buf.Bytes()
}

func TestPackModule(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"main.tf":                            `output "x" { value = 1 }`,
		"modules/sub/main.tf":                `# sub`,
		".terraform/modules/modules.json":    `{}`,
		".git/config":                        `[core]`,
		"terraform.tfstate":                  `{"secret": "in state"}`,
		"terraform.tfstate.backup":           `{}`,
		"examples/basic/terraform.tfvars":    `a = 1`,
		"examples/basic/.terraform.lock.hcl": `# lock`,
	})
	archive := pack(t, dir)
	files := untar(t, archive)
	var names []string
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	assert.Equal(t, []string{"examples/", "examples/basic/", "examples/basic/.terraform.lock.hcl", "examples/basic/terraform.tfvars",
		"main.tf", "modules/", "modules/sub/", "modules/sub/main.tf"}, names)

	// The same tree packs to the same bytes, whatever the files' times.
	require.NoError(t, os.Chtimes(filepath.Join(dir, "main.tf"), time0, time0))
	assert.Equal(t, sum(archive), sum(pack(t, dir)))

	require.NoError(t, os.Symlink("/etc/passwd", filepath.Join(dir, "link")))
	assert.ErrorContains(t, client.PackModule(dir, io.Discard), "only regular files and directories")
	assert.ErrorContains(t, client.PackModule(t.TempDir(), io.Discard), "holds no files")
	assert.ErrorContains(t, client.PackModule(filepath.Join(dir, "main.tf"), io.Discard), "not a directory")
}

func TestPublishAndResolveModule(t *testing.T) {
	reg := clienttest.Start(t, nil)
	c := reg.Admin(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"main.tf": `output "version" { value = "1.1.0" }`})
	addr, err := moduleaddr.Parse("Acme/VPC/aws")
	require.NoError(t, err)

	pkg, err := c.PublishModuleDir(ctx, addr, "1.1.0", dir, nil)
	require.NoError(t, err)
	assert.Equal(t, "tfmodule.acme.vpc.aws", pkg.Name)
	assert.Equal(t, sum(pack(t, dir)), pkg.SHA256)
	_, err = c.PublishModule(ctx, addr, "1.0.0", bytes.NewReader(pack(t, dir)), -1, nil)
	require.NoError(t, err)
	_, err = c.PublishModule(ctx, addr, "v2", strings.NewReader("x"), -1, nil)
	assert.ErrorContains(t, err, "semantic version")

	versions, err := c.ModuleVersions(ctx, addr)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"1.0.0", "1.1.0"}, versions)

	loc, err := c.ModuleDownloadURL(ctx, addr, "1.1.0")
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(loc, reg.URL+client.ModulesPath+"acme/vpc/aws/1.1.0/archive.tar.gz?"), loc)
	assert.Contains(t, loc, "archive=tar.gz&checksum=sha256:"+pkg.SHA256)
	resp, err := http.Get(loc)
	require.NoError(t, err)
	archive, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	assert.Equal(t, `output "version" { value = "1.1.0" }`, untar(t, archive)["main.tf"])

	other, err := moduleaddr.New("acme", "none", "aws")
	require.NoError(t, err)
	_, err = c.ModuleVersions(ctx, other)
	assert.ErrorIs(t, err, client.ErrNotFound)

	// The service discovery names the path the client uses.
	resp, err = http.Get(reg.URL + "/.well-known/terraform.json")
	require.NoError(t, err)
	var disco map[string]string
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&disco))
	resp.Body.Close()
	assert.Equal(t, client.ModulesPath, disco["modules.v1"])
}

// fakeS3Registry answers the presigned endpoints the AWS backend has, with an
// "S3" that refuses bytes other than the signed checksum, as S3 does.
func fakeS3Registry(t *testing.T) (*httptest.Server, *[]byte) {
	var stored []byte
	mux := http.NewServeMux()
	var srv *httptest.Server
	mux.HandleFunc("POST /packages/p/1/upload-url", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			SHA256 string `json:"sha256"`
			Size   int64  `json:"size"`
		}
		require.NoError(t, json.NewDecoder(r.Body).Decode(&body))
		_ = json.NewEncoder(w).Encode(map[string]any{"upload_id": "u1", "method": "PUT", "url": srv.URL + "/s3/object?X-Amz-Signature=sig",
			"headers": map[string]string{"x-amz-checksum-sha256": body.SHA256}, "expires_at": "2030-01-01T00:00:00Z"})
	})
	mux.HandleFunc("PUT /s3/object", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		assert.Empty(t, r.Header.Get("X-Authorization"), "the registry token never goes to the store")
		if sum(b) != r.Header.Get("x-amz-checksum-sha256") {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, "<Error><Code>BadDigest</Code></Error>")
			return
		}
		stored = b
	})
	mux.HandleFunc("POST /packages/p/1/commit", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(map[string]any{"name": "p", "version": "1", "sha256_hash": sum(stored), "size": len(stored)})
	})
	srv = httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, &stored
}

func TestPushPresigned(t *testing.T) {
	srv, stored := fakeS3Registry(t)
	c, err := client.New(srv.URL, &client.Options{Token: "bearer a.b.c"})
	require.NoError(t, err)
	content := []byte("straight to the bucket")
	pkg, err := c.PushPresigned(ctx, "p", "1", bytes.NewReader(content), nil)
	require.NoError(t, err)
	assert.Equal(t, sum(content), pkg.SHA256)
	assert.Equal(t, content, *stored)

	_, err = c.PushPresigned(ctx, "p", "1", bytes.NewReader(content), &client.PushOptions{SHA256: sum([]byte("else"))})
	assert.ErrorIs(t, err, client.ErrIntegrity, "a declared digest the content lacks is refused before anything is sent")
}

var time0 = time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
