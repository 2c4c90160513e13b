// Package smoke exercises a running registry the way a user does, through the
// registry's Go client: log in, upload a package, list it, download it with its
// expected hash, attach a validator that allows the user by name and one that denies
// it, and fetch it again through a presigned URL with curl, checking the SHA-256 at
// every step. `make up` runs it after deploying; the end-to-end test runs
// it before probing the error paths.
package smoke

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/acme/module-registry/runtime/client"
)

// Report is what Run did, for printing.
type Report struct {
	Package, SHA256 string
	Size            int
	PresignedURL    string
	Steps           []string
}

// packagePath is the API path of one package version, as the steps name it.
func packagePath(name, version string) string { return "/packages/" + name + "/" + version }

// Run performs the smoke sequence as user and returns what it checked. Names are made
// unique so Run can be repeated against the same registry.
func Run(ctx context.Context, baseURL, user, password string) (*Report, error) {
	rep := &Report{}
	step := func(format string, a ...any) { rep.Steps = append(rep.Steps, fmt.Sprintf(format, a...)) }
	c, err := client.New(baseURL, nil)
	if err != nil {
		return rep, err
	}

	if _, err := c.Health(ctx); err != nil {
		return rep, err
	}
	step("GET /health: 200")
	if _, err := c.Login(ctx, user, password); err != nil {
		return rep, fmt.Errorf("login as %s: %w", user, err)
	}
	step("PUT /authenticate as %s: token issued", user)

	content := make([]byte, 256<<10)
	if _, err := rand.Read(content); err != nil {
		return rep, err
	}
	name, version := "smoke-test", fmt.Sprintf("1.0.%d", time.Now().UnixNano())
	sum, _, err := client.Digest(bytes.NewReader(content))
	if err != nil {
		return rep, err
	}
	rep.Package, rep.SHA256, rep.Size = name+"/"+version, sum, len(content)
	// Push declares the digest; it fails unless the registry recorded exactly it.
	pkg, err := c.Push(ctx, name, version, bytes.NewReader(content), int64(len(content)), nil)
	if err != nil {
		return rep, err
	}
	step("PUT %s: 201, sha256 %s (%d bytes)", packagePath(name, version), pkg.SHA256, len(content))

	page, err := c.List(ctx, client.ListOptions{Name: name})
	if err != nil {
		return rep, err
	}
	listed := false
	for _, p := range page.Packages {
		listed = listed || (p.Version == version && p.SHA256 == rep.SHA256)
	}
	if !listed {
		return rep, fmt.Errorf("list: %s not listed with its hash: %+v", rep.Package, page.Packages)
	}
	step("GET /packages?name=%s: listed with its hash", name)

	// The expected hash makes the registry refuse a differing record; the client
	// verifies the bytes themselves.
	download, err := c.Open(ctx, name, version, &client.DownloadOptions{SHA256: rep.SHA256})
	if err != nil {
		return rep, err
	}
	_, err = io.Copy(io.Discard, download)
	download.Close()
	if err != nil {
		return rep, fmt.Errorf("download: %w", err)
	}
	step("GET %s?expected_hash=...: 200, content verified", packagePath(name, version))

	if err := validators(ctx, c, user, name, version, rep.SHA256, step); err != nil {
		return rep, err
	}

	presigned, err := c.DownloadURL(ctx, name, version, true)
	if err != nil {
		return rep, err
	}
	if presigned.SHA256 != rep.SHA256 {
		return rep, fmt.Errorf("download-url: hash %s, want %s", presigned.SHA256, rep.SHA256)
	}
	rep.PresignedURL = presigned.URL
	fetched, err := curl(ctx, presigned.URL)
	if err != nil {
		return rep, err
	}
	if got, _, _ := client.Digest(bytes.NewReader(fetched)); got != rep.SHA256 {
		return rep, fmt.Errorf("presigned download: content hash %s, want %s", got, rep.SHA256)
	}
	step("GET %s/download-url, then curl the presigned URL (expires %s): content verified",
		packagePath(name, version), presigned.ExpiresAt.UTC().Format(time.RFC3339))
	return rep, nil
}

// AllowOnly and DenyOnly are the smoke sequence's validators: they decide by the
// caller's name alone.
func AllowOnly(user string) string {
	u, _ := json.Marshal(user)
	return `function validate(input) {
  if (input.user.name === ` + string(u) + `) return {allow: true, reason: "the smoke user"};
  return {allow: false, reason: "only " + ` + string(u) + ` + " may download " + input.package.name};
}`
}

// DenyOnly denies user and allows everybody else.
func DenyOnly(user string) string {
	u, _ := json.Marshal(user)
	return `function validate(input) {
  if (input.user.name === ` + string(u) + `) return {allow: false, reason: input.user.name + " is blocked from " + input.package.name};
  return {allow: true};
}`
}

// validators attaches AllowOnly(user) and checks a download passes, then
// DenyOnly(user) and checks the download and the presigned URL are refused with the
// validator's reason, then removes it.
func validators(ctx context.Context, c *client.Client, user, name, version, sum string, step func(string, ...any)) error {
	path := packagePath(name, version) + "/validator"
	if _, err := c.PutValidator(ctx, name, version, []byte(AllowOnly(user))); err != nil {
		return err
	}
	download, err := c.Open(ctx, name, version, &client.DownloadOptions{SHA256: sum})
	if err != nil {
		return fmt.Errorf("download with a validator allowing %s: %w", user, err)
	}
	_, err = io.Copy(io.Discard, download)
	download.Close()
	if err != nil {
		return fmt.Errorf("download with a validator allowing %s: %w", user, err)
	}
	step("PUT %s (allows only %s), GET: 200, content verified", path, user)

	if _, err := c.PutValidator(ctx, name, version, []byte(DenyOnly(user))); err != nil {
		return err
	}
	want := "the package's validator denied the download: " + user + " is blocked from " + name
	refused := func(what string, err error) error {
		var apiErr *client.APIError
		if !errors.As(err, &apiErr) || apiErr.Status != 403 || apiErr.Message != want {
			return fmt.Errorf("%s with a validator denying %s: got %v, want 403 %q", what, user, err, want)
		}
		return nil
	}
	if r, err := c.Open(ctx, name, version, nil); err == nil {
		r.Close()
		return fmt.Errorf("download with a validator denying %s: allowed", user)
	} else if err := refused("download", err); err != nil {
		return err
	}
	step("PUT %s (denies %s), GET: 403 %q", path, user, want)
	_, err = c.DownloadURL(ctx, name, version, true)
	if errors.Is(err, client.ErrNotImplemented) {
		return err // the embedded backend has no presigned URLs
	}
	if err := refused("download-url", err); err != nil {
		return err
	}
	step("GET %s/download-url with the denying validator: 403, no URL issued", packagePath(name, version))
	if _, err := c.DeleteValidator(ctx, name, version); err != nil {
		return err
	}
	step("DELETE %s: 200", path)
	return nil
}

// curl fetches url with the curl command, as a user outside the registry would.
func curl(ctx context.Context, url string) ([]byte, error) {
	dir, err := os.MkdirTemp("", "smoke")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "package.zip")
	cmd := exec.CommandContext(ctx, "curl", "--fail", "--silent", "--show-error", "--output", out, url)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("curl presigned URL: %v: %s", err, bytes.TrimSpace(msg))
	}
	return os.ReadFile(out)
}
