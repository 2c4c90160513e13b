package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"sync"

	"github.com/acme/module-registry/runtime/storage"
)

// copyBufSize is the streaming chunk size. Memory per transfer is one
// (upload) or two (download) buffers, independent of artifact size.
const copyBufSize = 512 << 10

var bufPool = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}

func getBuf() *[]byte  { return bufPool.Get().(*[]byte) }
func putBuf(b *[]byte) { bufPool.Put(b) }

func (s *Server) record(ctx context.Context, upload bool, rec storage.TransferRecord) {
	rec.ID = newID()
	rec.At = s.cfg.Now().UTC()
	var err error
	if upload {
		err = s.cfg.Backend.Meta.RecordUpload(context.WithoutCancel(ctx), rec)
	} else {
		err = s.cfg.Backend.Meta.RecordDownload(context.WithoutCancel(ctx), rec)
	}
	if err != nil {
		loggerFrom(ctx).Error("writing transfer record", "upload", upload, "error", err.Error())
	}
}

// ---- upload ----

func (s *Server) handleUpload(w http.ResponseWriter, r *http.Request) {
	rec := storage.TransferRecord{Name: r.PathValue("name"), Version: r.PathValue("version"), ClientIP: clientIP(r)}
	p, err := s.upload(w, r, &rec)
	rec.User = p
	if err != nil {
		status, msg := statusOf(err)
		rec.Outcome = outcomeFor(status)
		rec.Detail = msg
		s.record(r.Context(), true, rec)
		writeError(w, r, err)
		return
	}
	rec.Outcome = storage.OutcomeOK
	s.record(r.Context(), true, rec)
	w.Header().Set("X-Checksum-SHA256", rec.SHA256)
	w.Header().Set("Content-Digest", FormatDigest(rec.SHA256))
	w.Header().Set("Location", "/packages/"+rec.Name+"/"+rec.Version)
	writeJSON(w, http.StatusCreated, map[string]any{"name": rec.Name, "version": rec.Version, "sha256_hash": rec.SHA256, "size": rec.Size})
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
	default:
		return storage.OutcomeError
	}
}

// upload streams the body into a staged blob, hashing in the same pass, and
// commits blob then metadata. On any failure nothing is left visible.
func (s *Server) upload(w http.ResponseWriter, r *http.Request, rec *storage.TransferRecord) (string, error) {
	ctx := r.Context()
	p, err := s.authorize(r, storage.PermUpload)
	if err != nil {
		return "", err
	}
	user := p.User.Name
	name, version, err := pathCoords(r)
	if err != nil {
		return user, err
	}
	want, err := expectedDigest(r.Header)
	if err != nil {
		return user, err
	}
	max := s.cfg.MaxUploadBytes
	if r.ContentLength > max {
		return user, errorf(http.StatusRequestEntityTooLarge, "package larger than the %d-byte limit", max)
	}
	if _, err := s.cfg.Backend.Meta.GetPackage(ctx, name, version); err == nil {
		return user, errorf(http.StatusConflict, "package %s already exists", storage.Key(name, version))
	} else if !errors.Is(err, storage.ErrNotFound) {
		return user, err
	}

	blobKey := newID() + newID()
	if kl, ok := s.cfg.Backend.Blobs.(storage.PackageKeyer); ok {
		blobKey = kl.PackageKey(name, version)
	}
	bw, err := s.cfg.Backend.Blobs.Create(ctx, blobKey)
	if err != nil {
		return user, err
	}
	committed := false
	defer func() {
		if !committed {
			if err := bw.Abort(); err != nil {
				loggerFrom(ctx).Error("discarding staged upload", "error", err.Error())
			}
		}
	}()

	h := sha256.New()
	size, rerr, werr := hashedCopy(bw, http.MaxBytesReader(w, r.Body, max), h)
	if rerr != nil {
		var mbe *http.MaxBytesError
		if errors.As(rerr, &mbe) {
			return user, errorf(http.StatusRequestEntityTooLarge, "package larger than the %d-byte limit", max)
		}
		return user, errorf(http.StatusBadRequest, "reading request body: %v", rerr)
	}
	if werr != nil {
		return user, werr
	}
	got := hex.EncodeToString(h.Sum(nil))
	rec.SHA256, rec.Size = got, size
	if want != "" && want != got {
		return user, errorf(http.StatusUnprocessableEntity, "content SHA-256 %s does not match the declared %s", got, want)
	}
	if err := bw.Commit(ctx); err != nil {
		return user, err
	}
	committed = true
	pkg := storage.Package{Name: name, Version: version, SHA256: got, Size: size, UploadedAt: s.cfg.Now().UTC(), Uploader: user, BlobKey: blobKey}
	if cb, ok := bw.(storage.CommittedBlob); ok {
		pkg.BlobKey, pkg.BlobChecksum = cb.Ref(), cb.Checksum()
		blobKey = pkg.BlobKey
	}
	if err := s.cfg.Backend.Meta.CreatePackage(context.WithoutCancel(ctx), pkg); err != nil {
		if derr := s.cfg.Backend.Blobs.Delete(context.WithoutCancel(ctx), blobKey); derr != nil {
			loggerFrom(ctx).Error("removing blob of refused upload", "error", derr.Error())
		}
		if errors.Is(err, storage.ErrExists) {
			return user, errorf(http.StatusConflict, "package %s already exists", storage.Key(name, version))
		}
		return user, err
	}
	loggerFrom(ctx).Info("package uploaded", "package", storage.Key(name, version), "sha256", got, "size", size)
	return user, nil
}

