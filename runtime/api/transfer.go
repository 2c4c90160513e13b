package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"sync"

	"github.com/acme/module-registry/runtime/contract"
	"github.com/acme/module-registry/runtime/storage"
	"github.com/acme/module-registry/runtime/validator"
)

// copyBufSize is the streaming chunk size. Memory per transfer is one
// (upload) or two (download) buffers, independent of artifact size.
const copyBufSize = 512 << 10

var bufPool = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}

func getBuf() *[]byte  { return bufPool.Get().(*[]byte) }
func putBuf(b *[]byte) { bufPool.Put(b) }

// ---- upload ----

func (s *Server) handleUpload(w http.ResponseWriter, r *http.Request) {
	s.audited(w, r, auditUpload, func(rec *storage.TransferRecord) error {
		pkg, err := s.upload(w, r, rec)
		if err != nil {
			return err
		}
		w.Header().Set("Content-Digest", FormatDigest(pkg.SHA256))
		writeCreated(w, pkg)
		return nil
	})
}

// writeCreated answers 201 for a newly recorded package.
func writeCreated(w http.ResponseWriter, pkg storage.Package) {
	w.Header().Set("X-Checksum-SHA256", pkg.SHA256)
	w.Header().Set("Location", "/packages/"+pkg.Name+"/"+pkg.Version)
	writeJSON(w, http.StatusCreated, map[string]any{"name": pkg.Name, "version": pkg.Version, "sha256_hash": pkg.SHA256, "size": pkg.Size})
}

// errEmptyPackage is the one rule for empty bodies on every upload path.
var errEmptyPackage = errorf(http.StatusBadRequest, "package is empty: a package must hold at least one byte")

func errPackageExists(name, version string) error {
	return errorf(http.StatusConflict, "package %s already exists", contract.PackageKey(name, version))
}

// ensureNew answers 409 early when the version is already recorded.
func (s *Server) ensureNew(ctx context.Context, name, version string) error {
	_, err := s.cfg.Backend.Meta.GetPackage(ctx, name, version)
	switch {
	case err == nil:
		return errPackageExists(name, version)
	case errors.Is(err, storage.ErrNotFound):
		return nil
	default:
		return err
	}
}

// createPackage records pkg; a version recorded meanwhile is a 409.
func (s *Server) createPackage(ctx context.Context, pkg storage.Package) error {
	err := s.cfg.Backend.Meta.CreatePackage(ctx, pkg)
	if errors.Is(err, storage.ErrExists) {
		return errPackageExists(pkg.Name, pkg.Version)
	}
	return err
}

