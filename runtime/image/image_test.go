package image_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/x509"
	"debug/elf"
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/x509roots/fallback/bundle"

	"github.com/acme/module-registry/runtime/image"
)

var (
	registryOnce  sync.Once
	registryImage v1.Image
	registryErr   error
)

// builtRegistry compiles the real registry image once for the package's tests.
func builtRegistry(t *testing.T) v1.Image {
	t.Helper()
	registryOnce.Do(func() {
		start := time.Now()
		registryImage, registryErr = image.Build(context.Background(), image.Options{ModuleDir: moduleRoot(t)})
		t.Logf("built the registry image in %s", time.Since(start).Round(time.Millisecond))
	})
	require.NoError(t, registryErr)
	return registryImage
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := image.FindModuleRoot(".")
	require.NoError(t, err)
	return dir
}

func digestOf(t *testing.T, img v1.Image) v1.Hash {
	t.Helper()
	d, err := img.Digest()
	require.NoError(t, err)
	return d
}

func TestBuildIsReproducible(t *testing.T) {
	first := digestOf(t, builtRegistry(t))
	again, err := image.Build(context.Background(), image.Options{ModuleDir: moduleRoot(t)})
	require.NoError(t, err)
	assert.Equal(t, first, digestOf(t, again), "same source, same digest")

	// What goes into the digest: the file written to disk and re-read is the same image.
	dir := filepath.Join(t.TempDir(), "layout")
	written, err := image.WriteLayout(dir, again)
	require.NoError(t, err)
	assert.Equal(t, first, written)
	read, err := image.ReadLayout(dir)
	require.NoError(t, err)
	assert.Equal(t, first, digestOf(t, read))
}

// A throwaway module whose main package prints msg: a source change must change the digest.
func tinyModule(t *testing.T, msg string) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/tiny\n\ngo 1.26\n"), 0o644))
	src := "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"" + msg + "\") }\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644))
	return dir
}

func TestBuildDigestFollowsTheSource(t *testing.T) {
	build := func(dir string, opts image.Options) v1.Hash {
		opts.ModuleDir, opts.Package = dir, "."
		img, err := image.Build(context.Background(), opts)
		require.NoError(t, err)
		return digestOf(t, img)
	}
	a := tinyModule(t, "a")
	// The same source in another directory: -trimpath keeps the path out of the binary.
	assert.Equal(t, build(a, image.Options{}), build(tinyModule(t, "a"), image.Options{}), "same source elsewhere, same digest")
	assert.NotEqual(t, build(a, image.Options{}), build(tinyModule(t, "b"), image.Options{}), "changed source, changed digest")
	assert.NotEqual(t, build(a, image.Options{}), build(a, image.Options{Arch: "arm64"}), "another architecture")
	later := time.Unix(1700000000, 0)
	assert.NotEqual(t, build(a, image.Options{}), build(a, image.Options{Created: &later}), "another timestamp")
}

func TestCreatedDefaultsToSourceDateEpoch(t *testing.T) {
	dir := tinyModule(t, "epoch")
	created := func() time.Time {
		img, err := image.Build(context.Background(), image.Options{ModuleDir: dir, Package: "."})
		require.NoError(t, err)
		cfg, err := img.ConfigFile()
		require.NoError(t, err)
		for name, f := range layerFiles(t, img) {
			assert.Equal(t, cfg.Created.UTC(), f.hdr.ModTime.UTC(), "%s is stamped like the config", name)
		}
		return cfg.Created.UTC()
	}
	t.Setenv("SOURCE_DATE_EPOCH", "")
	assert.Equal(t, time.Unix(0, 0).UTC(), created(), "the epoch by default")
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	assert.Equal(t, time.Unix(1700000000, 0).UTC(), created())

	t.Setenv("SOURCE_DATE_EPOCH", "yesterday")
	_, err := image.Build(context.Background(), image.Options{ModuleDir: dir, Package: "."})
	assert.ErrorContains(t, err, `SOURCE_DATE_EPOCH="yesterday" must be a non-negative number of seconds`)
}

func TestAssembleRejectsBadInput(t *testing.T) {
	_, err := image.Assemble(nil, "amd64", time.Unix(0, 0))
	assert.ErrorContains(t, err, "binary is empty")
	_, err = image.Assemble([]byte("x"), "s390x", time.Unix(0, 0))
	assert.ErrorContains(t, err, `"s390x" is not supported`)
}

