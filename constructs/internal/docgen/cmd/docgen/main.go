// Command docgen rewrites the generated reference section of every construct README
// under a constructs directory from the packages' Go source:
//
//	go run ./constructs/internal/docgen/cmd/docgen constructs
//
// It prints each README it rewrote and fails, naming the file, when a construct package
// has no README or its README lacks the markers.
package main

import (
	"fmt"
	"os"

	"github.com/acme/module-registry/constructs/internal/docgen"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: docgen <constructs directory>")
		os.Exit(2)
	}
	written, err := docgen.WriteReadmes(os.Args[1])
	for _, name := range written {
		fmt.Println("docgen: wrote", name)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "docgen:", err)
		os.Exit(1)
	}
}
