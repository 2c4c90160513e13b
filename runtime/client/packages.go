package client

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Package is one stored package version.
type Package struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	// SHA256 is the digest the registry recorded, lowercase hex.
	SHA256 string `json:"sha256_hash"`
	Size   int64  `json:"size"`
	// UploadedAt and Uploader are set in listings, not in upload answers.
	UploadedAt time.Time `json:"uploaded_at,omitzero"`
	Uploader   string    `json:"uploader,omitempty"`
}

// ParseSHA256 checks a hex SHA-256 (64 digits, either case) and returns it in
// lowercase.
func ParseSHA256(s string) (string, error) {
	s = strings.TrimSpace(s)
	if len(s) != 64 {
		return "", fmt.Errorf("SHA-256 must be 64 hex digits, got %d characters", len(s))
	}
	if _, err := hex.DecodeString(s); err != nil {
		return "", fmt.Errorf("SHA-256 %q is not hexadecimal", s)
	}
	return strings.ToLower(s), nil
}

// PushOptions tunes Push.
type PushOptions struct {
	// SHA256 declares the content's digest. When empty the client computes it: in a
	// first pass for a body that is an io.ReadSeeker (a file), otherwise while
	// streaming, and then checks the registry's answer against it. A declared
	// digest the bytes do not have makes the registry refuse (ErrIntegrity) and
	// store nothing.
	SHA256   string
	Progress ProgressFunc
}

func packagePath(name, version string) string { return pathOf("packages", name, version) }

// Push uploads body as name at version. size is the body's length, or -1 when
// unknown (a seekable body is measured). The digest is declared to the registry
// (X-Checksum-SHA256) whenever it is known before the body is sent.
func (c *Client) Push(ctx context.Context, name, version string, body io.Reader, size int64, opts *PushOptions) (Package, error) {
	if err := required("package name", name, "version", version); err != nil {
		return Package{}, err
	}
	if body == nil {
		return Package{}, errors.New("push: no body")
	}
	var o PushOptions
	if opts != nil {
		o = *opts
	}
	declared := ""
	if o.SHA256 != "" {
		d, err := ParseSHA256(o.SHA256)
		if err != nil {
			return Package{}, fmt.Errorf("push: declared %w", err)
		}
		declared = d
	}
	seeker, canSeek := body.(io.ReadSeeker)
	var start int64
	if canSeek {
		pos, err := seeker.Seek(0, io.SeekCurrent)
		if err != nil {
			canSeek = false
		}
		start = pos
	}
	if declared == "" && canSeek {
		sum, n, err := hashSeeker(seeker)
		if err != nil {
			return Package{}, fmt.Errorf("push: hashing the content: %w", err)
		}
		if size >= 0 && size != n {
			return Package{}, fmt.Errorf("push: the content has %d bytes, not the %d stated", n, size)
		}
		declared, size = sum, n
	}
	cr := &countingReader{r: body, total: size, progress: o.Progress}
	if declared == "" {
		cr.h = sha256.New()
	}
	hdr := http.Header{"Content-Type": {"application/octet-stream"}}
	if declared != "" {
		hdr.Set("X-Checksum-SHA256", declared)
	}
	if size != 0 {
		// The registry answers 403/409/413 before the body is sent.
		hdr.Set("Expect", "100-continue")
	}
	req := request{method: http.MethodPut, path: packagePath(name, version), header: hdr, auth: true,
		want: http.StatusCreated, body: cr, size: size, transfer: true}
	if canSeek {
		req.rewind = func() error {
			cr.n = 0
			if cr.h != nil {
				cr.h.Reset()
			}
			_, err := seeker.Seek(start, io.SeekStart)
			return err
		}
	}
	var pkg Package
	if err := c.doJSON(ctx, req, &pkg); err != nil {
		return Package{}, err
	}
	what := name + " " + version
	sent := declared
	if sent == "" {
		sent = cr.sum()
	}
	if pkg.SHA256 != sent || pkg.Size != cr.n {
		return pkg, &IntegrityError{What: what + " (stored, with the registry's digest)", Against: "computed while uploading",
			WantSHA256: sent, SHA256: pkg.SHA256, WantSize: cr.n, Size: pkg.Size}
	}
	return pkg, nil
}

// PushFile uploads the file at path as name at version, its digest computed first
// and declared.
func (c *Client) PushFile(ctx context.Context, name, version, path string, opts *PushOptions) (Package, error) {
	f, err := os.Open(path)
	if err != nil {
		return Package{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Package{}, err
	}
	if !fi.Mode().IsRegular() {
		return Package{}, fmt.Errorf("%s is not a regular file", path)
	}
	return c.Push(ctx, name, version, f, fi.Size(), opts)
}

// DownloadOptions tunes Open and Pull.
type DownloadOptions struct {
	// SHA256 is the digest the caller expects. The registry refuses before sending a
	// byte when its recorded digest differs, and the client checks the bytes
	// against it too.
	SHA256   string
	Progress ProgressFunc
}

// cancelCloser closes a response body and then ends its request's context.
type cancelCloser struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c cancelCloser) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

