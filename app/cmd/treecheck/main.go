// Command treecheck fails when the git working tree holds what must not be committed: a
// compiled binary (tracked, or untracked and not ignored), a Go file gofmt would change,
// or a command whose `go build` output .gitignore does not ignore. `make check` runs it.
//
//	go run ./app/cmd/treecheck [dir]
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/acme/module-registry/app/treecheck"
)

func main() {
	flag.Parse()
	dir := "."
	if flag.NArg() > 0 {
		dir = flag.Arg(0)
	}
	r, err := treecheck.Check(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "treecheck:", err)
		os.Exit(1)
	}
	report := func(title string, problems []treecheck.Problem) {
		if len(problems) == 0 {
			return
		}
		fmt.Fprintln(os.Stderr, title)
		for _, p := range problems {
			fmt.Fprintln(os.Stderr, "  "+p.String())
		}
	}
	report("compiled binaries must not be committed: delete them (git rm --cached if tracked) or ignore them in .gitignore:", r.Binaries)
	report("gofmt would change (run gofmt -w on them):", r.Unformatted)
	report("build outputs that .gitignore does not ignore (add them there):", r.UnignoredBuildOutputs)
	if !r.OK() {
		os.Exit(1)
	}
}
