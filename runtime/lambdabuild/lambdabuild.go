// Package lambdabuild builds a Go Lambda function for the provided.al2023 runtime without
// Docker: a static Linux binary named bootstrap (runtime/image's compiler: -trimpath, no
// build id, no VCS stamp, CGO off), zipped with a fixed timestamp and mode so that the
// same source and toolchain give the same bytes, and so the same source_code_hash: an
// unchanged function is not redeployed.
//
//	zip, err := lambdabuild.Build(ctx, lambdabuild.Options{Package: "./runtime/cmd/rotate-secret"})
//	err = lambdabuild.Write(".run/lambda/rotate-secret.zip", zip)
//
// main.go builds the rotation function this way before synth; constructs/secretrotation
// reads the zip (it never builds).
package lambdabuild

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/acme/module-registry/runtime/image"
)

// Handler is the file the provided.al2023 runtime executes.
const Handler = "bootstrap"

// Architectures: the Lambda name of each GOARCH.
var Architectures = map[string]string{"amd64": "x86_64", "arm64": "arm64"}

// Options configures Build.
type Options struct {
	// ModuleDir is the Go module to build in. Default: the nearest directory holding a
	// go.mod, from the working directory up.
	ModuleDir string
	// Package is the main package, relative to ModuleDir. Required.
	Package string
	// Arch is GOARCH, amd64 or arm64. Default: arm64 (Graviton: cheaper per invocation).
	Arch string
}

// DefaultArch is the architecture Build compiles for by default.
const DefaultArch = "arm64"

// zipTime stamps the one entry: zip stores local times from 1980 on, so the epoch is out.
var zipTime = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

// Build compiles opts.Package and returns the function's deployment package.
func Build(ctx context.Context, opts Options) ([]byte, error) {
	if opts.Package == "" {
		return nil, errors.New("lambdabuild: Package is required")
	}
	arch := opts.Arch
	if arch == "" {
		arch = DefaultArch
	}
	if _, ok := Architectures[arch]; !ok {
		return nil, fmt.Errorf("lambdabuild: architecture %q is not amd64 or arm64", arch)
	}
	bin, err := image.Compile(ctx, opts.ModuleDir, opts.Package, arch)
	if err != nil {
		return nil, err
	}
	return Zip(bin)
}

// Zip packs binary as the executable bootstrap, with fixed metadata.
func Zip(binary []byte) ([]byte, error) {
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	h := &zip.FileHeader{Name: Handler, Method: zip.Deflate, Modified: zipTime}
	h.SetMode(0o755) // Lambda runs bootstrap only when it is executable
	f, err := w.CreateHeader(h)
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(binary); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Write stores the package at path, creating its directory, and replaces an existing
// file only when the bytes differ (its time then says when the function last changed).
func Write(path string, pkg []byte) error {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, pkg) {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("lambdabuild: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, pkg, 0o644); err != nil {
		return fmt.Errorf("lambdabuild: %w", err)
	}
	return os.Rename(tmp, path)
}

// StandIn writes a deployment package holding a stand-in bootstrap into dir and returns
// its path: for tests that synthesize (which reads only the package's hash) without
// compiling the function.
func StandIn(dir string) (string, error) {
	pkg, err := Zip([]byte("#!/bin/sh\n"))
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "stand-in.zip")
	return path, os.WriteFile(path, pkg, 0o644)
}
