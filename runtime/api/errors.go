package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/acme/module-registry/runtime/auth"
	"github.com/acme/module-registry/runtime/storage"
	"github.com/acme/module-registry/runtime/throttle"
	"github.com/acme/module-registry/runtime/validator"
)

// Error is an API error with the HTTP status it maps to. Handlers return
// *Error for request problems; everything else is classified by statusOf.
type Error struct {
	Status int
	Msg    string
}

func (e *Error) Error() string { return e.Msg }

func errorf(status int, format string, args ...any) *Error {
	return &Error{Status: status, Msg: fmt.Sprintf(format, args...)}
}

// errorBody is the shape of every error response.
type errorBody struct {
	Error  string `json:"error"`
	Status int    `json:"status"`
}

// statusOf is the one place that maps errors to status codes and messages.
func statusOf(err error) (int, string) {
	var e *Error
	switch {
	case errors.As(err, &e):
		return e.Status, e.Msg
	case errors.As(err, new(*validatorRefusal)):
		// Denied, or failed closed (timeout, memory, error): never a 5xx, never a pass.
		return http.StatusForbidden, err.Error()
	case errors.As(err, new(*validator.SourceError)):
		return http.StatusBadRequest, "invalid validator: " + err.Error()
	case errors.Is(err, validator.ErrBusy):
		return http.StatusServiceUnavailable, err.Error()
	case errors.Is(err, auth.ErrBadCredentials):
		return http.StatusUnauthorized, "invalid user name or password"
	case errors.Is(err, auth.ErrUnauthenticated):
		return http.StatusForbidden, err.Error()
	case errors.Is(err, auth.ErrForbidden):
		return http.StatusForbidden, err.Error()
	case errors.Is(err, storage.ErrNotFound):
		return http.StatusNotFound, err.Error()
	case errors.Is(err, storage.ErrExists):
		return http.StatusConflict, err.Error()
	case errors.Is(err, errNotConfigured):
		return http.StatusNotImplemented, "authentication is not configured on this registry"
	case errors.Is(err, throttle.ErrLimited):
		return http.StatusTooManyRequests, err.Error()
	case errors.Is(err, throttle.ErrBusy):
		return http.StatusServiceUnavailable, err.Error()
	case errors.Is(err, errTimeout):
		return http.StatusRequestTimeout, err.Error()
	default:
		return http.StatusInternalServerError, "internal error"
	}
}

var errNotConfigured = errors.New("authentication not configured")

// writeError writes the JSON error body for err and logs server errors. An error
// that says when to retry (throttle.RetryError) sets Retry-After; a body that timed
// out ends the connection.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := statusOf(err)
	var retry interface{ RetryAfter() time.Duration }
	if errors.As(err, &retry) {
		w.Header().Set("Retry-After", throttle.RetryAfterSeconds(retry.RetryAfter()))
	}
	if status == http.StatusRequestTimeout {
		w.Header().Set("Connection", "close")
	}
	log := loggerFrom(r.Context())
	// 501 and 503 (at capacity, refused on purpose) are no failures of the server;
	// a flood of them must not flood the error log.
	if status >= 500 && status != http.StatusNotImplemented && status != http.StatusServiceUnavailable {
		log.Error("request failed", "error", err.Error(), "status", status)
	} else {
		log.Debug("request rejected", "error", err.Error(), "status", status)
	}
	writeJSON(w, status, errorBody{Error: msg, Status: status})
}

// writeJSON writes v as the response body. HTML escaping is off: presigned URLs and
// messages are read and copied by people, and `\u0026` for `&` breaks a copied URL.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		slog.Debug("writing response body", "error", err)
	}
}