// ---- download ----

func (s *Server) handleDownload(w http.ResponseWriter, r *http.Request) {
	rec := storage.TransferRecord{Name: r.PathValue("name"), Version: r.PathValue("version"), ClientIP: clientIP(r)}
	err := s.download(w, r, &rec)
	if err != nil {
		status, msg := statusOf(err)
		if rec.Outcome == "" {
			rec.Outcome = outcomeFor(status)
		}
		rec.Detail = msg
	} else if rec.Outcome == "" {
		rec.Outcome = storage.OutcomeOK
	}
	s.record(r.Context(), false, rec)
	if errors.Is(err, errAbort) {
		panic(http.ErrAbortHandler) // body already started: cut the connection
	}
	if err != nil {
		writeError(w, r, err)
	}
}

var errAbort = errors.New("response aborted")

func (s *Server) download(w http.ResponseWriter, r *http.Request, rec *storage.TransferRecord) error {
	ctx := r.Context()
	p, err := s.authorize(r, storage.PermDownload)
	rec.User = p.User.Name
	if err != nil {
		return err
	}
	name, version, err := pathCoords(r)
	if err != nil {
		return err
	}
	var expected string
	if q := r.URL.Query(); q.Has("expected_hash") {
		if expected, err = ParseHexSHA256(q.Get("expected_hash")); err != nil {
			return errorf(http.StatusBadRequest, "expected_hash: %v", err)
		}
	}
	pkg, err := s.cfg.Backend.Meta.GetPackage(ctx, name, version)
	if err != nil {
		return err
	}
	rec.SHA256, rec.Size = pkg.SHA256, pkg.Size
	if expected != "" && expected != pkg.SHA256 {
		return errorf(http.StatusUnprocessableEntity, "stored SHA-256 %s does not match expected_hash %s", pkg.SHA256, expected)
	}
	rc, err := s.cfg.Backend.Blobs.Open(ctx, pkg.BlobKey)
	if err != nil {
		s.integrityFailure(r, rec, pkg, "blob missing: "+err.Error())
		return errorf(http.StatusInternalServerError, "stored package %s failed its integrity check", storage.Key(name, version))
	}
	defer rc.Close()

	setHeaders := func() {
		hd := w.Header()
		hd.Set("Content-Type", "application/octet-stream")
		hd.Set("Content-Length", strconv.FormatInt(pkg.Size, 10))
		hd.Set("X-Checksum-SHA256", pkg.SHA256)
		hd.Set("Repr-Digest", FormatDigest(pkg.SHA256))
		hd.Set("Last-Modified", pkg.UploadedAt.UTC().Format(http.TimeFormat))
		hd.Set("Cache-Control", "no-store")
	}
	if r.Method == http.MethodHead {
		setHeaders()
		w.WriteHeader(http.StatusOK)
		return nil
	}

	// Stream, hashing every chunk (in a reader goroutine, overlapping the
	// network write), but hold the most recent chunk back: it is only sent
	// once the whole blob has matched its recorded digest. Corruption
	// therefore never yields a complete response; a corrupted blob that
	// fits in one chunk gets a clean 500 instead.
	cr := startChunkReader(rc, sha256.New(), pkg.Size)
	defer cr.close()
	var pending *chunk
	defer func() { // runs before cr.close
		if pending != nil {
			cr.release(*pending)
		}
	}()
	started := false
	send := func(p []byte) error {
		if !started {
			setHeaders()
			started = true
		}
		_, err := w.Write(p)
		return err
	}
	for c := range cr.chunks {
		if pending != nil {
			err := send((*pending.b)[:pending.n])
			cr.release(*pending)
			pending = nil
			if err != nil {
				cr.release(c)
				rec.Outcome, rec.Detail = storage.OutcomeError, "client went away"
				return errAbort
			}
		}
		pending = &c
	}
	res := <-cr.result
	if res.err != nil {
		s.integrityFailure(r, rec, pkg, "read error: "+res.err.Error())
		if started {
			return errAbort
		}
		return errorf(http.StatusInternalServerError, "stored package %s could not be read", storage.Key(name, version))
	}
	if got := hex.EncodeToString(res.sum); res.n != pkg.Size || got != pkg.SHA256 {
		s.integrityFailure(r, rec, pkg, "stored bytes do not match the recorded digest (got sha256 "+got+", size "+strconv.FormatInt(res.n, 10)+")")
		if started {
			return errAbort
		}
		return errorf(http.StatusInternalServerError, "stored package %s failed its integrity check", storage.Key(name, version))
	}
	if !started {
		setHeaders()
	}
	if pending != nil {
		_, err := w.Write((*pending.b)[:pending.n])
		cr.release(*pending)
		pending = nil
		if err != nil {
			rec.Outcome, rec.Detail = storage.OutcomeError, "client went away"
		}
	}
	return nil
}

func (s *Server) integrityFailure(r *http.Request, rec *storage.TransferRecord, pkg storage.Package, detail string) {
	rec.Outcome = storage.OutcomeIntegrityFailure
	loggerFrom(r.Context()).Error("INTEGRITY FAILURE: stored package does not match its recorded SHA-256",
		"event", "integrity_failure", "package", storage.Key(pkg.Name, pkg.Version),
		"recorded_sha256", pkg.SHA256, "blob_key", pkg.BlobKey, "detail", detail)
}
