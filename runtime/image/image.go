// Package image builds the registry service's container image without Docker: a static
// Go binary of ./runtime/cmd/registry on an empty base, plus a CA bundle and the user
// database entries for the non-root user, written as an OCI image layout.
//
// The build is reproducible: the binary is compiled with -trimpath, no build id and no
// VCS stamp; the layer's tar entries are written in a fixed order with fixed owners,
// modes and timestamps; the config's timestamps are Options.Created (SOURCE_DATE_EPOCH
// or the Unix epoch). The same source and toolchain therefore give the same digest.
//
//	img, err := image.Build(ctx, image.Options{})
//	digest, err := image.WriteLayout("build/registry-image", img)
//
// The CA certificates come from golang.org/x/crypto/x509roots/fallback's bundle (the
// Mozilla NSS roots), pinned in go.mod, rather than the build machine's
// /etc/ssl/certs: the machine's bundle differs between machines and changes with OS
// updates, which would make the digest depend on where the image was built.
package image

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/crypto/x509roots/fallback/bundle"

	"github.com/acme/module-registry/runtime/contract"
)

// What the image contains and how it runs; the ECS task definition relies on these.
const (
	// Entrypoint is the binary's path and the image's entrypoint.
	Entrypoint = contract.Entrypoint
	// User is the numeric non-root user and group the container runs as.
	User = "65532:65532"
	// UID and GID of User.
	UID = 65532
	GID = 65532
	// CABundlePath is where Go's crypto/x509 looks for roots on Linux.
	CABundlePath = "/etc/ssl/certs/ca-certificates.crt"
	// DefaultPackage is the package compiled into the image, relative to the module root.
	DefaultPackage = "./runtime/cmd/registry"
	// DefaultArch is the target architecture (Fargate's default platform).
	DefaultArch = "amd64"
)

// Options configures Build. The zero value builds the registry for linux/amd64 from the
// module containing the working directory.
type Options struct {
	// ModuleDir is the Go module to build in. Default: the nearest directory holding a
	// go.mod, from the working directory up.
	ModuleDir string
	// Package is the main package to compile, relative to ModuleDir. Default:
	// "./runtime/cmd/registry".
	Package string
	// Arch is GOARCH: amd64 or arm64. Default: amd64.
	Arch string
	// Created stamps the image config and every file. Default: SOURCE_DATE_EPOCH from
	// the environment when set, else the Unix epoch.
	Created *time.Time
}

// Build compiles the binary and assembles the image.
func Build(ctx context.Context, opts Options) (v1.Image, error) {
	created, err := createdTime(opts.Created, os.Getenv)
	if err != nil {
		return nil, err
	}
	arch := opts.Arch
	if arch == "" {
		arch = DefaultArch
	}
	bin, err := Compile(ctx, opts.ModuleDir, opts.Package, arch)
	if err != nil {
		return nil, err
	}
	return Assemble(bin, arch, created)
}

// createdTime resolves Options.Created: explicit, SOURCE_DATE_EPOCH, or the epoch.
func createdTime(explicit *time.Time, getenv func(string) string) (time.Time, error) {
	if explicit != nil {
		return explicit.UTC(), nil
	}
	if s := getenv("SOURCE_DATE_EPOCH"); s != "" {
		secs, err := strconv.ParseInt(s, 10, 64)
		if err != nil || secs < 0 {
			return time.Time{}, fmt.Errorf("image: SOURCE_DATE_EPOCH=%q must be a non-negative number of seconds", s)
		}
		return time.Unix(secs, 0).UTC(), nil
	}
	return time.Unix(0, 0).UTC(), nil
}

var goarm = map[string][2]string{
	// The microarchitecture level is pinned so a GOAMD64/GOARM64 in the caller's
	// environment cannot change the binary, and so the image runs on every host.
	"amd64": {"GOAMD64", "v1"},
	"arm64": {"GOARM64", "v8.0"},
}

