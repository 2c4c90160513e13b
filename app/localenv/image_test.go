package localenv

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/runtime/image"
)

// layoutOf writes an image holding binary as its entrypoint, for linux/arch, to a layout.
func layoutOf(t *testing.T, binary []byte, arch string) string {
	t.Helper()
	img, err := image.Assemble(binary, arch, time.Unix(0, 0))
	require.NoError(t, err)
	dir := filepath.Join(t.TempDir(), "image")
	_, err = image.WriteLayout(dir, img)
	require.NoError(t, err)
	return dir
}

func TestExtractEntrypointWritesTheImagesBinary(t *testing.T) {
	if runtime.GOOS != "linux" || (runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64") {
		t.Skip("the image is built for linux/amd64 or linux/arm64")
	}
	binary := []byte("\x7fELF the registry as deployed")
	out := filepath.Join(t.TempDir(), "bin", "registry")
	require.NoError(t, os.MkdirAll(filepath.Dir(out), 0o755))
	require.NoError(t, os.WriteFile(out, []byte("an older build"), 0o755))

	got, err := extractEntrypoint(layoutOf(t, binary, runtime.GOARCH), out)
	require.NoError(t, err)
	require.Equal(t, out, got)
	body, err := os.ReadFile(out)
	require.NoError(t, err)
	require.Equal(t, binary, body, "the binary is the image's, byte for byte")
	info, err := os.Stat(out)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o755), info.Mode().Perm())
	left, err := filepath.Glob(filepath.Join(filepath.Dir(out), ".registry-*"))
	require.NoError(t, err)
	require.Empty(t, left, "no temporary file is left behind")
}

func TestExtractEntrypointRefusesAnotherArchitecture(t *testing.T) {
	other := "arm64"
	if runtime.GOARCH == "arm64" {
		other = "amd64"
	}
	out := filepath.Join(t.TempDir(), "registry")
	_, err := extractEntrypoint(layoutOf(t, []byte("binary"), other), out)
	require.ErrorIs(t, err, errForeignImage)
	require.NoFileExists(t, out)
}

func TestExtractEntrypointFailsWithoutALayout(t *testing.T) {
	_, err := extractEntrypoint(t.TempDir(), filepath.Join(t.TempDir(), "registry"))
	require.Error(t, err)
	require.NotErrorIs(t, err, errForeignImage, "a missing image is an error, not a reason to build instead")
}
