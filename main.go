// Command main is the cdktf entry point: it reads the configuration from the environment,
// builds the registry app and synthesizes it into cdktf.out/.
package main

import (
	"fmt"
	"os"

	"github.com/aws/jsii-runtime-go"

	"github.com/acme/module-registry/app"
	"github.com/acme/module-registry/app/config"
)

func main() {
	cfg, err := config.FromEnv()
	if err != nil {
		fmt.Fprintf(os.Stderr, "invalid configuration:\n%v\n", err)
		os.Exit(2)
	}
	if err := synth(cfg); err != nil {
		fmt.Fprintf(os.Stderr, "synth failed:\n%v\n", err)
		os.Exit(1)
	}
}

// synth turns the exception jsii raises for failed validations into an error.
func synth(cfg config.Config) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	defer jsii.Close()
	app.New(cfg, "").Synth()
	return nil
}
