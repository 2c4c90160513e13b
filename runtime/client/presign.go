package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Presigned transfers move the bytes between the client and the blob store (S3)
// directly; only the AWS backend offers them (the embedded one answers
// ErrNotImplemented).

// PresignedURL is a short-lived download URL of one package version.
type PresignedURL struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at"`
	SHA256    string    `json:"sha256_hash"`
	Size      int64     `json:"size"`
	// Verified: the registry compared the store's checksum with the recorded one
	// before signing.
	Verified bool `json:"verified"`
}

// DownloadURL asks for a presigned download URL; verify makes the registry first
// compare the store's checksum with the recorded one (ErrIntegrity if they
// differ).
func (c *Client) DownloadURL(ctx context.Context, name, version string, verify bool) (PresignedURL, error) {
	if err := required("package name", name, "version", version); err != nil {
		return PresignedURL{}, err
	}
	var p PresignedURL
	err := c.doJSON(ctx, request{method: http.MethodGet, path: packagePath(name, version) + "/download-url",
		query: url.Values{"verify_hash": {strconv.FormatBool(verify)}}, auth: true, want: http.StatusOK}, &p)
	return p, err
}

// UploadRequest is a presigned upload: send the body with exactly Method, URL and
// Headers before ExpiresAt, then Commit the UploadID.
type UploadRequest struct {
	UploadID  string            `json:"upload_id"`
	Method    string            `json:"method"`
	URL       string            `json:"url"`
	Headers   map[string]string `json:"headers"`
	ExpiresAt time.Time         `json:"expires_at"`
}

type uploadURLBody struct {
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// UploadURL asks for a presigned upload of size bytes with the SHA-256 sha256Hex;
// the store refuses any other bytes.
func (c *Client) UploadURL(ctx context.Context, name, version, sha256Hex string, size int64) (UploadRequest, error) {
	if err := required("package name", name, "version", version); err != nil {
		return UploadRequest{}, err
	}
	sum, err := ParseSHA256(sha256Hex)
	if err != nil {
		return UploadRequest{}, err
	}
	if size <= 0 {
		return UploadRequest{}, fmt.Errorf("size must be a positive number of bytes, got %d", size)
	}
	var u UploadRequest
	err = c.doJSON(ctx, request{method: http.MethodPost, path: packagePath(name, version) + "/upload-url",
		json: uploadURLBody{sum, size}, auth: true, want: http.StatusOK}, &u)
	return u, err
}

type commitBody struct {
	UploadID string `json:"upload_id"`
}

// Commit records a presigned upload as the package version, after the registry
// checked the stored object's checksum and size.
func (c *Client) Commit(ctx context.Context, name, version, uploadID string) (Package, error) {
	if err := required("package name", name, "version", version, "upload id", uploadID); err != nil {
		return Package{}, err
	}
	var p Package
	err := c.doJSON(ctx, request{method: http.MethodPost, path: packagePath(name, version) + "/commit",
		json: commitBody{uploadID}, auth: true, want: http.StatusCreated}, &p)
	return p, err
}

// PushPresigned uploads body straight to the blob store: it hashes body (unless
// opts.SHA256 declares the digest), asks for an upload URL bound to that digest and
// size, sends the bytes there and commits.
func (c *Client) PushPresigned(ctx context.Context, name, version string, body io.ReadSeeker, opts *PushOptions) (Package, error) {
	var o PushOptions
	if opts != nil {
		o = *opts
	}
	start, err := body.Seek(0, io.SeekCurrent)
	if err != nil {
		return Package{}, err
	}
	sum, size, err := hashSeeker(body)
	if err != nil {
		return Package{}, fmt.Errorf("push: hashing the content: %w", err)
	}
	if o.SHA256 != "" {
		declared, err := ParseSHA256(o.SHA256)
		if err != nil {
			return Package{}, fmt.Errorf("push: declared %w", err)
		}
		if declared != sum {
			return Package{}, &IntegrityError{What: name + " " + version, Against: "declared by the caller", WantSHA256: declared, SHA256: sum, WantSize: -1}
		}
	}
	up, err := c.UploadURL(ctx, name, version, sum, size)
	if err != nil {
		return Package{}, err
	}
	target, err := url.Parse(up.URL)
	if err != nil || (target.Scheme != "https" && target.Scheme != "http") {
		return Package{}, errors.New("the registry answered an unusable upload URL")
	}
	hdr := http.Header{}
	for k, v := range up.Headers {
		hdr.Set(k, v)
	}
	cr := &countingReader{r: body, total: size, progress: o.Progress}
	req := request{method: up.Method, target: target, header: hdr, want: http.StatusOK, body: cr, size: size, transfer: true,
		rewind: func() error {
			cr.n = 0
			_, err := body.Seek(start, io.SeekStart)
			return err
		}}
	if err := c.doJSON(ctx, req, nil); err != nil {
		return Package{}, err
	}
	return c.Commit(ctx, name, version, up.UploadID)
}

// OpenURL starts a verified download of a presigned URL: the bytes must have
// p.SHA256 and p.Size (and opts.SHA256, when set).
func (c *Client) OpenURL(ctx context.Context, p PresignedURL, opts *DownloadOptions) (*Verifier, error) {
	recorded, err := ParseSHA256(p.SHA256)
	if err != nil {
		return nil, fmt.Errorf("presigned URL without a usable SHA-256: %w", err)
	}
	target, err := url.Parse(p.URL)
	if err != nil || (target.Scheme != "https" && target.Scheme != "http") {
		return nil, errors.New("unusable presigned URL")
	}
	what := (&url.URL{Scheme: target.Scheme, Host: target.Host, Path: target.Path}).String()
	expected, err := opts.expected()
	if err != nil {
		return nil, err
	}
	if expected != "" && expected != recorded {
		return nil, &IntegrityError{What: what, Against: "expected by the caller", WantSHA256: expected, SHA256: recorded, WantSize: -1}
	}
	resp, cancel, err := c.do(ctx, request{method: http.MethodGet, target: target, want: http.StatusOK, transfer: true})
	if err != nil {
		return nil, err
	}
	return newVerifier(cancelCloser{resp.Body, cancel}, what, recorded, p.Size, "recorded by the registry", opts.progress()), nil
}

// PullPresigned fetches name at version through a presigned URL into dest, with the
// guarantees of Pull.
func (c *Client) PullPresigned(ctx context.Context, name, version, dest string, opts *DownloadOptions) (Pulled, error) {
	p, err := c.DownloadURL(ctx, name, version, true)
	if err != nil {
		return Pulled{}, err
	}
	return pullInto(dest)(c.OpenURL(ctx, p, opts))
}