// Compile builds a static Linux binary of pkg in moduleDir and returns its bytes.
func Compile(ctx context.Context, moduleDir, pkg, arch string) ([]byte, error) {
	level, ok := goarm[arch]
	if !ok {
		return nil, fmt.Errorf("image: architecture %q is not supported (amd64 or arm64)", arch)
	}
	if moduleDir == "" {
		dir, err := FindModuleRoot(".")
		if err != nil {
			return nil, err
		}
		moduleDir = dir
	}
	if pkg == "" {
		pkg = DefaultPackage
	}
	out, err := os.MkdirTemp("", "registry-image-")
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	defer os.RemoveAll(out)
	binPath := filepath.Join(out, "registry")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", binPath,
		"-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid=", pkg)
	cmd.Dir = moduleDir
	cmd.Env = append(os.Environ(),
		"CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch, level[0]+"="+level[1],
		// Flags from the environment (-race, -cover, -tags) would change the binary.
		"GOFLAGS=", "GOEXPERIMENT=",
	)
	var stderr bytes.Buffer
	cmd.Stdout = &stderr
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("image: go build %s in %s: %w\n%s", pkg, moduleDir, err, strings.TrimSpace(stderr.String()))
	}
	bin, err := os.ReadFile(binPath)
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	return bin, nil
}

// FindModuleRoot returns the nearest directory at or above dir that holds a go.mod.
func FindModuleRoot(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("image: %w", err)
	}
	for d := abs; ; {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("image: no go.mod in %s or any parent; run from the module or set the module directory", abs)
		}
		d = parent
	}
}

// CABundle returns the PEM bundle written to CABundlePath: every root of the pinned NSS
// bundle that has no extra constraint. Roots with a distrust-after date are left out: a
// PEM file cannot carry that constraint, and including them would trust certificates
// NSS no longer does.
func CABundle() []byte {
	var buf bytes.Buffer
	for root := range bundle.Roots() {
		if root.Constraint != nil {
			continue
		}
		_ = pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: root.Certificate})
	}
	return buf.Bytes()
}

// Only the user database entries the runtime's user needs; no shell exists, so the
// login shell names a path that is absent on purpose.
const (
	passwd = "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
	group  = "root:x:0:\nnonroot:x:65532:\n"
)

type entry struct {
	name string
	mode int64
	dir  bool
	uid  int
	body []byte
}

// Assemble packs binary as /registry into a one-layer OCI image for linux/arch with
// every timestamp set to created.
func Assemble(binary []byte, arch string, created time.Time) (v1.Image, error) {
	if len(binary) == 0 {
		return nil, errors.New("image: binary is empty")
	}
	if _, ok := goarm[arch]; !ok {
		return nil, fmt.Errorf("image: architecture %q is not supported (amd64 or arm64)", arch)
	}
	created = created.UTC()
	// Parents before children, in a fixed order. Everything is owned by root and not
	// writable by the runtime user; only its home directory belongs to it.
	entries := []entry{
		{name: "etc/", mode: 0o755, dir: true},
		{name: "etc/group", mode: 0o644, body: []byte(group)},
		{name: "etc/passwd", mode: 0o644, body: []byte(passwd)},
		{name: "etc/ssl/", mode: 0o755, dir: true},
		{name: "etc/ssl/certs/", mode: 0o755, dir: true},
		{name: strings.TrimPrefix(CABundlePath, "/"), mode: 0o644, body: CABundle()},
		{name: "home/", mode: 0o755, dir: true},
		{name: "home/nonroot/", mode: 0o700, dir: true, uid: UID},
		{name: strings.TrimPrefix(Entrypoint, "/"), mode: 0o755, body: binary},
	}
	layerTar, err := tarLayer(entries, created)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer), tarball.WithCompressedCaching)
	if err != nil {
		return nil, fmt.Errorf("image: layer: %w", err)
	}

	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{
		Layer:     layer,
		MediaType: types.OCILayer,
		History: v1.History{
			Created:   v1.Time{Time: created},
			CreatedBy: "registry-image build",
			Comment:   "static registry binary, CA bundle, user 65532",
		},
	})
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	cfg = cfg.DeepCopy()
	cfg.Architecture = arch
	cfg.OS = "linux"
	cfg.Created = v1.Time{Time: created}
	cfg.Config = v1.Config{
		Entrypoint:   []string{Entrypoint},
		User:         User,
		WorkingDir:   "/",
		ExposedPorts: map[string]struct{}{strconv.Itoa(contract.Port) + "/tcp": {}},
		Env:          []string{"SSL_CERT_FILE=" + CABundlePath},
	}
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	return img, nil
}

func tarLayer(entries []entry, modTime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{
			Name:    e.name,
			Mode:    e.mode,
			Uid:     e.uid,
			Gid:     e.uid,
			ModTime: modTime,
			Format:  tar.FormatPAX,
		}
		if e.dir {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("image: tar %s: %w", e.name, err)
		}
		if _, err := tw.Write(e.body); err != nil {
			return nil, fmt.Errorf("image: tar %s: %w", e.name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("image: tar: %w", err)
	}
	return buf.Bytes(), nil
}
