package localenv

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/acme/module-registry/runtime/contract"
	"github.com/acme/module-registry/runtime/image"
)

// errForeignImage reports an image this machine cannot run directly.
var errForeignImage = errors.New("the image is built for another platform")

// localRegistry returns the registry to run locally: the binary of the image synth
// built, the one the task definition deploys, when this machine can run it (Linux on
// the image's architecture); otherwise a build of the registry for this machine.
func (e *Env) localRegistry(ctx context.Context) (string, error) {
	program, err := extractEntrypoint(e.path(imageDir), e.abs(e.path(registryBinary)))
	if errors.Is(err, errForeignImage) {
		return e.buildRegistry(ctx)
	}
	return program, err
}

// extractEntrypoint writes the entrypoint of the only image of the OCI layout dir to
// out (mode 0755, replaced atomically) and returns out. It fails wrapping
// errForeignImage when the image is not for this OS and architecture.
func extractEntrypoint(dir, out string) (string, error) {
	img, err := image.ReadLayout(dir)
	if err != nil {
		return "", err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return "", fmt.Errorf("reading the image's configuration in %s: %w", dir, err)
	}
	if cfg.OS != runtime.GOOS || cfg.Architecture != runtime.GOARCH {
		return "", fmt.Errorf("%w: %s/%s, this machine is %s/%s", errForeignImage, cfg.OS, cfg.Architecture, runtime.GOOS, runtime.GOARCH)
	}
	entrypoint := contract.Entrypoint
	if len(cfg.Config.Entrypoint) > 0 {
		entrypoint = cfg.Config.Entrypoint[0]
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), ".registry-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name()) // after the rename there is nothing left to remove
	if err := copyFileFromImage(tmp, img, entrypoint); err != nil {
		tmp.Close()
		return "", fmt.Errorf("extracting %s from the image in %s: %w", entrypoint, dir, err)
	}
	if err := tmp.Chmod(0o755); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	// A rename, never a write in place: the previous binary may still be running.
	return out, os.Rename(tmp.Name(), out)
}

// copyFileFromImage copies the regular file name of img's flattened file system to w.
func copyFileFromImage(w io.Writer, img v1.Image, name string) error {
	fs := mutate.Extract(img)
	defer fs.Close()
	want := path.Clean("/" + name)
	tr := tar.NewReader(fs)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("the image has no file %s", want)
		}
		if err != nil {
			return err
		}
		if path.Clean("/"+h.Name) != want {
			continue
		}
		if h.Typeflag != tar.TypeReg {
			return fmt.Errorf("%s is not a regular file in the image", want)
		}
		_, err = io.Copy(w, tr)
		return err
	}
}
