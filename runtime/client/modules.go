package client

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/acme/module-registry/runtime/moduleaddr"
)

// ModulesPath is where the registry serves the Terraform module registry protocol
// (its /.well-known/terraform.json says so as "modules.v1").
const ModulesPath = "/v1/modules/"

// MaxModuleFiles bounds the entries PackModule puts in one archive.
const MaxModuleFiles = 10000

// PublishModule uploads a module version: archive is the module as a gzipped tar
// (see PackModule), stored as the package addr.PackageName() at version, with the
// guarantees of Push. version must be a semantic version.
func (c *Client) PublishModule(ctx context.Context, addr moduleaddr.Address, version string, archive io.Reader, size int64, opts *PushOptions) (Package, error) {
	if err := moduleaddr.CheckVersion(version); err != nil {
		return Package{}, err
	}
	return c.Push(ctx, addr.PackageName(), version, archive, size, opts)
}

// PublishModuleDir packs the module in dir (PackModule) and publishes it.
func (c *Client) PublishModuleDir(ctx context.Context, addr moduleaddr.Address, version, dir string, opts *PushOptions) (Package, error) {
	if err := moduleaddr.CheckVersion(version); err != nil {
		return Package{}, err
	}
	tmp, err := os.CreateTemp("", "module-*.tar.gz")
	if err != nil {
		return Package{}, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if err := PackModule(dir, tmp); err != nil {
		return Package{}, err
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return Package{}, err
	}
	return c.PublishModule(ctx, addr, version, tmp, -1, opts)
}

func modulePath(addr moduleaddr.Address, rest ...string) string {
	return strings.TrimSuffix(ModulesPath, "/") + pathOf(append([]string{addr.Namespace, addr.Name, addr.System}, rest...)...)
}

// ModuleVersions lists the published versions of a module, as Terraform sees them.
func (c *Client) ModuleVersions(ctx context.Context, addr moduleaddr.Address) ([]string, error) {
	var body struct {
		Modules []struct {
			Versions []struct {
				Version string `json:"version"`
			} `json:"versions"`
		} `json:"modules"`
	}
	if err := c.doJSON(ctx, request{method: http.MethodGet, path: modulePath(addr, "versions"), auth: true, want: http.StatusOK}, &body); err != nil {
		return nil, err
	}
	var out []string
	for _, m := range body.Modules {
		for _, v := range m.Versions {
			out = append(out, v.Version)
		}
	}
	return out, nil
}

// ModuleDownloadURL asks where Terraform would fetch a module version from: the
// absolute, short-lived archive URL with its `archive=tar.gz&checksum=sha256:...`
// parameters.
func (c *Client) ModuleDownloadURL(ctx context.Context, addr moduleaddr.Address, version string) (string, error) {
	path := modulePath(addr, version, "download")
	resp, cancel, err := c.do(ctx, request{method: http.MethodGet, path: path, auth: true, want: http.StatusNoContent})
	if err != nil {
		return "", err
	}
	defer cancel()
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("X-Terraform-Get"))
	if err != nil || resp.Header.Get("X-Terraform-Get") == "" {
		return "", fmt.Errorf("GET %s: the answer has no usable X-Terraform-Get", path)
	}
	return resp.Request.URL.ResolveReference(loc).String(), nil
}

// skippedInModules are never packed: Terraform's working data, version control and
// state files, which can hold secrets.
func skippedInModules(name string, dir bool) bool {
	if dir {
		return name == ".terraform" || name == ".git"
	}
	return strings.HasSuffix(name, ".tfstate") || strings.HasSuffix(name, ".tfstate.backup")
}

// packEpoch is every entry's time, so that one directory always packs to the same
// bytes (and the same SHA-256).
var packEpoch = time.Unix(0, 0).UTC()

// PackModule writes the module in dir as a gzipped tar archive, the form
// `terraform init` unpacks: regular files and directories, relative paths, fixed
// times and owners, so the same tree gives the same digest. It leaves out
// .terraform and .git directories and Terraform state files, and refuses symbolic
// links and other special files.
func PackModule(dir string, w io.Writer) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	gz, err := gzip.NewWriterLevel(w, gzip.BestCompression)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(gz)
	files, entries := 0, 0
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil || rel == "." {
			return err
		}
		if skippedInModules(d.Name(), d.IsDir()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if entries++; entries > MaxModuleFiles {
			return fmt.Errorf("more than %d files and directories in %s", MaxModuleFiles, dir)
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		hdr := &tar.Header{Name: filepath.ToSlash(rel), ModTime: packEpoch, Mode: 0o644}
		switch {
		case info.IsDir():
			hdr.Typeflag, hdr.Name, hdr.Mode = tar.TypeDir, hdr.Name+"/", 0o755
		case info.Mode().IsRegular():
			hdr.Typeflag, hdr.Size = tar.TypeReg, info.Size()
			if info.Mode()&0o111 != 0 {
				hdr.Mode = 0o755
			}
		default:
			return fmt.Errorf("%s is a %s; a module archive holds only regular files and directories", path, info.Mode().Type())
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if hdr.Typeflag != tar.TypeReg {
			return nil
		}
		files++
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		n, err := io.Copy(tw, f)
		if err == nil && n != info.Size() {
			err = fmt.Errorf("%s changed while being packed", path)
		}
		return err
	})
	if err == nil && files == 0 {
		err = fmt.Errorf("%s holds no files to pack", dir)
	}
	return errors.Join(err, tw.Close(), gz.Close())
}
