package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/acme/module-registry/runtime/storage"
)

// auditKind says which audit table a transfer's record goes to.
type auditKind int

const (
	auditUpload auditKind = iota
	auditDownload
)

// errAbort is returned by a transfer whose response body has started when
// it fails: the status line is gone, so the connection is cut instead.
var errAbort = errors.New("response aborted")

// audited runs the transfer fn and records the attempt, whatever its
// outcome, as an upload or download record naming the authenticated
// caller; then it answers the error, if there was one. fn fills in the
// record's package details as it learns them and may set its outcome (for
// outcomes a status does not tell, such as an integrity failure);
// otherwise the outcome follows from the error.
func (s *Server) audited(w http.ResponseWriter, r *http.Request, kind auditKind, fn func(rec *storage.TransferRecord) error) {
	rec := storage.TransferRecord{Name: r.PathValue("name"), Version: r.PathValue("version"), ClientIP: clientIP(r)}
	err := fn(&rec)
	// The answer (buffered until the handler returns) goes out after the transfer's
	// work, which may have outlasted the ResponseTimeout counted from the start.
	s.answerWithin(r)
	rec.User = infoFrom(r.Context()).user
	if err != nil {
		status, msg := statusOf(err)
		if rec.Outcome == "" {
			rec.Outcome = outcomeFor(status)
		}
		rec.Detail = msg
	} else if rec.Outcome == "" {
		rec.Outcome = storage.OutcomeOK
	}
	s.record(r.Context(), kind, rec)
	switch {
	case errors.Is(err, errAbort):
		panic(http.ErrAbortHandler) // body already started: cut the connection
	case err != nil:
		writeError(w, r, err)
	}
}

func (s *Server) record(ctx context.Context, kind auditKind, rec storage.TransferRecord) {
	rec.ID = newID()
	rec.At = s.cfg.Now().UTC()
	ctx, meta := context.WithoutCancel(ctx), s.cfg.Backend.Meta
	var err error
	if kind == auditUpload {
		err = meta.RecordUpload(ctx, rec)
	} else {
		err = meta.RecordDownload(ctx, rec)
	}
	if err != nil {
		loggerFrom(ctx).Error("writing transfer record", "upload", kind == auditUpload, "error", err.Error())
	}
}

func outcomeFor(status int) string {
	switch status {
	case http.StatusForbidden, http.StatusUnauthorized, http.StatusNotImplemented:
		return storage.OutcomeDenied
	case http.StatusNotFound:
		return storage.OutcomeNotFound
	case http.StatusConflict:
		return storage.OutcomeConflict
	case http.StatusRequestEntityTooLarge:
		return storage.OutcomeTooLarge
	case http.StatusUnprocessableEntity:
		return storage.OutcomeHashMismatch
	case http.StatusBadRequest:
		return storage.OutcomeInvalid
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		return storage.OutcomeThrottled
	case http.StatusRequestTimeout:
		return storage.OutcomeTimeout
	default:
		return storage.OutcomeError
	}
}
