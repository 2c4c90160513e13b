package client

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Sentinel errors. An *APIError matches the one of its status with errors.Is, and an
// *IntegrityError matches ErrIntegrity, so callers can branch without parsing text:
//
//	if errors.Is(err, client.ErrNotFound) { ... }
//	var apiErr *client.APIError
//	if errors.As(err, &apiErr) { log.Print(apiErr.Status, apiErr.Message) }
var (
	// ErrBadRequest (400): the registry refused the request as malformed.
	ErrBadRequest = errors.New("bad request")
	// ErrUnauthorized (401): wrong user name or password at login.
	ErrUnauthorized = errors.New("invalid credentials")
	// ErrForbidden (403): no usable token (missing, expired, used up) or a missing
	// permission.
	ErrForbidden = errors.New("forbidden")
	// ErrNotFound (404): no such package version, user or module.
	ErrNotFound = errors.New("not found")
	// ErrConflict (409): the version exists already (versions are immutable).
	ErrConflict = errors.New("already exists")
	// ErrTooLarge (413): the body is over the registry's limit.
	ErrTooLarge = errors.New("too large")
	// ErrRateLimited (429): too many requests; APIError.RetryAfter says when to
	// come back.
	ErrRateLimited = errors.New("rate limited")
	// ErrNotImplemented (501): the registry cannot do this (presigned URLs on the
	// embedded backend, authentication not configured).
	ErrNotImplemented = errors.New("not implemented by this registry")
	// ErrServer (5xx other than 501): the registry failed.
	ErrServer = errors.New("registry error")
	// ErrIntegrity: bytes do not match their SHA-256 - refused by the registry
	// (422) or found by this client while verifying.
	ErrIntegrity = errors.New("integrity check failed")
	// ErrNotLoggedIn: the call needs a token and the client has none.
	ErrNotLoggedIn = errors.New("not logged in")
)

// APIError is an error answer of the registry: its status and the message of its
// {"error": ..., "status": ...} body.
type APIError struct {
	Method string
	// Path is the request path without its query (which may carry signatures).
	Path    string
	Status  int
	Message string
	// RequestID is the registry's X-Request-ID, which its logs carry.
	RequestID string
	// RetryAfter is the wait the registry asked for (429, 503), or 0.
	RetryAfter time.Duration
}

func (e *APIError) Error() string {
	msg := fmt.Sprintf("%s %s: %d %s", e.Method, e.Path, e.Status, http.StatusText(e.Status))
	if e.Message != "" {
		msg += ": " + e.Message
	}
	if e.RetryAfter > 0 {
		msg += fmt.Sprintf(" (retry after %s)", e.RetryAfter)
	}
	return msg
}

// Is matches the sentinel of the status.
func (e *APIError) Is(target error) bool { return target == sentinelOf(e.Status) }

func sentinelOf(status int) error {
	switch status {
	case http.StatusBadRequest:
		return ErrBadRequest
	case http.StatusUnauthorized:
		return ErrUnauthorized
	case http.StatusForbidden:
		return ErrForbidden
	case http.StatusNotFound:
		return ErrNotFound
	case http.StatusConflict:
		return ErrConflict
	case http.StatusRequestEntityTooLarge:
		return ErrTooLarge
	case http.StatusUnprocessableEntity:
		return ErrIntegrity
	case http.StatusTooManyRequests:
		return ErrRateLimited
	case http.StatusNotImplemented:
		return ErrNotImplemented
	}
	if status >= 500 {
		return ErrServer
	}
	return nil
}

// IntegrityError says that received or sent bytes do not match the SHA-256 (or
// size) they should have. Nothing is left at the destination of a Pull that fails
// with it.
type IntegrityError struct {
	// What names the bytes: "tfmodule.acme.vpc.aws 1.0.0", a file, or a URL
	// without its query.
	What string
	// Against says which digest was violated: "recorded by the registry", "expected
	// by the caller" or "computed while uploading".
	Against            string
	WantSHA256, SHA256 string
	WantSize, Size     int64 // WantSize < 0: not known
}

func (e *IntegrityError) Error() string {
	if e.WantSize >= 0 && e.Size != e.WantSize {
		return fmt.Sprintf("%s: %d bytes received, %d %s", e.What, e.Size, e.WantSize, e.Against)
	}
	return fmt.Sprintf("%s: SHA-256 %s does not match %s %s", e.What, e.SHA256, e.WantSHA256, e.Against)
}

// Is matches ErrIntegrity.
func (e *IntegrityError) Is(target error) bool { return target == ErrIntegrity }
