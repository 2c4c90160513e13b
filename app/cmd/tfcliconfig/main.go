// Command tfcliconfig writes the Terraform CLI configuration for the machine's provider
// mirror and prints its path, or prints nothing when there is no mirror. The Makefile
// exports the printed path as TF_CLI_CONFIG_FILE.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/acme/module-registry/app/tfmirror"
)

func main() {
	out := flag.String("out", ".run/terraform.rc", "where to write the CLI configuration")
	flag.Parse()
	path, err := tfmirror.WriteCLIConfig(*out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tfcliconfig:", err)
		os.Exit(1)
	}
	if path != "" {
		fmt.Println(path)
	}
}
