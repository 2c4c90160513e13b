// Package treecheck checks a git working tree for what must not be committed: compiled
// binaries (ELF, Mach-O, PE, WebAssembly) tracked or about to be (untracked and not
// ignored), Go files gofmt would change, and commands whose `go build` output .gitignore
// does not ignore. `make check` runs it through app/cmd/treecheck.
package treecheck

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"go/format"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
)

// Problem is one finding: a file and what is wrong with it.
type Problem struct {
	Path, What string
}

func (p Problem) String() string { return p.Path + ": " + p.What }

// Report is every finding in a tree, by check.
type Report struct {
	// Binaries are compiled executables or object files that are tracked, or untracked
	// and not ignored.
	Binaries []Problem
	// Unformatted are Go files gofmt would change.
	Unformatted []Problem
	// UnignoredBuildOutputs are where `go build` in a command's folder would write a
	// binary that .gitignore does not ignore.
	UnignoredBuildOutputs []Problem
}

// OK reports whether the tree passed every check.
func (r Report) OK() bool {
	return len(r.Binaries)+len(r.Unformatted)+len(r.UnignoredBuildOutputs) == 0
}

// Check runs every check on the git working tree at dir.
func Check(dir string) (Report, error) {
	var r Report
	tracked, err := git(dir, "ls-files", "-z")
	if err != nil {
		return r, err
	}
	untracked, err := git(dir, "ls-files", "-z", "--others", "--exclude-standard")
	if err != nil {
		return r, err
	}
	for _, set := range []struct {
		files []string
		state string
	}{{tracked, "tracked"}, {untracked, "untracked and not ignored"}} {
		for _, f := range set.files {
			kind, err := BinaryKind(filepath.Join(dir, f))
			if err != nil {
				return r, err
			}
			if kind != "" {
				r.Binaries = append(r.Binaries, Problem{f, kind + ", " + set.state})
			}
			if strings.HasSuffix(f, ".go") {
				ok, err := Formatted(filepath.Join(dir, f))
				if err != nil {
					return r, err
				}
				if !ok {
					r.Unformatted = append(r.Unformatted, Problem{f, "gofmt would change it"})
				}
			}
		}
	}
	r.UnignoredBuildOutputs, err = unignoredBuildOutputs(dir)
	return r, err
}

// BinaryKind names the compiled format of the file at path ("ELF executable", ...), or
// returns "" for anything else. A file that no longer exists is not a binary.
func BinaryKind(path string) (string, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return "", err
	}
	head := make([]byte, 64)
	n, err := io.ReadFull(f, head)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return "", err
	}
	head = head[:n]
	switch {
	case bytes.HasPrefix(head, []byte("\x7fELF")):
		return "ELF executable", nil
	case hasAnyPrefix(head, "\xfe\xed\xfa\xce", "\xfe\xed\xfa\xcf", "\xce\xfa\xed\xfe", "\xcf\xfa\xed\xfe"):
		return "Mach-O executable", nil
	case bytes.HasPrefix(head, []byte("\xca\xfe\xba\xbe")):
		return "Mach-O universal binary or Java class", nil
	case bytes.HasPrefix(head, []byte("\x00asm")):
		return "WebAssembly module", nil
	case bytes.HasPrefix(head, []byte("MZ")) && len(head) >= 0x40:
		// Text may start with "MZ" too: a PE file has "PE\0\0" where the DOS header points.
		sig := make([]byte, 4)
		if _, err := f.ReadAt(sig, int64(binary.LittleEndian.Uint32(head[0x3c:]))); err == nil && string(sig) == "PE\x00\x00" {
			return "PE executable", nil
		}
	}
	return "", nil
}

func hasAnyPrefix(b []byte, prefixes ...string) bool {
	for _, p := range prefixes {
		if bytes.HasPrefix(b, []byte(p)) {
			return true
		}
	}
	return false
}

// Formatted reports whether the Go file at path is as gofmt prints it. A file that no
// longer exists counts as formatted; one that does not parse does not.
func Formatted(path string) (bool, error) {
	src, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	out, err := format.Source(src)
	return err == nil && bytes.Equal(src, out), nil
}

// unignoredBuildOutputs lists the binaries `go build` would leave in the folders of the
// tree's main packages (named after the package's import path) that git would not ignore.
func unignoredBuildOutputs(dir string) ([]Problem, error) {
	cmd := exec.Command("go", "list", "-e", "-f", `{{if eq .Name "main"}}{{.ImportPath}} {{.Dir}}{{end}}`, "./...")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list in %s: %w%s", dir, err, stderrOf(err))
	}
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	var outputs []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		importPath, pkgDir, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		rel, err := filepath.Rel(root, filepath.Join(pkgDir, path.Base(importPath)))
		if err != nil {
			return nil, err
		}
		outputs = append(outputs, filepath.ToSlash(rel))
	}
	if len(outputs) == 0 {
		return nil, nil
	}
	check := exec.Command("git", "check-ignore", "--no-index", "--stdin", "-z")
	check.Dir = dir
	check.Stdin = strings.NewReader(strings.Join(outputs, "\x00") + "\x00")
	ignoredOut, err := check.Output()
	if exit, ok := err.(*exec.ExitError); ok && exit.ExitCode() == 1 {
		err = nil // none is ignored
	}
	if err != nil {
		return nil, fmt.Errorf("git check-ignore in %s: %w%s", dir, err, stderrOf(err))
	}
	ignored := map[string]bool{}
	for _, p := range strings.Split(string(ignoredOut), "\x00") {
		ignored[p] = true
	}
	var problems []Problem
	for _, o := range outputs {
		if !ignored[o] {
			problems = append(problems, Problem{o, "go build's output here is not in .gitignore"})
		}
	}
	return problems, nil
}

// git runs a git command in dir and splits its NUL-separated output.
func git(dir string, args ...string) ([]string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("git %s in %s: %w%s", strings.Join(args, " "), dir, err, stderrOf(err))
	}
	var files []string
	for _, f := range strings.Split(string(out), "\x00") {
		if f != "" {
			files = append(files, f)
		}
	}
	return files, nil
}

func stderrOf(err error) string {
	if exit, ok := err.(*exec.ExitError); ok && len(exit.Stderr) > 0 {
		return ": " + strings.TrimSpace(string(exit.Stderr))
	}
	return ""
}