// file is one tar entry of the image's layer.
type file struct {
	hdr  *tar.Header
	body []byte
}

func layerFiles(t *testing.T, img v1.Image) map[string]file {
	t.Helper()
	layers, err := img.Layers()
	require.NoError(t, err)
	require.Len(t, layers, 1, "one layer on an empty base")
	rc, err := layers[0].Uncompressed()
	require.NoError(t, err)
	defer rc.Close()
	out := map[string]file{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		body, err := io.ReadAll(tr)
		require.NoError(t, err)
		out[strings.TrimSuffix(h.Name, "/")] = file{hdr: h, body: body}
	}
	return out
}

// TestPushToRegistryAndReadBack pushes the real image to an in-process OCI registry and
// checks what a runtime would pull: how it starts, who it runs as, what is in it.
func TestPushToRegistryAndReadBack(t *testing.T) {
	img := builtRegistry(t)
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	repo, err := name.NewRepository(strings.TrimPrefix(srv.URL, "http://") + "/acme-registry")
	require.NoError(t, err)

	uri, err := image.PushRegistry(context.Background(), repo, img)
	require.NoError(t, err)
	digest := digestOf(t, img)
	assert.Equal(t, repo.String()+"@"+digest.String(), uri, "pinned by digest")

	ref, err := name.NewDigest(uri)
	require.NoError(t, err)
	pulled, err := remote.Image(ref)
	require.NoError(t, err)
	assert.Equal(t, digest, digestOf(t, pulled))
	mt, err := pulled.MediaType()
	require.NoError(t, err)
	assert.Equal(t, types.OCIManifestSchema1, mt)

	cfg, err := pulled.ConfigFile()
	require.NoError(t, err)
	assert.Equal(t, "linux", cfg.OS)
	assert.Equal(t, "amd64", cfg.Architecture)
	assert.Equal(t, []string{"/registry"}, cfg.Config.Entrypoint)
	assert.Empty(t, cfg.Config.Cmd)
	assert.Equal(t, "65532:65532", cfg.Config.User, "numeric non-root user and group")
	assert.Equal(t, map[string]struct{}{"8080/tcp": {}}, cfg.Config.ExposedPorts)
	assert.Equal(t, time.Unix(0, 0).UTC(), cfg.Created.UTC(), "fixed timestamp")
	for _, h := range cfg.History {
		assert.Equal(t, time.Unix(0, 0).UTC(), h.Created.UTC())
	}

	files := layerFiles(t, pulled)
	names := make([]string, 0, len(files))
	for n, f := range files {
		names = append(names, n)
		assert.Equal(t, time.Unix(0, 0).UTC(), f.hdr.ModTime.UTC(), "%s has the fixed timestamp", n)
		assert.Zero(t, f.hdr.Mode&0o022, "%s is not group- or world-writable", n)
		if n != "home/nonroot" {
			assert.Zero(t, f.hdr.Uid, "%s is owned by root, not writable by the runtime user", n)
		}
		base := filepath.Base(n)
		for _, shell := range []string{"sh", "bash", "ash", "dash", "zsh", "busybox"} {
			assert.NotEqual(t, shell, base, "no shell in the image: found %s", n)
		}
	}
	assert.ElementsMatch(t, []string{
		"etc", "etc/group", "etc/passwd", "etc/ssl", "etc/ssl/certs", "etc/ssl/certs/ca-certificates.crt",
		"home", "home/nonroot", "registry",
	}, names, "nothing but the binary, the CA bundle and the user database")
	assert.NotContains(t, files, "bin/sh")

	bin := files["registry"]
	assert.Equal(t, int64(0o755), bin.hdr.Mode)
	exe, err := elf.NewFile(bytes.NewReader(bin.body))
	require.NoError(t, err, "/registry is an ELF binary")
	assert.Equal(t, elf.EM_X86_64, exe.Machine)
	for _, p := range exe.Progs {
		assert.NotEqual(t, elf.PT_INTERP, p.Type, "static: no dynamic loader needed")
	}

	certs, rest := 0, files["etc/ssl/certs/ca-certificates.crt"].body
	for {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			break
		}
		_, err := x509.ParseCertificate(block.Bytes)
		require.NoError(t, err, "CA bundle certificate %d", certs)
		certs++
	}
	assert.Empty(t, bytes.TrimSpace(rest), "nothing but certificates in the CA bundle")
	assert.Greater(t, certs, 100, "a full root bundle")
	assert.Contains(t, string(files["etc/passwd"].body), "nonroot:x:65532:65532:")
}

