// Command tfcliconfig writes the Terraform CLI configuration for the machine's provider
// mirror and prints its path, or prints nothing when there is no mirror. The Makefile
// exports the printed path as TF_CLI_CONFIG_FILE. With -lock it also writes the provider
// lock file of a synthesized stack directory from the mirror (see tfmirror.LockProviders).
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/acme/module-registry/app/tfmirror"
)

func main() {
	out := flag.String("out", ".run/terraform.rc", "where to write the CLI configuration")
	lockDir := flag.String("lock", "", "a synthesized stack directory whose missing provider lock file to write from the mirror")
	flag.Parse()
	mirror := tfmirror.Detect()
	path, err := tfmirror.WriteCLIConfigFor(mirror, *out)
	if err == nil && *lockDir != "" {
		err = tfmirror.LockProviders(mirror, *lockDir)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "tfcliconfig:", err)
		os.Exit(1)
	}
	if path != "" {
		fmt.Println(path)
	}
}
