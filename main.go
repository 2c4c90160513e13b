// Command main is the cdktf entry point: it reads the configuration from the environment,
// builds the runtime's container image (reproducibly, without Docker) into
// ACME_IMAGE_LAYOUT and the secrets' rotation function (a Lambda zip, the same way) into
// ACME_ROTATION_ZIP, builds the registry app and synthesizes it into cdktf.out/.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/aws/jsii-runtime-go"

	"github.com/acme/module-registry/app"
	"github.com/acme/module-registry/app/config"
	"github.com/acme/module-registry/runtime/image"
	"github.com/acme/module-registry/runtime/lambdabuild"
)

// rotationPackage is the rotation function's main package.
const rotationPackage = "./runtime/cmd/rotate-secret"

func main() {
	cfg, err := config.FromEnv()
	if err != nil {
		fmt.Fprintf(os.Stderr, "invalid configuration:\n%v\n", err)
		os.Exit(2)
	}
	if err := buildImage(cfg.ImageLayout); err != nil {
		fmt.Fprintf(os.Stderr, "building the runtime image:\n%v\n", err)
		os.Exit(1)
	}
	if err := buildRotation(cfg.RotationZip); err != nil {
		fmt.Fprintf(os.Stderr, "building the rotation function:\n%v\n", err)
		os.Exit(1)
	}
	if err := synth(cfg); err != nil {
		fmt.Fprintf(os.Stderr, "synth failed:\n%v\n", err)
		os.Exit(1)
	}
}

// buildImage writes the runtime's image to dir. The build is reproducible, so the same
// source gives the same digest and an unchanged service is not redeployed.
func buildImage(dir string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	img, err := image.Build(ctx, image.Options{})
	if err != nil {
		return err
	}
	digest, err := image.WriteLayout(dir, img)
	if err != nil {
		return err
	}
	fmt.Printf("runtime image %s in %s\n", digest, dir)
	return nil
}

// buildRotation writes the rotation function's deployment package to path. Like the
// image it is reproducible, so an unchanged source keeps its hash and is not redeployed.
func buildRotation(path string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	zip, err := lambdabuild.Build(ctx, lambdabuild.Options{Package: rotationPackage})
	if err != nil {
		return err
	}
	if err := lambdabuild.Write(path, zip); err != nil {
		return err
	}
	fmt.Printf("rotation function %s\n", path)
	return nil
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
