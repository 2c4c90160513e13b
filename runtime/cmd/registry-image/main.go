// Command registry-image builds the registry's container image without Docker and pushes
// it by digest.
//
//	registry-image build -layout build/registry-image            # prints sha256:...
//	registry-image push -layout build/registry-image \
//	    -repository 123456789012.dkr.ecr.us-east-1.amazonaws.com/acme-registry
//	registry-image push -layout build/registry-image -registry localhost:5000/acme-registry
//
// push -repository goes through the ECR API (layer upload, PutImage) with the AWS SDK's
// default configuration: credentials, AWS_REGION and AWS_ENDPOINT_URL come from the
// environment; the region defaults to the one in the repository URL. It prints the image
// URI pinned by digest. push -registry writes to any OCI registry over its HTTP API.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/acme/module-registry/runtime/image"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage:
  registry-image build -layout DIR [-module DIR] [-arch amd64|arm64]
  registry-image push -layout DIR -repository ECR_REPOSITORY_URL [-region REGION] [-digest sha256:...]
  registry-image push -layout DIR -registry HOST/REPOSITORY [-insecure] [-digest sha256:...]
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "build":
		err = build(ctx, args[1:], stdout, stderr)
	case "push":
		err = push(ctx, args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "registry-image: unknown command %q\n%s", args[0], usage)
		return 2
	}
	var usageErr usageError
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &usageErr):
		fmt.Fprintf(stderr, "registry-image %s: %v\n%s", args[0], err, usage)
		return 2
	case err != nil:
		fmt.Fprintf(stderr, "registry-image %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func build(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("build", flag.ContinueOnError)
	fs.SetOutput(stderr)
	layoutDir := fs.String("layout", "", "directory to write the OCI image layout to (replaced if it is a layout)")
	moduleDir := fs.String("module", "", "Go module to build in (default: the module containing the working directory)")
	arch := fs.String("arch", image.DefaultArch, "target architecture: amd64 or arm64")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *layoutDir == "" || fs.NArg() > 0 {
		return usageError{"-layout is required and no arguments are taken"}
	}
	img, err := image.Build(ctx, image.Options{ModuleDir: *moduleDir, Arch: *arch})
	if err != nil {
		return err
	}
	digest, err := image.WriteLayout(*layoutDir, img)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, digest)
	return nil
}

func push(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("push", flag.ContinueOnError)
	fs.SetOutput(stderr)
	layoutDir := fs.String("layout", "", "OCI image layout holding one image (from build)")
	repository := fs.String("repository", "", "ECR repository URL: <account>.dkr.ecr.<region>.amazonaws.com/<name>")
	region := fs.String("region", "", "AWS region (default: the repository URL's)")
	registry := fs.String("registry", "", "push to this OCI registry repository instead of ECR: host[:port]/name")
	insecure := fs.Bool("insecure", false, "with -registry: plain HTTP (for a local registry)")
	want := fs.String("digest", "", "fail unless the layout's image has this digest")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case *layoutDir == "" || fs.NArg() > 0:
		return usageError{"-layout is required and no arguments are taken"}
	case (*repository == "") == (*registry == ""):
		return usageError{"exactly one of -repository and -registry is required"}
	case *registry != "" && *region != "":
		return usageError{"-region applies to -repository only"}
	}
	img, err := image.ReadLayout(*layoutDir)
	if err != nil {
		return err
	}
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	if *want != "" {
		w, err := v1.NewHash(*want)
		if err != nil {
			return usageError{fmt.Sprintf("-digest: %v", err)}
		}
		if w != digest {
			return fmt.Errorf("layout %s holds %s, expected %s: rebuild the layout or synthesize again", *layoutDir, digest, w)
		}
	}

	if *registry != "" {
		uri, err := pushRegistry(ctx, *registry, *insecure, img)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, uri)
		return nil
	}

	repo, err := image.ParseRepositoryURL(*repository)
	if err != nil {
		return usageError{err.Error()}
	}
	if *region == "" {
		*region = repo.Region
	}
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(*region))
	if err != nil {
		return fmt.Errorf("AWS configuration: %w", err)
	}
	res, err := image.PushECR(ctx, ecr.NewFromConfig(cfg), repo, img)
	if err != nil {
		return err
	}
	if res.AlreadyPresent {
		fmt.Fprintf(stderr, "%s already in %s\n", res.Digest, repo.Name)
	} else {
		fmt.Fprintf(stderr, "pushed %s to %s (%d blobs uploaded)\n", res.Digest, repo.Name, len(res.Uploaded))
	}
	fmt.Fprintln(stdout, res.URI)
	return nil
}
