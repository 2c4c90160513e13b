package api

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/acme/module-registry/runtime/storage"
)

// Presigned transfers: the client moves the bytes directly to and from the
// blob store (S3) with short-lived URLs; the registry only checks metadata
// and S3's stored checksums (HeadObject), never the bytes themselves.

var errNoPresign = errorf(http.StatusNotImplemented, "presigned URLs need the aws storage backend (REGISTRY_BACKEND=aws); use PUT/GET /packages/{name}/{version} to stream through the registry")

func (s *Server) presigner() (storage.Presigner, error) {
	if p, ok := s.cfg.Backend.Blobs.(storage.Presigner); ok {
		return p, nil
	}
	return nil, errNoPresign
}

// audited runs fn and records the attempt as an upload or download record,
// whatever its outcome, then writes the error if there was one.
func (s *Server) audited(w http.ResponseWriter, r *http.Request, upload bool, fn func(rec *storage.TransferRecord) error) {
	rec := storage.TransferRecord{Name: r.PathValue("name"), Version: r.PathValue("version"), ClientIP: clientIP(r)}
	err := fn(&rec)
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
	s.record(r.Context(), upload, rec)
	if err != nil {
		writeError(w, r, err)
	}
}

// expectedChecksum is what the store must report for pkg: the checksum
// recorded at upload, or (recorded by a backend without one) the
// single-part form of the SHA-256.
func expectedChecksum(p storage.Presigner, pkg storage.Package) (string, error) {
	if pkg.BlobChecksum != "" {
		return pkg.BlobChecksum, nil
	}
	return p.ChecksumOf(pkg.SHA256)
}

func (s *Server) handleDownloadURL(w http.ResponseWriter, r *http.Request) {
	s.audited(w, r, false, func(rec *storage.TransferRecord) error {
		ctx := r.Context()
		if _, err := s.authorize(r, storage.PermDownload); err != nil {
			return err
		}
		name, version, err := pathCoords(r)
		if err != nil {
			return err
		}
		verify := true
		if v := r.URL.Query().Get("verify_hash"); v != "" {
			if verify, err = strconv.ParseBool(v); err != nil {
				return errorf(http.StatusBadRequest, "verify_hash must be true or false, got %q", v)
			}
		}
		ps, err := s.presigner()
		if err != nil {
			return err
		}
		pkg, err := s.cfg.Backend.Meta.GetPackage(ctx, name, version)
		if err != nil {
			return err
		}
		rec.SHA256, rec.Size = pkg.SHA256, pkg.Size
		rec.Detail = "presigned url"
		if verify {
			want, err := expectedChecksum(ps, pkg)
			if err != nil {
				return err
			}
			st, err := ps.StatBlob(ctx, pkg.BlobKey)
			if errors.Is(err, storage.ErrNotFound) {
				s.integrityFailure(r, rec, pkg, "blob missing")
				return errorf(http.StatusInternalServerError, "stored package %s failed its integrity check", storage.Key(name, version))
			}
			if err != nil {
				return err
			}
			if st.Checksum != want || st.Size != pkg.Size {
				s.integrityFailure(r, rec, pkg, "stored checksum "+st.Checksum+" (size "+strconv.FormatInt(st.Size, 10)+") differs from the recorded "+want)
				return errorf(http.StatusUnprocessableEntity, "stored package %s does not match its recorded SHA-256 checksum", storage.Key(name, version))
			}
		}
		req, err := ps.PresignDownload(ctx, pkg.BlobKey, s.cfg.PresignTTL)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"url": req.URL, "expires_at": req.ExpiresAt.Format(time.RFC3339), "sha256_hash": pkg.SHA256,
			"size": pkg.Size, "verified": verify,
		})
		return nil
	})
}

type uploadURLRequest struct {
	SHA256 string `json:"sha256"`
	Size   *int64 `json:"size"`
}

// maxSinglePut is S3's limit for one PUT, which a presigned upload is.
const maxSinglePut int64 = 5 << 30

