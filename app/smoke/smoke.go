// Package smoke exercises a running registry the way a user does: log in, upload a
// package, list it, download it with its expected hash, and fetch it again through a
// presigned URL with curl, checking the SHA-256 at every step. `make up` runs it after
// deploying; the end-to-end test runs it before probing the error paths.
package smoke

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Client talks to one registry as one user.
type Client struct {
	BaseURL string
	HTTP    *http.Client
	token   string
}

// New returns a client for baseURL (e.g. http://127.0.0.1:8080).
func New(baseURL string) *Client {
	return &Client{BaseURL: strings.TrimRight(baseURL, "/"), HTTP: &http.Client{Timeout: 2 * time.Minute}}
}

// Response is a finished request: status, body and headers.
type Response struct {
	Status int
	Body   []byte
	Header http.Header
}

// Do sends a request with the client's token (if logged in) and reads the whole answer.
func (c *Client) Do(ctx context.Context, method, path string, body []byte, header map[string]string) (*Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, rd)
	if err != nil {
		return nil, err
	}
	if c.token != "" {
		req.Header.Set("X-Authorization", c.token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: reading body: %w", method, path, err)
	}
	return &Response{Status: resp.StatusCode, Body: b, Header: resp.Header}, nil
}

// expect sends a request and fails unless the status is want.
func (c *Client) expect(ctx context.Context, want int, method, path string, body []byte, header map[string]string) (*Response, error) {
	r, err := c.Do(ctx, method, path, body, header)
	if err != nil {
		return nil, err
	}
	if r.Status != want {
		return r, fmt.Errorf("%s %s: status %d, want %d: %s", method, path, r.Status, want, bytes.TrimSpace(r.Body))
	}
	return r, nil
}

// Login exchanges user's password for a token used by later requests.
func (c *Client) Login(ctx context.Context, user, password string) error {
	body, _ := json.Marshal(map[string]any{"user": map[string]any{"name": user}, "secret": map[string]any{"password": password}})
	r, err := c.expect(ctx, http.StatusOK, http.MethodPut, "/authenticate", body, map[string]string{"Content-Type": "application/json"})
	if err != nil {
		return err
	}
	return json.Unmarshal(r.Body, &c.token)
}

// Token returns the current "bearer <jwt>" value.
func (c *Client) Token() string { return c.token }

// Upload stores content as name/version and returns the SHA-256 the server computed.
func (c *Client) Upload(ctx context.Context, name, version string, content []byte) (string, error) {
	r, err := c.expect(ctx, http.StatusCreated, http.MethodPut, PackagePath(name, version), content,
		map[string]string{"Content-Type": "application/octet-stream", "X-Checksum-SHA256": SHA256(content)})
	if err != nil {
		return "", err
	}
	var out struct {
		SHA256 string `json:"sha256_hash"`
	}
	return out.SHA256, json.Unmarshal(r.Body, &out)
}

// PackagePath is the API path of one package version.
func PackagePath(name, version string) string {
	return "/packages/" + url.PathEscape(name) + "/" + url.PathEscape(version)
}

// SHA256 is the lowercase hex SHA-256 of b.
func SHA256(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// Report is what Run did, for printing.
type Report struct {
	Package, SHA256 string
	Size            int
	PresignedURL    string
	Steps           []string
}

// Run performs the smoke sequence as user and returns what it checked. Names are made
// unique so Run can be repeated against the same registry.
func Run(ctx context.Context, baseURL, user, password string) (*Report, error) {
	c := New(baseURL)
	rep := &Report{}
	step := func(format string, a ...any) { rep.Steps = append(rep.Steps, fmt.Sprintf(format, a...)) }

	if _, err := c.expect(ctx, http.StatusOK, http.MethodGet, "/health", nil, nil); err != nil {
		return rep, err
	}
	step("GET /health: 200")
	if err := c.Login(ctx, user, password); err != nil {
		return rep, fmt.Errorf("login as %s: %w", user, err)
	}
	step("PUT /authenticate as %s: token issued", user)

	content := make([]byte, 256<<10)
	if _, err := rand.Read(content); err != nil {
		return rep, err
	}
	name, version := "smoke-test", fmt.Sprintf("1.0.%d", time.Now().UnixNano())
	rep.Package, rep.SHA256, rep.Size = name+"/"+version, SHA256(content), len(content)
	got, err := c.Upload(ctx, name, version, content)
	if err != nil {
		return rep, err
	}
	if got != rep.SHA256 {
		return rep, fmt.Errorf("upload: server computed %s, content is %s", got, rep.SHA256)
	}
	step("PUT %s: 201, sha256 %s (%d bytes)", PackagePath(name, version), got, len(content))

	r, err := c.expect(ctx, http.StatusOK, http.MethodGet, "/packages?name="+url.QueryEscape(name), nil, nil)
	if err != nil {
		return rep, err
	}
	var list struct {
		Packages []struct {
			Version string `json:"version"`
			SHA256  string `json:"sha256_hash"`
		} `json:"packages"`
	}
	if err := json.Unmarshal(r.Body, &list); err != nil {
		return rep, fmt.Errorf("list: %w", err)
	}
	listed := false
	for _, p := range list.Packages {
		listed = listed || (p.Version == version && p.SHA256 == rep.SHA256)
	}
	if !listed {
		return rep, fmt.Errorf("list: %s not listed with its hash: %s", rep.Package, r.Body)
	}
	step("GET /packages?name=%s: listed with its hash", name)

	r, err = c.expect(ctx, http.StatusOK, http.MethodGet, PackagePath(name, version)+"?expected_hash="+rep.SHA256, nil, nil)
	if err != nil {
		return rep, err
	}
	if SHA256(r.Body) != rep.SHA256 {
		return rep, fmt.Errorf("download: content hash %s, want %s", SHA256(r.Body), rep.SHA256)
	}
	step("GET %s?expected_hash=...: 200, content verified", PackagePath(name, version))

	r, err = c.expect(ctx, http.StatusOK, http.MethodGet, PackagePath(name, version)+"/download-url?verify_hash=true", nil, nil)
	if err != nil {
		return rep, err
	}
	var presigned struct {
		URL       string `json:"url"`
		ExpiresAt string `json:"expires_at"`
		SHA256    string `json:"sha256_hash"`
	}
	if err := json.Unmarshal(r.Body, &presigned); err != nil || presigned.URL == "" {
		return rep, fmt.Errorf("download-url: unexpected answer %s", r.Body)
	}
	if presigned.SHA256 != rep.SHA256 {
		return rep, fmt.Errorf("download-url: hash %s, want %s", presigned.SHA256, rep.SHA256)
	}
	rep.PresignedURL = presigned.URL
	fetched, err := curl(ctx, presigned.URL)
	if err != nil {
		return rep, err
	}
	if SHA256(fetched) != rep.SHA256 {
		return rep, fmt.Errorf("presigned download: content hash %s, want %s", SHA256(fetched), rep.SHA256)
	}
	step("GET %s/download-url, then curl the presigned URL (expires %s): content verified", PackagePath(name, version), presigned.ExpiresAt)
	return rep, nil
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