func TestWriteLayoutRefusesOtherDirectories(t *testing.T) {
	img, err := image.Assemble([]byte("binary"), "amd64", time.Unix(0, 0))
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "precious.txt"), []byte("keep me"), 0o644))
	_, err = image.WriteLayout(dir, img)
	assert.ErrorContains(t, err, "not an OCI image layout; refusing to overwrite it")
	assert.FileExists(t, filepath.Join(dir, "precious.txt"))

	layout := filepath.Join(t.TempDir(), "layout")
	first, err := image.WriteLayout(layout, img)
	require.NoError(t, err)
	other, err := image.Assemble([]byte("another binary"), "amd64", time.Unix(0, 0))
	require.NoError(t, err)
	second, err := image.WriteLayout(layout, other)
	require.NoError(t, err, "an existing layout is replaced")
	read, err := image.ReadLayout(layout)
	require.NoError(t, err)
	assert.Equal(t, second, digestOf(t, read))
	assert.NotEqual(t, first, second)
}

func TestReadLayoutErrors(t *testing.T) {
	_, err := image.ReadLayout(filepath.Join(t.TempDir(), "missing"))
	assert.ErrorContains(t, err, "is not an OCI image layout")

	img, err := image.Assemble([]byte("binary"), "amd64", time.Unix(0, 0))
	require.NoError(t, err)
	layout := filepath.Join(t.TempDir(), "layout")
	_, err = image.WriteLayout(layout, img)
	require.NoError(t, err)
	// A second image in the same layout: ambiguous, refused.
	indexPath := filepath.Join(layout, "index.json")
	raw, err := os.ReadFile(indexPath)
	require.NoError(t, err)
	var index map[string]any
	require.NoError(t, json.Unmarshal(raw, &index))
	manifests := index["manifests"].([]any)
	index["manifests"] = append(manifests, manifests[0])
	raw, err = json.Marshal(index)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(indexPath, raw, 0o644))
	_, err = image.ReadLayout(layout)
	assert.ErrorContains(t, err, "holds 2 manifests, want exactly one image")
}

func TestParseRepositoryURL(t *testing.T) {
	r, err := image.ParseRepositoryURL("123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/acme-registry")
	require.NoError(t, err)
	assert.Equal(t, image.Repository{RegistryID: "123456789012", Region: "eu-west-1", Name: "team/acme-registry",
		URL: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/acme-registry"}, r)
	for _, bad := range []string{"", "acme-registry", "docker.io/library/alpine", "123.dkr.ecr.us-east-1.amazonaws.com/x",
		"123456789012.dkr.ecr.us-east-1.amazonaws.com/Upper", "123456789012.dkr.ecr.us-east-1.amazonaws.com/a@sha256:00"} {
		_, err := image.ParseRepositoryURL(bad)
		assert.ErrorContains(t, err, "is not an ECR repository URL", bad)
	}
}

// Roots NSS distrusts after a date cannot carry that constraint in a PEM file: they are
// left out, everything else is in.
func TestCABundleLeavesOutConstrainedRoots(t *testing.T) {
	pemBundle := image.CABundle()
	var inBundle [][]byte
	for rest := pemBundle; ; {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			break
		}
		inBundle = append(inBundle, block.Bytes)
	}
	var constrained, unconstrained int
	for root := range bundle.Roots() {
		found := false
		for _, der := range inBundle {
			if bytes.Equal(der, root.Certificate) {
				found = true
				break
			}
		}
		if root.Constraint != nil {
			constrained++
			assert.False(t, found, "a root with a distrust-after constraint is in the bundle")
		} else {
			unconstrained++
			assert.True(t, found, "an unconstrained root is missing from the bundle")
		}
	}
	assert.Len(t, inBundle, unconstrained)
	t.Logf("%d roots in the bundle, %d constrained roots left out", unconstrained, constrained)
}
