package docgen_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/constructs/internal/docgen"
)

// constructsDir is the module's constructs/ directory, seen from this package.
const constructsDir = "../.."

// TestCommittedReadmesMatchSource is the check that keeps every construct README true:
// it renders each one from the current source and compares it with the committed file.
func TestCommittedReadmesMatchSource(t *testing.T) {
	readmes, err := docgen.Readmes(constructsDir)
	if err != nil {
		t.Error(err)
	}
	for _, r := range readmes {
		if !r.Current() {
			t.Errorf("%s does not match the Go source (%s); regenerate it with: %s", r.Name, firstDifference(r.Have, r.Want), docgen.RegenerateCommand)
		}
	}
}

// TestEveryConstructPackageIsFound guards the check above against passing by finding
// nothing.
func TestEveryConstructPackageIsFound(t *testing.T) {
	dirs, err := docgen.ConstructDirs(constructsDir)
	require.NoError(t, err)
	var names []string
	for _, d := range dirs {
		names = append(names, filepath.Base(d))
	}
	assert.Subset(t, names, []string{"audittrail", "containerimage", "encryptionkey", "fargateservice",
		"jwtsecret", "passwordsecret", "registrytables", "securebucket"})
	assert.NotContains(t, names, "iampolicy")
	assert.NotContains(t, names, "compliance")
}

func firstDifference(have, want string) string {
	h, w := strings.Split(have, "\n"), strings.Split(want, "\n")
	for i := range max(len(h), len(w)) {
		var hl, wl string
		if i < len(h) {
			hl = h[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if hl != wl {
			return fmt.Sprintf("line %d: committed %q, source gives %q", i+1, hl, wl)
		}
	}
	return "no line differs"
}

const construct = `package %s

// Props configures it.
type Props struct{}

type Thing struct{}

// New creates it.
func New(scope constructs.Construct, id string, props *Props) *Thing { return nil }
`

// tree writes a constructs directory: name -> file -> content.
func tree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "constructs")
	for path, content := range files {
		full := filepath.Join(root, filepath.FromSlash(path))
		require.NoError(t, os.MkdirAll(filepath.Dir(full), 0o755))
		require.NoError(t, os.WriteFile(full, []byte(content), 0o644))
	}
	return root
}

func source(pkg string) string { return fmt.Sprintf(construct, pkg) }

const markers = docgen.BeginMarker + "\nstale\n" + docgen.EndMarker + "\n"

func TestReadmesNamesMissingReadmesAndMarkers(t *testing.T) {
	root := tree(t, map[string]string{
		"good/good.go":         source("good"),
		"good/README.md":       "# good\n\nProse.\n\n" + markers + "\nMore prose.\n",
		"bare/bare.go":         source("bare"),
		"nomarkers/nm.go":      source("nomarkers"),
		"nomarkers/README.md":  "# nomarkers\n",
		"internal/kit/kit.go":  source("kit"),
		"helper/helper.go":     "package helper\n\nfunc New() {}\n",
		"good/testdata/x.go":   source("x"),
		"nogo/README.md":       "# not a package\n",
		"good/good_test.go":    "package good\n\nfunc New(scope constructs.Construct, id string, props *Other) *Thing { return nil }\n",
		"other/other.go":       "package other\n\ntype Props struct{}\n\nfunc New(scope constructs.Construct, id string, props Props) {}\n",
		"nomarkers/helpers.go": "package nomarkers\n",
	})
	dirs, err := docgen.ConstructDirs(root)
	require.NoError(t, err)
	var found []string
	for _, d := range dirs {
		found = append(found, filepath.Base(d))
	}
	assert.Equal(t, []string{"bare", "good", "nomarkers"}, found, "internal/, testdata/ and packages without the construct New are not constructs")

	readmes, err := docgen.Readmes(root)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "constructs/bare/README.md is missing")
	assert.Contains(t, err.Error(), "constructs/nomarkers/README.md: want the markers")
	require.Len(t, readmes, 1)
	r := readmes[0]
	assert.Equal(t, "constructs/good/README.md", r.Name)
	assert.False(t, r.Current())
	assert.True(t, strings.HasPrefix(r.Want, "# good\n\nProse.\n\n"+docgen.BeginMarker+"\n## Reference\n"), r.Want)
	assert.True(t, strings.HasSuffix(r.Want, "\n"+docgen.EndMarker+"\n\nMore prose.\n"), r.Want)
	assert.NotContains(t, r.Want, "stale")
}

func TestWriteReadmesRewritesOnlyStaleFiles(t *testing.T) {
	root := tree(t, map[string]string{
		"a/a.go": source("a"), "a/README.md": "# a\n" + markers,
		"b/b.go": source("b"), "b/README.md": "# b\n" + markers,
	})
	written, err := docgen.WriteReadmes(root)
	require.NoError(t, err)
	assert.Equal(t, []string{"constructs/a/README.md", "constructs/b/README.md"}, written)

	require.NoError(t, os.WriteFile(filepath.Join(root, "b", "b.go"), []byte(source("b")+"\n// Arn is new.\nfunc (t *Thing) Arn() *string { return nil }\n"), 0o644))
	written, err = docgen.WriteReadmes(root)
	require.NoError(t, err)
	assert.Equal(t, []string{"constructs/b/README.md"}, written)
	b, err := os.ReadFile(filepath.Join(root, "b", "README.md"))
	require.NoError(t, err)
	assert.Contains(t, string(b), "| `Arn()` | `*string` | Arn is new. |")

	written, err = docgen.WriteReadmes(root)
	require.NoError(t, err)
	assert.Empty(t, written, "a second run changes nothing")
}

func TestSplice(t *testing.T) {
	got, err := docgen.Splice("intro\n"+markers+"outro\n", "## Reference\n")
	require.NoError(t, err)
	assert.Equal(t, "intro\n"+docgen.BeginMarker+"\n## Reference\n"+docgen.EndMarker+"\noutro\n", got)

	for name, readme := range map[string]string{
		"no markers":       "intro\n",
		"only the begin":   docgen.BeginMarker + "\n",
		"twice":            markers + markers,
		"end before begin": docgen.EndMarker + "\n" + docgen.BeginMarker + "\n",
	} {
		_, err := docgen.Splice(readme, "x\n")
		assert.Error(t, err, name)
	}
}
