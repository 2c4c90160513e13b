package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/acme/module-registry/runtime/auth"
	"github.com/acme/module-registry/runtime/storage"
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
	default:
		return http.StatusInternalServerError, "internal error"
	}
}

var errNotConfigured = errors.New("authentication not configured")

// writeError writes the JSON error body for err and logs server errors.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := statusOf(err)
	log := loggerFrom(r.Context())
	if status >= 500 && status != http.StatusNotImplemented {
		log.Error("request failed", "error", err.Error(), "status", status)
	} else {
		log.Debug("request rejected", "error", err.Error(), "status", status)
	}
	writeJSON(w, status, errorBody{Error: msg, Status: status})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		slog.Debug("writing response body", "error", err)
	}
}