func (s *Server) handleUploadURL(w http.ResponseWriter, r *http.Request) {
	s.audited(w, r, true, func(rec *storage.TransferRecord) error {
		ctx := r.Context()
		p, err := s.authorize(r, storage.PermUpload)
		if err != nil {
			return err
		}
		name, version, err := pathCoords(r)
		if err != nil {
			return err
		}
		var req uploadURLRequest
		if err := decodeJSON(r, w, &req); err != nil {
			return err
		}
		sum, err := ParseHexSHA256(strings.TrimSpace(req.SHA256))
		if err != nil {
			return errorf(http.StatusBadRequest, "sha256: %v", err)
		}
		if req.Size == nil || *req.Size <= 0 {
			return errorf(http.StatusBadRequest, "size must be a positive number of bytes")
		}
		size := *req.Size
		rec.SHA256, rec.Size, rec.Detail = sum, size, "presigned upload url"
		if limit := min(s.cfg.MaxUploadBytes, maxSinglePut); size > limit {
			return errorf(http.StatusRequestEntityTooLarge, "package larger than the %d-byte limit", limit)
		}
		ps, err := s.presigner()
		if err != nil {
			return err
		}
		if _, err := s.cfg.Backend.Meta.GetPackage(ctx, name, version); err == nil {
			return errorf(http.StatusConflict, "package %s already exists", storage.Key(name, version))
		} else if !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		key := newID() + newID()
		if kl, ok := s.cfg.Backend.Blobs.(storage.PackageKeyer); ok {
			key = kl.PackageKey(name, version)
		}
		put, err := ps.PresignUpload(ctx, key, sum, size, s.cfg.PresignTTL)
		if err != nil {
			return err
		}
		id := newID() + newID()
		pending := storage.PendingUpload{ID: id, Name: name, Version: version, User: p.User.Name, SHA256: sum, Size: size, Key: key, ExpiresAt: put.ExpiresAt}
		if err := ps.CreatePendingUpload(ctx, pending); err != nil {
			return err
		}
		rec.Outcome = storage.OutcomePresigned
		writeJSON(w, http.StatusOK, map[string]any{
			"upload_id": id, "method": put.Method, "url": put.URL, "headers": put.Headers,
			"expires_at": put.ExpiresAt.Format(time.RFC3339),
		})
		return nil
	})
}

type commitRequest struct {
	UploadID string `json:"upload_id"`
}

func (s *Server) handleCommitUpload(w http.ResponseWriter, r *http.Request) {
	s.audited(w, r, true, func(rec *storage.TransferRecord) error {
		ctx := r.Context()
		p, err := s.authorize(r, storage.PermUpload)
		if err != nil {
			return err
		}
		name, version, err := pathCoords(r)
		if err != nil {
			return err
		}
		var req commitRequest
		if err := decodeJSON(r, w, &req); err != nil {
			return err
		}
		if req.UploadID == "" {
			return errorf(http.StatusBadRequest, "upload_id is required")
		}
		ps, err := s.presigner()
		if err != nil {
			return err
		}
		pending, err := ps.GetPendingUpload(ctx, req.UploadID)
		if errors.Is(err, storage.ErrNotFound) || (err == nil && (pending.Name != name || pending.Version != version)) {
			return errorf(http.StatusNotFound, "no pending upload %q for %s (unknown, expired or already committed)", req.UploadID, storage.Key(name, version))
		}
		if err != nil {
			return err
		}
		if pending.User != p.User.Name && !p.User.Has(storage.PermAdmin) {
			return errorf(http.StatusForbidden, "upload %q belongs to another user", req.UploadID)
		}
		rec.SHA256, rec.Size = pending.SHA256, pending.Size
		if _, err := s.cfg.Backend.Meta.GetPackage(ctx, name, version); err == nil {
			return errorf(http.StatusConflict, "package %s already exists", storage.Key(name, version))
		} else if !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		st, err := ps.StatBlob(ctx, pending.Key)
		if errors.Is(err, storage.ErrNotFound) {
			return errorf(http.StatusBadRequest, "nothing has been uploaded to the presigned URL of %q yet", req.UploadID)
		}
		if err != nil {
			return err
		}
		want, err := ps.ChecksumOf(pending.SHA256)
		if err != nil {
			return err
		}
		if st.Checksum != want || st.Size != pending.Size {
			// The object is left alone: S3 refuses a PUT whose bytes differ
			// from the signed checksum, so a mismatch here means another
			// writer, to be investigated rather than deleted.
			return errorf(http.StatusUnprocessableEntity, "stored object (checksum %q, %d bytes) does not match the declared SHA-256 %s and size %d", st.Checksum, st.Size, pending.SHA256, pending.Size)
		}
		pkg := storage.Package{Name: name, Version: version, SHA256: pending.SHA256, Size: pending.Size, UploadedAt: s.cfg.Now().UTC(),
			Uploader: pending.User, BlobKey: st.Ref, BlobChecksum: st.Checksum}
		if err := s.cfg.Backend.Meta.CreatePackage(ctx, pkg); err != nil {
			if errors.Is(err, storage.ErrExists) {
				return errorf(http.StatusConflict, "package %s already exists", storage.Key(name, version))
			}
			return err
		}
		if err := ps.DeletePendingUpload(ctx, req.UploadID); err != nil {
			loggerFrom(ctx).Error("removing committed pending upload", "error", err.Error())
		}
		loggerFrom(ctx).Info("package uploaded", "package", storage.Key(name, version), "sha256", pkg.SHA256, "size", pkg.Size, "presigned", true)
		w.Header().Set("X-Checksum-SHA256", pkg.SHA256)
		w.Header().Set("Location", "/packages/"+name+"/"+version)
		writeJSON(w, http.StatusCreated, map[string]any{"name": name, "version": version, "sha256_hash": pkg.SHA256, "size": pkg.Size})
		return nil
	})
}