func (o *DownloadOptions) expected() (string, error) {
	if o == nil || o.SHA256 == "" {
		return "", nil
	}
	d, err := ParseSHA256(o.SHA256)
	if err != nil {
		return "", fmt.Errorf("expected %w", err)
	}
	return d, nil
}

func (o *DownloadOptions) progress() ProgressFunc {
	if o == nil {
		return nil
	}
	return o.Progress
}

// Open starts a download of name at version, verified while it is read: the
// returned Verifier yields the bytes and ends with an *IntegrityError instead of
// io.EOF unless they match the digest the registry recorded (and opts.SHA256).
// Close it.
func (c *Client) Open(ctx context.Context, name, version string, opts *DownloadOptions) (*Verifier, error) {
	if err := required("package name", name, "version", version); err != nil {
		return nil, err
	}
	expected, err := opts.expected()
	if err != nil {
		return nil, err
	}
	q := url.Values{}
	if expected != "" {
		q.Set("expected_hash", expected)
	}
	path := packagePath(name, version)
	resp, cancel, err := c.do(ctx, request{method: http.MethodGet, path: path, query: q, auth: true, want: http.StatusOK, transfer: true})
	if err != nil {
		return nil, err
	}
	body := cancelCloser{resp.Body, cancel}
	recorded, err := ParseSHA256(resp.Header.Get("X-Checksum-SHA256"))
	if err != nil {
		body.Close()
		return nil, fmt.Errorf("GET %s: the answer carries no usable X-Checksum-SHA256 (%v): refusing bytes that cannot be verified", path, err)
	}
	what := name + " " + version
	if expected != "" && recorded != expected {
		body.Close()
		return nil, &IntegrityError{What: what, Against: "expected by the caller", WantSHA256: expected, SHA256: recorded, WantSize: -1}
	}
	return newVerifier(body, what, recorded, resp.ContentLength, "recorded by the registry", opts.progress()), nil
}

// Pulled describes a verified file written by Pull.
type Pulled struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256_hash"`
	Size   int64  `json:"size"`
}

// Pull downloads name at version into the file dest, verified while streaming. The
// bytes go to a temporary file beside dest that is renamed to dest only once they
// matched: a mismatch or a broken transfer leaves no file (and an existing dest
// untouched).
func (c *Client) Pull(ctx context.Context, name, version, dest string, opts *DownloadOptions) (Pulled, error) {
	return pullInto(dest)(c.Open(ctx, name, version, opts))
}

// ListOptions selects a page of packages.
type ListOptions struct {
	// Name, when set, lists only the versions of this package.
	Name string
	// Offset and Limit page through the listing (Limit 0: the registry's default,
	// 100; at most 1000).
	Offset, Limit int
}

// Page is one page of a listing.
type Page struct {
	Packages []Package `json:"packages"`
	// Total counts every match, across pages.
	Total  int `json:"total"`
	Offset int `json:"offset"`
	Limit  int `json:"limit"`
	// NextOffset is the Offset of the next page; HasNext is false on the last one.
	NextOffset int  `json:"next_offset,omitempty"`
	HasNext    bool `json:"-"`
}

// List returns one page of packages, ordered by name and version.
func (c *Client) List(ctx context.Context, opts ListOptions) (Page, error) {
	if opts.Offset < 0 || opts.Limit < 0 {
		return Page{}, fmt.Errorf("offset and limit must not be negative")
	}
	q := url.Values{}
	if opts.Name != "" {
		q.Set("name", opts.Name)
	}
	if opts.Offset > 0 {
		q.Set("offset", strconv.Itoa(opts.Offset))
	}
	if opts.Limit > 0 {
		q.Set("limit", strconv.Itoa(opts.Limit))
	}
	var raw struct {
		Page
		Next *int `json:"next_offset"`
	}
	if err := c.doJSON(ctx, request{method: http.MethodGet, path: "/packages", query: q, auth: true, want: http.StatusOK}, &raw); err != nil {
		return Page{}, err
	}
	p := raw.Page
	if raw.Next != nil {
		p.NextOffset, p.HasNext = *raw.Next, true
	}
	return p, nil
}

// All iterates over the packages opts selects, from opts.Offset to the end, asking
// for opts.Limit at a time (0: 1000), and stops at the first error.
func (c *Client) All(ctx context.Context, opts ListOptions) iter.Seq2[Package, error] {
	if opts.Limit == 0 {
		opts.Limit = 1000
	}
	return func(yield func(Package, error) bool) {
		opts := opts // each iteration starts at the beginning
		for {
			page, err := c.List(ctx, opts)
			if err != nil {
				yield(Package{}, err)
				return
			}
			for _, p := range page.Packages {
				if !yield(p, nil) {
					return
				}
			}
			if !page.HasNext || page.NextOffset <= opts.Offset {
				return
			}
			opts.Offset = page.NextOffset
		}
	}
}

// Delete removes name at version (permission admin) and returns what was removed.
func (c *Client) Delete(ctx context.Context, name, version string) (Package, error) {
	if err := required("package name", name, "version", version); err != nil {
		return Package{}, err
	}
	var p Package
	err := c.doJSON(ctx, request{method: http.MethodDelete, path: packagePath(name, version), auth: true, want: http.StatusOK}, &p)
	return p, err
}
