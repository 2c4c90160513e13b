package treecheck

import (
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const goMod = "module example.com/tree\n\ngo 1.22\n"

// repo makes a git repository holding files (path -> content), all added to the index
// except those under untracked/.
func repo(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	gitIn(t, dir, "init", "-q")
	for name, content := range files {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
		if filepath.Dir(name) != "untracked" {
			gitIn(t, dir, "add", name)
		}
	}
	return dir
}

func gitIn(t *testing.T, dir string, args ...string) {
	t.Helper()
	out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).CombinedOutput()
	require.NoError(t, err, "git %v: %s", args, out)
}

// pe is the start of a Windows executable: a DOS header pointing at a PE signature.
func pe() string {
	b := make([]byte, 0x90)
	copy(b, "MZ")
	binary.LittleEndian.PutUint32(b[0x3c:], 0x80)
	copy(b[0x80:], "PE\x00\x00")
	return string(b)
}

func TestCleanTreePasses(t *testing.T) {
	dir := repo(t, map[string]string{
		"go.mod":                goMod,
		"main.go":               "package main\n\nfunc main() {}\n",
		".gitignore":            "/tree\n/cmd/tool/tool\n/untracked/ignored.bin\n",
		"cmd/tool/t.go":         "package main\n\nfunc main() {}\n",
		"README.md":             "MZ is how this text starts, and it is not a program.\n" + string(make([]byte, 80)),
		"untracked/ignored.bin": "\x7fELF ignored, so fine",
	})
	r, err := Check(dir)
	require.NoError(t, err)
	assert.True(t, r.OK(), "%+v", r)
}

func TestTrackedBinaryFails(t *testing.T) {
	for name, content := range map[string]string{
		"registry":       "\x7fELF\x02\x01\x01",
		"tool-darwin":    "\xcf\xfa\xed\xfe\x07\x00\x00\x01",
		"tool.exe":       pe(),
		"plugin.wasm":    "\x00asm\x01\x00\x00\x00",
		"untracked/prog": "\x7fELF\x02\x01\x01",
	} {
		t.Run(name, func(t *testing.T) {
			dir := repo(t, map[string]string{"go.mod": goMod, name: content})
			r, err := Check(dir)
			require.NoError(t, err)
			require.Len(t, r.Binaries, 1, "%+v", r)
			assert.Equal(t, name, r.Binaries[0].Path)
			assert.False(t, r.OK())
		})
	}
}

func TestBinaryKindNamesTheFormat(t *testing.T) {
	dir := t.TempDir()
	for content, want := range map[string]string{
		"\x7fELF\x02":      "ELF executable",
		"\xfe\xed\xfa\xcf": "Mach-O executable",
		"\xca\xfe\xba\xbe": "Mach-O universal binary or Java class",
		"\x00asm\x01":      "WebAssembly module",
		pe():               "PE executable",
		"MZ, then text":    "",
		"package main\n":   "",
		"":                 "",
	} {
		p := filepath.Join(dir, "f")
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
		got, err := BinaryKind(p)
		require.NoError(t, err)
		assert.Equal(t, want, got, "%q", content)
	}
	got, err := BinaryKind(filepath.Join(dir, "deleted"))
	require.NoError(t, err)
	assert.Empty(t, got, "a tracked file deleted from the working tree is no binary")
}

func TestUnformattedGoFails(t *testing.T) {
	dir := repo(t, map[string]string{
		"go.mod":           goMod,
		"ok.go":            "package tree\n\nvar X = 1\n",
		"bad.go":           "package tree\nvar  Y=2\n",
		"untracked/new.go": "package untracked\nfunc  F(){}\n",
	})
	r, err := Check(dir)
	require.NoError(t, err)
	var paths []string
	for _, p := range r.Unformatted {
		paths = append(paths, p.Path)
	}
	assert.ElementsMatch(t, []string{"bad.go", "untracked/new.go"}, paths)
}

func TestUnignoredBuildOutputFails(t *testing.T) {
	dir := repo(t, map[string]string{
		"go.mod":        goMod,
		".gitignore":    "/tree\n",
		"main.go":       "package main\n\nfunc main() {}\n",
		"cmd/tool/t.go": "package main\n\nfunc main() {}\n",
		"lib/lib.go":    "package lib\n",
	})
	r, err := Check(dir)
	require.NoError(t, err)
	require.Len(t, r.UnignoredBuildOutputs, 1, "%+v", r)
	assert.Equal(t, "cmd/tool/tool", r.UnignoredBuildOutputs[0].Path, "the root's output /tree is ignored; a library has none")
}
