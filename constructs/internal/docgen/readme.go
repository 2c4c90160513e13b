package docgen

import (
	"errors"
	"fmt"
	"go/ast"
	"go/build"
	"go/parser"
	"go/token"
	"go/types"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// The markers around the generated section of a README; prose outside them is kept.
const (
	BeginMarker = "<!-- BEGIN GENERATED: reference -->"
	EndMarker   = "<!-- END GENERATED: reference -->"
)

// Splice replaces what lies between the markers of readme with section.
func Splice(readme, section string) (string, error) {
	if n, m := strings.Count(readme, BeginMarker), strings.Count(readme, EndMarker); n != 1 || m != 1 {
		return "", fmt.Errorf("want the markers %s and %s once each, found %d and %d", BeginMarker, EndMarker, n, m)
	}
	before, rest, _ := strings.Cut(readme, BeginMarker)
	_, after, found := strings.Cut(rest, EndMarker)
	if !found {
		return "", fmt.Errorf("%s comes after %s", EndMarker, BeginMarker)
	}
	return before + BeginMarker + "\n" + section + EndMarker + after, nil
}

// Readme is one construct package's README as committed and as its source renders it.
type Readme struct {
	// Path is where the file is, as it was found under the root given to Readmes.
	Path string
	// Name is the path from the root's parent, e.g. "constructs/securebucket/README.md".
	Name string
	Have string
	Want string
}

// Current reports whether the committed README matches its source.
func (r Readme) Current() bool { return r.Have == r.Want }

// Readmes renders the README of every construct package under root (the constructs
// directory). A package whose README is missing, lacks the markers or whose source
// cannot be read is reported in the error, naming the file; the others are returned.
func Readmes(root string) ([]Readme, error) {
	dirs, err := ConstructDirs(root)
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	var out []Readme
	var errs []error
	for _, dir := range dirs {
		r, err := readme(root, filepath.Base(abs), dir)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, r)
	}
	return out, errors.Join(errs...)
}

func readme(root, rootName, dir string) (Readme, error) {
	rel, err := filepath.Rel(root, dir)
	if err != nil {
		return Readme{}, err
	}
	r := Readme{Path: filepath.Join(dir, "README.md"), Name: filepath.ToSlash(filepath.Join(rootName, rel, "README.md"))}
	have, err := os.ReadFile(r.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return r, fmt.Errorf("%s is missing: every construct package has one, with its prose and the markers %s and %s", r.Name, BeginMarker, EndMarker)
	}
	if err != nil {
		return r, err
	}
	p, err := Load(dir)
	if err != nil {
		return r, fmt.Errorf("%s: %w", r.Name, err)
	}
	want, err := Splice(string(have), p.Markdown())
	if err != nil {
		return r, fmt.Errorf("%s: %w", r.Name, err)
	}
	r.Have, r.Want = string(have), want
	return r, nil
}

// WriteReadmes rewrites every construct README under root whose reference section is
// out of date and returns the names of those it wrote.
func WriteReadmes(root string) ([]string, error) {
	readmes, err := Readmes(root)
	var written []string
	for _, r := range readmes {
		if r.Current() {
			continue
		}
		if werr := os.WriteFile(r.Path, []byte(r.Want), 0o644); werr != nil {
			return written, errors.Join(err, werr)
		}
		written = append(written, r.Name)
	}
	return written, err
}

// ConstructDirs lists the construct packages under root: directories, outside internal/
// and testdata/, whose Go source declares New(scope constructs.Construct, id string,
// props *Props). Helper packages (iampolicy, compliance) have no such New.
func ConstructDirs(root string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if path != root && (d.Name() == "internal" || d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) {
			return filepath.SkipDir
		}
		ok, err := declaresConstructNew(path)
		if ok {
			out = append(out, path)
		}
		return err
	})
	return out, err
}

func declaresConstructNew(dir string) (bool, error) {
	files, err := sourceFiles(dir)
	var noGo *build.NoGoError
	if errors.As(err, &noGo) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	fset := token.NewFileSet()
	for _, name := range files {
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.SkipObjectResolution)
		if err != nil {
			return false, err
		}
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil && fd.Name.Name == "New" && isConstructNew(fd.Type) {
				return true, nil
			}
		}
	}
	return false, nil
}

func isConstructNew(ft *ast.FuncType) bool {
	var params []string
	for _, f := range ft.Params.List {
		for range max(1, len(f.Names)) {
			params = append(params, types.ExprString(f.Type))
		}
	}
	return strings.Join(params, ", ") == "constructs.Construct, string, *Props" && ft.Results != nil
}
