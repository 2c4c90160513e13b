package api

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"github.com/acme/module-registry/runtime/auth"
	"github.com/acme/module-registry/runtime/contract"
	"github.com/acme/module-registry/runtime/storage"
	"github.com/acme/module-registry/runtime/validator"
)

// ---- validators: the scripts that gate a package version's downloads ----

type validatorView struct {
	Name      string `json:"name"`
	Version   string `json:"version"`
	SHA256    string `json:"sha256_hash"`
	Size      int64  `json:"size"`
	UpdatedAt string `json:"updated_at"`
	UpdatedBy string `json:"updated_by"`
}

func validatorViewOf(v storage.Validator) validatorView {
	return validatorView{v.Name, v.Version, v.SHA256, v.Size, v.UpdatedAt.UTC().Format("2006-01-02T15:04:05.000Z07:00"), v.UpdatedBy}
}

// errNoSandbox answers the validator routes of a registry configured without one.
var errNoSandbox = errorf(http.StatusNotImplemented, "validators are not enabled on this registry")

// authorizeValidator lets administrators and the version's uploader (holding the
// upload permission) manage its validator, as they manage the package itself.
func (s *Server) authorizeValidator(r *http.Request) (auth.Principal, storage.Package, error) {
	if s.cfg.Backend.Validators == nil {
		return auth.Principal{}, storage.Package{}, errNoSandbox
	}
	p, name, version, err := s.authorizePackage(r, storage.PermUpload)
	if err != nil {
		return p, storage.Package{}, err
	}
	pkg, err := s.cfg.Backend.Meta.GetPackage(r.Context(), name, version)
	if err != nil {
		return p, storage.Package{}, packageNotFound(err, name, version)
	}
	if !p.User.Has(storage.PermAdmin) && p.User.Name != pkg.Uploader {
		return p, pkg, errorf(http.StatusForbidden, "only an administrator or %s, who uploaded %s, may manage its validator",
			pkg.Uploader, contract.PackageKey(name, version))
	}
	return p, pkg, nil
}

func validatorNotFound(err error, name, version string) error {
	if errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("no validator is attached to %s: %w", contract.PackageKey(name, version), storage.ErrNotFound)
	}
	return err
}

