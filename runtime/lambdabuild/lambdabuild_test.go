package lambdabuild_test

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/runtime/lambdabuild"
)

func tinyModule(t *testing.T, msg string) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module tiny\n\ngo 1.22\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nfunc main() { println(\""+msg+"\") }\n"), 0o644))
	return dir
}

// The package is one executable bootstrap, a static Linux binary, and the same source
// gives the same bytes.
func TestBuildIsAReproducibleBootstrapZip(t *testing.T) {
	dir := tinyModule(t, "rotate")
	build := func(arch string) []byte {
		pkg, err := lambdabuild.Build(context.Background(), lambdabuild.Options{ModuleDir: dir, Package: ".", Arch: arch})
		require.NoError(t, err)
		return pkg
	}
	first := build("")
	assert.Equal(t, first, build(""), "same source, same bytes")

	r, err := zip.NewReader(bytes.NewReader(first), int64(len(first)))
	require.NoError(t, err)
	require.Len(t, r.File, 1)
	f := r.File[0]
	assert.Equal(t, lambdabuild.Handler, f.Name)
	assert.Equal(t, os.FileMode(0o755), f.Mode().Perm(), "executable")
	rc, err := f.Open()
	require.NoError(t, err)
	bin, err := io.ReadAll(rc)
	require.NoError(t, err)
	assert.Equal(t, []byte("\x7fELF"), bin[:4], "a Linux binary")
	assert.Equal(t, byte(0xb7), bin[18], "ELF machine EM_AARCH64 (arm64, the default)")

	other := tinyModule(t, "changed")
	changed, err := lambdabuild.Build(context.Background(), lambdabuild.Options{ModuleDir: other, Package: "."})
	require.NoError(t, err)
	assert.NotEqual(t, first, changed, "another source, other bytes")
}

func TestBuildRefusesBadOptions(t *testing.T) {
	_, err := lambdabuild.Build(context.Background(), lambdabuild.Options{})
	assert.ErrorContains(t, err, "Package is required")
	_, err = lambdabuild.Build(context.Background(), lambdabuild.Options{Package: ".", Arch: "386"})
	assert.ErrorContains(t, err, `"386" is not amd64 or arm64`)
}

func TestWriteKeepsAnUnchangedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fn", "rotate.zip")
	require.NoError(t, lambdabuild.Write(path, []byte("one")))
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.NoError(t, os.Chtimes(path, st.ModTime().Add(-3600e9), st.ModTime().Add(-3600e9)))
	require.NoError(t, lambdabuild.Write(path, []byte("one")))
	again, err := os.Stat(path)
	require.NoError(t, err)
	assert.True(t, again.ModTime().Before(st.ModTime()), "not rewritten")
	require.NoError(t, lambdabuild.Write(path, []byte("two")))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "two", string(b))
}
