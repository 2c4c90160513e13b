package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"time"
)

// MaxValidatorBytes is the largest validator source the registry accepts.
const MaxValidatorBytes = 64 << 10

// Validator describes the validator attached to a package version.
type Validator struct {
	Name      string    `json:"name"`
	Version   string    `json:"version"`
	SHA256    string    `json:"sha256_hash"`
	Size      int64     `json:"size"`
	UpdatedAt time.Time `json:"updated_at"`
	UpdatedBy string    `json:"updated_by"`
}

func validatorPath(name, version string) string { return packagePath(name, version) + "/validator" }

// PutValidator attaches the JavaScript src to name at version, replacing any earlier
// validator (administrators and the version's uploader). The registry parses it and
// refuses a syntax error (ErrBadRequest, the parse error in APIError.Message); the
// declared SHA-256 must be the one it records.
func (c *Client) PutValidator(ctx context.Context, name, version string, src []byte) (Validator, error) {
	if err := required("package name", name, "version", version); err != nil {
		return Validator{}, err
	}
	if len(src) > MaxValidatorBytes {
		return Validator{}, fmt.Errorf("validator of %d bytes is over the %d-byte limit: %w", len(src), MaxValidatorBytes, ErrTooLarge)
	}
	sum := sha256.Sum256(src)
	want := hex.EncodeToString(sum[:])
	hdr := http.Header{"Content-Type": {"text/javascript; charset=utf-8"}, "X-Checksum-SHA256": {want}}
	body := bytes.NewReader(src)
	req := request{method: http.MethodPut, path: validatorPath(name, version), header: hdr, auth: true, want: http.StatusOK,
		body: body, size: int64(len(src)), rewind: func() error { _, err := body.Seek(0, io.SeekStart); return err }}
	var v Validator
	if err := c.doJSON(ctx, req, &v); err != nil {
		return Validator{}, err
	}
	if v.SHA256 != want {
		return v, &IntegrityError{What: name + " " + version + " validator", Against: "the source sent", WantSHA256: want, SHA256: v.SHA256,
			WantSize: int64(len(src)), Size: v.Size}
	}
	return v, nil
}

// GetValidator returns the source of name at version's validator and its SHA-256,
// checked against the bytes (ErrNotFound when none is attached).
func (c *Client) GetValidator(ctx context.Context, name, version string) ([]byte, string, error) {
	if err := required("package name", name, "version", version); err != nil {
		return nil, "", err
	}
	resp, cancel, err := c.do(ctx, request{method: http.MethodGet, path: validatorPath(name, version), auth: true, want: http.StatusOK})
	if err != nil {
		return nil, "", err
	}
	defer cancel()
	defer resp.Body.Close()
	src, err := io.ReadAll(io.LimitReader(resp.Body, MaxValidatorBytes+1))
	if err != nil {
		return nil, "", err
	}
	if len(src) > MaxValidatorBytes {
		return nil, "", fmt.Errorf("GET %s: validator over %d bytes", validatorPath(name, version), MaxValidatorBytes)
	}
	sum := sha256.Sum256(src)
	got, stated := hex.EncodeToString(sum[:]), resp.Header.Get("X-Checksum-SHA256")
	if got != stated {
		return nil, "", &IntegrityError{What: name + " " + version + " validator", Against: "X-Checksum-SHA256", WantSHA256: stated, SHA256: got, WantSize: -1, Size: -1}
	}
	return src, got, nil
}

// DeleteValidator removes name at version's validator and describes what was removed.
func (c *Client) DeleteValidator(ctx context.Context, name, version string) (Validator, error) {
	if err := required("package name", name, "version", version); err != nil {
		return Validator{}, err
	}
	var v Validator
	err := c.doJSON(ctx, request{method: http.MethodDelete, path: validatorPath(name, version), auth: true, want: http.StatusOK}, &v)
	return v, err
}
