package api

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/acme/module-registry/runtime/auth"
	"github.com/acme/module-registry/runtime/contract"
	"github.com/acme/module-registry/runtime/storage"
	"github.com/acme/module-registry/runtime/validator"
)

// Presigned transfers: the client moves the bytes directly to and from the
// blob store (S3) with short-lived URLs; the registry only checks metadata
// and S3's stored checksums (HeadObject), never the bytes themselves.

var errNoPresign = errorf(http.StatusNotImplemented, "presigned URLs need the aws storage backend (REGISTRY_BACKEND=aws); use PUT/GET /packages/{name}/{version} to stream through the registry")

func (s *Server) presigner() (storage.Presigner, error) {
	if s.cfg.Backend.Presign == nil {
		return nil, errNoPresign
	}
	return s.cfg.Backend.Presign, nil
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
	s.audited(w, r, auditDownload, func(rec *storage.TransferRecord) error {
		ctx := r.Context()
		p, name, version, err := s.authorizePackage(r, storage.PermDownload)
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
			return packageNotFound(err, name, version)
		}
		rec.SHA256, rec.Size = pkg.SHA256, pkg.Size
		rec.Detail = "presigned url"
		// A URL is the download: once issued it needs no further permission.
		if err := s.gate(r, rec, pkg, p.User, validator.RequestDownloadURL); err != nil {
			return err
		}
		if verify {
			if err := s.verifyStored(r, rec, ps, pkg); err != nil {
				return err
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

// verifyStored compares the store's checksum and size of pkg's blob with
// the recorded ones, without reading the bytes.
func (s *Server) verifyStored(r *http.Request, rec *storage.TransferRecord, ps storage.Presigner, pkg storage.Package) error {
	want, err := expectedChecksum(ps, pkg)
	if err != nil {
		return err
	}
	st, err := ps.StatBlob(r.Context(), pkg.BlobKey)
	if errors.Is(err, storage.ErrNotFound) {
		s.integrityFailure(r, rec, pkg, "blob missing")
		return errorf(http.StatusInternalServerError, "stored package %s failed its integrity check", contract.PackageKey(pkg.Name, pkg.Version))
	}
	if err != nil {
		return err
	}
	if st.Checksum != want || st.Size != pkg.Size {
		s.integrityFailure(r, rec, pkg, "stored checksum "+st.Checksum+" (size "+strconv.FormatInt(st.Size, 10)+") differs from the recorded "+want)
		return errorf(http.StatusUnprocessableEntity, "stored package %s does not match its recorded SHA-256 checksum", contract.PackageKey(pkg.Name, pkg.Version))
	}
	return nil
}

// authorizeUpload authorizes an upload of the path's package version and
// reads the JSON body into v.
func (s *Server) authorizeUpload(w http.ResponseWriter, r *http.Request, v any) (auth.Principal, string, string, error) {
	p, name, version, err := s.authorizePackage(r, storage.PermUpload)
	if err == nil {
		err = decodeJSON(r, w, v)
	}
	return p, name, version, err
}

type uploadURLRequest struct {
	SHA256 string `json:"sha256"`
	Size   *int64 `json:"size"`
}

// maxSinglePut is S3's limit for one PUT, which a presigned upload is.
const maxSinglePut int64 = 5 << 30

func (s *Server) handleUploadURL(w http.ResponseWriter, r *http.Request) {
	s.audited(w, r, auditUpload, func(rec *storage.TransferRecord) error {
		ctx := r.Context()
		var req uploadURLRequest
		p, name, version, err := s.authorizeUpload(w, r, &req)
		if err != nil {
			return err
		}
		sum, err := ParseHexSHA256(strings.TrimSpace(req.SHA256))
		if err != nil {
			return errorf(http.StatusBadRequest, "sha256: %v", err)
		}
		switch {
		case req.Size == nil:
			return errorf(http.StatusBadRequest, "size (the package's length in bytes) is required")
		case *req.Size == 0:
			return errEmptyPackage
		case *req.Size < 0:
			return errorf(http.StatusBadRequest, "size must be a positive number of bytes, got %d", *req.Size)
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
		if err := s.ensureNew(ctx, name, version); err != nil {
			return err
		}
		up, err := ps.PresignUpload(ctx, name, version, sum, size, s.cfg.PresignTTL)
		if err != nil {
			return err
		}
		put := up.Request
		id := newID() + newID()
		pending := storage.PendingUpload{ID: id, Name: name, Version: version, User: p.User.Name, SHA256: sum, Size: size, Key: up.Key, ExpiresAt: put.ExpiresAt}
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
	s.audited(w, r, auditUpload, func(rec *storage.TransferRecord) error {
		ctx := r.Context()
		var req commitRequest
		p, name, version, err := s.authorizeUpload(w, r, &req)
		if err != nil {
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
			return errorf(http.StatusNotFound, "no pending upload %q for %s (unknown, expired or already committed)", req.UploadID, contract.PackageKey(name, version))
		}
		if err != nil {
			return err
		}
		if pending.User != p.User.Name && !p.User.Has(storage.PermAdmin) {
			return errorf(http.StatusForbidden, "upload %q belongs to another user", req.UploadID)
		}
		rec.SHA256, rec.Size = pending.SHA256, pending.Size
		if err := s.ensureNew(ctx, name, version); err != nil {
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
		if err := s.createPackage(ctx, pkg); err != nil {
			return err
		}
		if err := ps.DeletePendingUpload(ctx, req.UploadID); err != nil {
			loggerFrom(ctx).Error("removing committed pending upload", "error", err.Error())
		}
		loggerFrom(ctx).Info("package uploaded", "package", contract.PackageKey(name, version), "sha256", pkg.SHA256, "size", pkg.Size, "presigned", true)
		writeCreated(w, pkg)
		return nil
	})
}