// upload streams the body into a new blob, hashing in the same pass, and
// commits blob then metadata. On any failure nothing is left visible.
func (s *Server) upload(w http.ResponseWriter, r *http.Request, rec *storage.TransferRecord) (storage.Package, error) {
	ctx := r.Context()
	p, name, version, err := s.authorizePackage(r, storage.PermUpload)
	if err != nil {
		return storage.Package{}, err
	}
	want, err := expectedDigest(r.Header)
	if err != nil {
		return storage.Package{}, err
	}
	max := s.cfg.MaxUploadBytes
	if r.ContentLength > max {
		return storage.Package{}, errorf(http.StatusRequestEntityTooLarge, "package larger than the %d-byte limit", max)
	}
	if r.ContentLength == 0 {
		return storage.Package{}, errEmptyPackage
	}
	if err := s.ensureNew(ctx, name, version); err != nil {
		return storage.Package{}, err
	}

	bw, err := s.cfg.Backend.Blobs.Create(ctx, name, version)
	if err != nil {
		return storage.Package{}, err
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
	size, rerr, werr := hashedCopy(bw, http.MaxBytesReader(w, s.transferBody(r), max), h)
	if rerr != nil {
		var mbe *http.MaxBytesError
		switch {
		case errors.As(rerr, &mbe):
			return storage.Package{}, errorf(http.StatusRequestEntityTooLarge, "package larger than the %d-byte limit", max)
		case errors.Is(rerr, errTimeout):
			return storage.Package{}, rerr
		}
		return storage.Package{}, errorf(http.StatusBadRequest, "reading request body: %v", rerr)
	}
	if werr != nil {
		return storage.Package{}, werr
	}
	if size == 0 {
		return storage.Package{}, errEmptyPackage
	}
	got := hex.EncodeToString(h.Sum(nil))
	rec.SHA256, rec.Size = got, size
	if want != "" && want != got {
		return storage.Package{}, errorf(http.StatusUnprocessableEntity, "content SHA-256 %s does not match the declared %s", got, want)
	}
	blob, err := bw.Commit(ctx, storage.Descriptor{Size: size, SHA256: got})
	if err != nil {
		return storage.Package{}, err
	}
	committed = true
	pkg := storage.Package{Name: name, Version: version, SHA256: blob.SHA256, Size: blob.Size, UploadedAt: s.cfg.Now().UTC(),
		Uploader: p.User.Name, BlobKey: blob.Ref, BlobChecksum: blob.Checksum}
	if err := s.createPackage(context.WithoutCancel(ctx), pkg); err != nil {
		if derr := s.cfg.Backend.Blobs.Delete(context.WithoutCancel(ctx), blob.Ref); derr != nil {
			loggerFrom(ctx).Error("removing blob of refused upload", "error", derr.Error())
		}
		return storage.Package{}, err
	}
	loggerFrom(ctx).Info("package uploaded", "package", contract.PackageKey(name, version), "sha256", got, "size", size)
	return pkg, nil
}

// ---- download ----

func (s *Server) handleDownload(w http.ResponseWriter, r *http.Request) {
	s.audited(w, r, auditDownload, func(rec *storage.TransferRecord) error { return s.download(w, r, rec) })
}

func (s *Server) download(w http.ResponseWriter, r *http.Request, rec *storage.TransferRecord) error {
	ctx := r.Context()
	p, name, version, err := s.authorizePackage(r, storage.PermDownload)
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
		return packageNotFound(err, name, version)
	}
	rec.SHA256, rec.Size = pkg.SHA256, pkg.Size
	if expected != "" && expected != pkg.SHA256 {
		return errorf(http.StatusUnprocessableEntity, "stored SHA-256 %s does not match expected_hash %s", pkg.SHA256, expected)
	}
	if err := s.gate(r, rec, pkg, p.User, validator.RequestDownload); err != nil {
		return err
	}
	return s.streamPackage(w, r, rec, pkg)
}

// streamPackage sends the stored bytes of pkg, verified against its recorded digest
// while streaming: package downloads and module archives share it.
func (s *Server) streamPackage(w http.ResponseWriter, r *http.Request, rec *storage.TransferRecord, pkg storage.Package) error {
	ctx, name, version := r.Context(), pkg.Name, pkg.Version
	rc, err := s.cfg.Backend.Blobs.Open(ctx, pkg.BlobKey)
	if err != nil {
		s.integrityFailure(r, rec, pkg, "blob missing: "+err.Error())
		return errorf(http.StatusInternalServerError, "stored package %s failed its integrity check", contract.PackageKey(name, version))
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
	w = s.transferWriter(w, r) // a reader that stalls or trickles is cut

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
		return errorf(http.StatusInternalServerError, "stored package %s could not be read", contract.PackageKey(name, version))
	}
	if got := hex.EncodeToString(res.sum); res.n != pkg.Size || got != pkg.SHA256 {
		s.integrityFailure(r, rec, pkg, "stored bytes do not match the recorded digest (got sha256 "+got+", size "+strconv.FormatInt(res.n, 10)+")")
		if started {
			return errAbort
		}
		return errorf(http.StatusInternalServerError, "stored package %s failed its integrity check", contract.PackageKey(name, version))
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
		"event", "integrity_failure", "package", contract.PackageKey(pkg.Name, pkg.Version),
		"recorded_sha256", pkg.SHA256, "blob_key", pkg.BlobKey, "detail", detail)
}