func (s *Server) handlePutValidator(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Validators == nil { // no sandbox to check the script against
		writeError(w, r, errNoSandbox)
		return
	}
	p, pkg, err := s.authorizeValidator(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	want, err := expectedDigest(r.Header)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if r.ContentLength > validator.MaxSourceBytes {
		writeError(w, r, errorf(http.StatusRequestEntityTooLarge, "validator larger than the %d-byte limit", validator.MaxSourceBytes))
		return
	}
	src, err := io.ReadAll(http.MaxBytesReader(w, r.Body, validator.MaxSourceBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			err = errorf(http.StatusRequestEntityTooLarge, "validator larger than the %d-byte limit", validator.MaxSourceBytes)
		case errors.Is(err, errTimeout):
		default:
			err = errorf(http.StatusBadRequest, "reading request body: %v", err)
		}
		writeError(w, r, err)
		return
	}
	sum := validator.Hash(src)
	if want != "" && want != sum {
		writeError(w, r, errorf(http.StatusUnprocessableEntity, "validator SHA-256 %s does not match the declared %s", sum, want))
		return
	}
	// Parsed in a sandboxed child: the parser is fed untrusted text too.
	if err := s.cfg.Validators.Check(r.Context(), src); err != nil {
		writeError(w, r, err)
		return
	}
	v := storage.Validator{Name: pkg.Name, Version: pkg.Version, SHA256: sum, Size: int64(len(src)),
		UpdatedAt: s.cfg.Now().UTC(), UpdatedBy: p.User.Name, Source: src}
	if err := s.cfg.Backend.Validators.PutValidator(r.Context(), v); err != nil {
		writeError(w, r, err)
		return
	}
	loggerFrom(r.Context()).Info("validator attached", "package", contract.PackageKey(pkg.Name, pkg.Version), "validator_sha256", sum, "size", len(src))
	w.Header().Set("X-Checksum-SHA256", sum)
	writeJSON(w, http.StatusOK, validatorViewOf(v))
}

func (s *Server) handleGetValidator(w http.ResponseWriter, r *http.Request) {
	_, pkg, err := s.authorizeValidator(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	v, err := s.cfg.Backend.Validators.GetValidator(r.Context(), pkg.Name, pkg.Version)
	if err != nil {
		writeError(w, r, validatorNotFound(err, pkg.Name, pkg.Version))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/javascript; charset=utf-8")
	h.Set("X-Checksum-SHA256", v.SHA256)
	h.Set("Repr-Digest", FormatDigest(v.SHA256))
	h.Set("Last-Modified", v.UpdatedAt.UTC().Format(http.TimeFormat))
	h.Set("X-Validator-Updated-By", v.UpdatedBy)
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(v.Source)
}

func (s *Server) handleDeleteValidator(w http.ResponseWriter, r *http.Request) {
	_, pkg, err := s.authorizeValidator(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	v, err := s.cfg.Backend.Validators.DeleteValidator(r.Context(), pkg.Name, pkg.Version)
	if err != nil {
		writeError(w, r, validatorNotFound(err, pkg.Name, pkg.Version))
		return
	}
	loggerFrom(r.Context()).Info("validator removed", "package", contract.PackageKey(pkg.Name, pkg.Version), "validator_sha256", v.SHA256)
	writeJSON(w, http.StatusOK, validatorViewOf(v))
}

// validatorRefusal is a download the version's validator did not allow: denied,
// or failed (timeout, memory, error), which fails closed. Both are 403.
type validatorRefusal struct {
	res validator.Result
}

func (e *validatorRefusal) Error() string {
	if e.res.Outcome == validator.OutcomeDenied {
		return "the package's validator denied the download: " + e.res.Reason
	}
	return fmt.Sprintf("the package's validator did not allow the download (%s): %s", e.res.Outcome, e.res.Reason)
}

// gate runs the validator attached to pkg, if any, before a download of kind
// (validator.RequestDownload or RequestDownloadURL) starts. It records the run in
// rec and the log, and lets the download go ahead only on OutcomeAllowed.
func (s *Server) gate(r *http.Request, rec *storage.TransferRecord, pkg storage.Package, user storage.User, kind string) error {
	if s.cfg.Backend.Validators == nil {
		return nil
	}
	ctx := r.Context()
	v, err := s.cfg.Backend.Validators.GetValidator(ctx, pkg.Name, pkg.Version)
	if errors.Is(err, storage.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	var res validator.Result
	switch {
	case s.cfg.Validators == nil:
		res = validator.Result{Outcome: validator.OutcomeError, Reason: "a validator is attached but this registry runs no validator sandbox", SHA256: v.SHA256}
	case validator.Hash(v.Source) != v.SHA256:
		res = validator.Result{Outcome: validator.OutcomeError, Reason: "the stored validator does not match its recorded SHA-256", SHA256: v.SHA256}
	default:
		res, err = s.cfg.Validators.Run(ctx, v.Source, validator.Input{
			Package: validator.Package{Name: pkg.Name, Version: pkg.Version, SHA256: pkg.SHA256, Size: pkg.Size,
				Uploader: pkg.Uploader, UploadedAt: pkg.UploadedAt.UTC()},
			User:    validator.User{Name: user.Name, Permissions: user.Permissions},
			Request: validator.Request{Kind: kind, Time: s.cfg.Now().UTC()},
		})
		if errors.Is(err, validator.ErrBusy) {
			return err // 503 with Retry-After: nothing ran
		}
		if err != nil {
			res = validator.Result{Outcome: validator.OutcomeError, Reason: err.Error(), SHA256: v.SHA256}
		}
	}
	rec.ValidatorOutcome, rec.ValidatorSHA256, rec.ValidatorMillis = string(res.Outcome), res.SHA256, res.Duration.Milliseconds()
	s.cfg.ValidatorMetrics.Log(ctx, loggerFrom(ctx), res,
		slog.String("package", contract.PackageKey(pkg.Name, pkg.Version)), slog.String("user", user.Name), slog.String("request_kind", kind))
	switch res.Outcome {
	case validator.OutcomeAllowed:
		return nil
	case validator.OutcomeDenied:
		rec.Outcome = storage.OutcomeValidatorDenied
	default:
		rec.Outcome = storage.OutcomeValidatorFailed
	}
	return &validatorRefusal{res: res}
}
