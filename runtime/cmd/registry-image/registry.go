package main

import (
	"context"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/acme/module-registry/runtime/image"
)

// pushRegistry pushes to an OCI registry with the Docker credential chain (~/.docker).
// Loopback registries are spoken to over plain HTTP without -insecure (ggcr's rule).
func pushRegistry(ctx context.Context, ref string, insecure bool, img v1.Image) (string, error) {
	var opts []name.Option
	if insecure {
		opts = append(opts, name.Insecure)
	}
	repo, err := name.NewRepository(ref, opts...)
	if err != nil {
		return "", usageError{"-registry: " + err.Error()}
	}
	return image.PushRegistry(ctx, repo, img, remote.WithAuthFromKeychain(authn.DefaultKeychain))
}
