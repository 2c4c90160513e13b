// Package embedded is the single-machine storage backend: blobs are files
// under <dir>/blobs (written to <dir>/tmp, fsynced and renamed into place)
// and metadata lives in a bbolt database at <dir>/meta.db.
package embedded

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/acme/module-registry/runtime/contract"
	"github.com/acme/module-registry/runtime/storage"
)

var (
	bucketUsers     = []byte("users")
	bucketTokens    = []byte("tokens")
	bucketPackages  = []byte("packages")
	bucketUploads   = []byte("uploads")
	bucketDownloads = []byte("downloads")
	allBuckets      = [][]byte{bucketUsers, bucketTokens, bucketPackages, bucketUploads, bucketDownloads}
)

// Store implements storage.MetadataStore and storage.BlobStore.
type Store struct {
	dir     string
	blobDir string
	tmpDir  string
	db      *bolt.DB

	useMu         sync.Mutex
	usePending    []*tokenUse // uses waiting for the next commit
	useCommitting bool        // a goroutine is committing uses
}

var (
	_ storage.MetadataStore = (*Store)(nil)
	_ storage.BlobStore     = (*Store)(nil)
)

// Open opens (creating if needed) the store under dir. It removes temp files
// left by an interrupted upload and blobs no package refers to.
func Open(dir string) (*Store, error) {
	s := &Store{dir: dir, blobDir: filepath.Join(dir, "blobs"), tmpDir: filepath.Join(dir, "tmp")}
	for _, d := range []string{dir, s.blobDir, s.tmpDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("create data directory: %w", err)
		}
	}
	db, err := bolt.Open(filepath.Join(dir, "meta.db"), 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open metadata database %s: %w", filepath.Join(dir, "meta.db"), err)
	}
	s.db = db
	if err := db.Update(func(tx *bolt.Tx) error {
		for _, b := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("initialise metadata database: %w", err)
	}
	if err := s.recover(); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Backend returns s as a storage.Backend.
func (s *Store) Backend() storage.Backend { return storage.Backend{Blobs: s, Meta: s} }

// Close closes the metadata database.
func (s *Store) Close() error { return s.db.Close() }

// TempDir is where in-flight uploads are staged.
func (s *Store) TempDir() string { return s.tmpDir }

// BlobPath is the file holding a committed blob (used by tests).
func (s *Store) BlobPath(key string) string { return filepath.Join(s.blobDir, key) }

// recover deletes staged temp files and committed blobs that no package
// refers to (a crash between rename and the metadata write).
func (s *Store) recover() error {
	tmp, err := os.ReadDir(s.tmpDir)
	if err != nil {
		return fmt.Errorf("read temp directory: %w", err)
	}
	for _, e := range tmp {
		if err := os.RemoveAll(filepath.Join(s.tmpDir, e.Name())); err != nil {
			return fmt.Errorf("remove stale temp file: %w", err)
		}
	}
	referenced := map[string]bool{}
	if err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketPackages).ForEach(func(_, v []byte) error {
			var p pkgRecord
			if err := json.Unmarshal(v, &p); err != nil {
				return err
			}
			referenced[p.BlobKey] = true
			return nil
		})
	}); err != nil {
		return fmt.Errorf("scan packages: %w", err)
	}
	blobs, err := os.ReadDir(s.blobDir)
	if err != nil {
		return fmt.Errorf("read blob directory: %w", err)
	}
	for _, e := range blobs {
		if !referenced[e.Name()] {
			if err := os.Remove(filepath.Join(s.blobDir, e.Name())); err != nil {
				return fmt.Errorf("remove orphaned blob: %w", err)
			}
		}
	}
	return nil
}

// ---- blobs ----

var blobKeyRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,200}$`)

func checkBlobKey(key string) error {
	if !blobKeyRE.MatchString(key) || key == "." || key == ".." {
		return fmt.Errorf("invalid blob key %q", key)
	}
	return nil
}

type fileWriter struct {
	s       *Store
	f       *os.File
	key     string
	written int64
	done    bool
}

// newBlobKey is a fresh random key: every upload gets its own file, so a
// refused or crashed upload never touches another's bytes.
func newBlobKey() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Create stages a new blob in the temp directory under a fresh random key;
// the package coordinates play no part in where it is stored.
func (s *Store) Create(_ context.Context, _, _ string) (storage.BlobWriter, error) {
	key := newBlobKey()
	f, err := os.CreateTemp(s.tmpDir, key+".*.part")
	if err != nil {
		return nil, fmt.Errorf("create temp file: %w", err)
	}
	return &fileWriter{s: s, f: f, key: key}, nil
}

func (w *fileWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.written += int64(n)
	return n, err
}

// Commit fsyncs the staged file, renames it into the blob directory and
// fsyncs the directory.
func (w *fileWriter) Commit(_ context.Context, want storage.Descriptor) (storage.Blob, error) {
	if w.done {
		return storage.Blob{}, errors.New("blob writer already finished")
	}
	if want.Size != w.written {
		err := fmt.Errorf("blob %s: %d bytes written, %d declared: %w", w.key, w.written, want.Size, storage.ErrSizeMismatch)
		return storage.Blob{}, errors.Join(err, w.Abort())
	}
	if err := w.f.Sync(); err != nil {
		return storage.Blob{}, fmt.Errorf("fsync blob: %w", err)
	}
	if err := w.f.Close(); err != nil {
		return storage.Blob{}, fmt.Errorf("close blob: %w", err)
	}
	final := filepath.Join(w.s.blobDir, w.key)
	if _, err := os.Stat(final); err == nil {
		return storage.Blob{}, fmt.Errorf("blob %s: %w", w.key, storage.ErrExists)
	}
	if err := os.Rename(w.f.Name(), final); err != nil {
		return storage.Blob{}, fmt.Errorf("rename blob into place: %w", err)
	}
	w.done = true
	if err := syncDir(w.s.blobDir); err != nil {
		return storage.Blob{}, err
	}
	return storage.Blob{Ref: w.key, Size: w.written, SHA256: want.SHA256}, nil
}

func (w *fileWriter) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	w.f.Close()
	if err := os.Remove(w.f.Name()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync directory: %w", err)
	}
	return nil
}

// Open opens a committed blob.
func (s *Store) Open(_ context.Context, key string) (io.ReadCloser, error) {
	if err := checkBlobKey(key); err != nil {
		return nil, err
	}
	f, err := os.Open(filepath.Join(s.blobDir, key))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("blob %s: %w", key, storage.ErrNotFound)
	}
	return f, err
}

// Delete removes a committed blob.
func (s *Store) Delete(_ context.Context, key string) error {
	if err := checkBlobKey(key); err != nil {
		return err
	}
	err := os.Remove(filepath.Join(s.blobDir, key))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// Ping checks that the blob directory is writable and the database is open.
func (s *Store) Ping(_ context.Context) error {
	f, err := os.CreateTemp(s.tmpDir, "ping.*")
	if err != nil {
		return fmt.Errorf("blob directory not writable: %w", err)
	}
	f.Close()
	os.Remove(f.Name())
	return s.db.View(func(tx *bolt.Tx) error { return nil })
}

// ---- metadata ----

type pkgRecord struct {
	storage.Package
	BlobKey string `json:"blob_key"`
}

func getJSON(b *bolt.Bucket, key string, v any) error {
	data := b.Get([]byte(key))
	if data == nil {
		return storage.ErrNotFound
	}
	return json.Unmarshal(data, v)
}

func putJSON(b *bolt.Bucket, key string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put([]byte(key), data)
}

func (s *Store) CreateUser(_ context.Context, u storage.User) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketUsers)
		if b.Get([]byte(u.Name)) != nil {
			return fmt.Errorf("user %q: %w", u.Name, storage.ErrExists)
		}
		return putJSON(b, u.Name, u)
	})
}

func (s *Store) PutUser(_ context.Context, u storage.User) error {
	return s.db.Update(func(tx *bolt.Tx) error { return putJSON(tx.Bucket(bucketUsers), u.Name, u) })
}

func (s *Store) GetUser(_ context.Context, name string) (storage.User, error) {
	var u storage.User
	err := s.db.View(func(tx *bolt.Tx) error { return getJSON(tx.Bucket(bucketUsers), name, &u) })
	if errors.Is(err, storage.ErrNotFound) {
		err = fmt.Errorf("user %q: %w", name, storage.ErrNotFound)
	}
	return u, err
}

func (s *Store) DeleteUser(_ context.Context, name string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketUsers)
		if b.Get([]byte(name)) == nil {
			return fmt.Errorf("user %q: %w", name, storage.ErrNotFound)
		}
		return b.Delete([]byte(name))
	})
}

func (s *Store) ListUsers(_ context.Context) ([]storage.User, error) {
	return listJSON[storage.User](s.db, bucketUsers)
}

// listJSON decodes every value of bucket, in key order.
func listJSON[T any](db *bolt.DB, bucket []byte) ([]T, error) {
	var out []T
	err := db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucket).ForEach(func(_, v []byte) error {
			var item T
			if err := json.Unmarshal(v, &item); err != nil {
				return err
			}
			out = append(out, item)
			return nil
		})
	})
	return out, err
}

func (s *Store) CreateToken(_ context.Context, t storage.Token) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTokens)
		if b.Get([]byte(t.ID)) != nil {
			return fmt.Errorf("token: %w", storage.ErrExists)
		}
		return putJSON(b, t.ID, t)
	})
}

func (s *Store) GetToken(_ context.Context, id string) (storage.Token, error) {
	var t storage.Token
	err := s.db.View(func(tx *bolt.Tx) error { return getJSON(tx.Bucket(bucketTokens), id, &t) })
	return t, err
}

// tokenUse is one UseToken call waiting for the group commit that records it.
type tokenUse struct {
	id   string
	now  time.Time
	tok  storage.Token
	err  error
	done chan struct{}
}

// UseToken consumes one use through a group commit: the uses that arrive
// while a commit is in flight are applied, in arrival order, in the next
// write transaction, so they share its fsyncs. Each check-and-increment
// reads the token as the transaction sees it (including earlier uses in the
// same transaction), so the limit holds under concurrency, and a call returns
// only after the transaction that counted it has committed.
//
// Unlike bbolt's DB.Batch, which waits up to MaxBatchDelay (10 ms) to gather
// a batch, a commit starts as soon as the previous one has finished.
func (s *Store) UseToken(_ context.Context, id string, now time.Time) (storage.Token, error) {
	u := &tokenUse{id: id, now: now, done: make(chan struct{})}
	s.useMu.Lock()
	s.usePending = append(s.usePending, u)
	lead := !s.useCommitting
	s.useCommitting = true
	s.useMu.Unlock()
	if lead {
		s.commitUses()
	}
	<-u.done
	return u.tok, u.err
}

// commitUses records the pending uses in one write transaction and wakes
// their callers. If more uses arrived meanwhile, a new goroutine commits
// them, so no caller waits for batches after its own.
func (s *Store) commitUses() {
	s.useMu.Lock()
	batch := s.usePending
	s.usePending = nil
	s.useMu.Unlock()

	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTokens)
		for _, u := range batch {
			var err error
			u.tok, u.err, err = useToken(b, u.id, u.now)
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		// Nothing in the transaction was committed: no use was counted.
		for _, u := range batch {
			u.tok, u.err = storage.Token{}, err
		}
	}

	s.useMu.Lock()
	if len(s.usePending) > 0 {
		go s.commitUses()
	} else {
		s.useCommitting = false
	}
	s.useMu.Unlock()
	for _, u := range batch {
		close(u.done)
	}
}

// useToken applies one use inside tx. result is the caller's outcome (not
// found, expired, exhausted); fatal aborts the whole transaction.
func useToken(b *bolt.Bucket, id string, now time.Time) (tok storage.Token, result, fatal error) {
	var t storage.Token
	if err := getJSON(b, id, &t); err != nil {
		return storage.Token{}, err, nil
	}
	switch {
	case !now.Before(t.ExpiresAt):
		return storage.Token{}, storage.ErrTokenExpired, nil
	case t.Uses >= t.MaxUses:
		return storage.Token{}, storage.ErrTokenExhausted, nil
	}
	t.Uses++
	if err := putJSON(b, id, t); err != nil {
		return storage.Token{}, nil, err
	}
	return t, nil, nil
}

func (s *Store) CreatePackage(_ context.Context, p storage.Package) error {
	key := contract.PackageKey(p.Name, p.Version)
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketPackages)
		if b.Get([]byte(key)) != nil {
			return fmt.Errorf("package %s: %w", key, storage.ErrExists)
		}
		return putJSON(b, key, pkgRecord{Package: p, BlobKey: p.BlobKey})
	})
}

func (s *Store) GetPackage(_ context.Context, name, version string) (storage.Package, error) {
	var r pkgRecord
	key := contract.PackageKey(name, version)
	err := s.db.View(func(tx *bolt.Tx) error { return getJSON(tx.Bucket(bucketPackages), key, &r) })
	if errors.Is(err, storage.ErrNotFound) {
		return storage.Package{}, fmt.Errorf("package %s: %w", key, storage.ErrNotFound)
	}
	r.Package.BlobKey = r.BlobKey
	return r.Package, err
}

func (s *Store) ListPackages(_ context.Context, opts storage.ListOptions) ([]storage.Package, int, error) {
	if opts.Limit <= 0 || opts.Offset < 0 {
		return nil, 0, fmt.Errorf("invalid list options offset=%d limit=%d", opts.Offset, opts.Limit)
	}
	var (
		out   []storage.Package
		total int
	)
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketPackages).Cursor()
		var prefix []byte
		if opts.Name != "" {
			prefix = []byte(opts.Name + "/")
		}
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			total++
			if total <= opts.Offset || len(out) >= opts.Limit {
				continue
			}
			var r pkgRecord
			if err := json.Unmarshal(v, &r); err != nil {
				return err
			}
			r.Package.BlobKey = r.BlobKey
			out = append(out, r.Package)
		}
		return nil
	})
	return out, total, err
}

func (s *Store) DeletePackage(_ context.Context, name, version string) (storage.Package, error) {
	var r pkgRecord
	key := contract.PackageKey(name, version)
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketPackages)
		if err := getJSON(b, key, &r); err != nil {
			return fmt.Errorf("package %s: %w", key, err)
		}
		return b.Delete([]byte(key))
	})
	r.Package.BlobKey = r.BlobKey
	return r.Package, err
}

func (s *Store) record(bucket []byte, r storage.TransferRecord) error {
	if r.ID == "" {
		return errors.New("transfer record needs an ID")
	}
	// Key by insertion sequence so listing returns records in order.
	return s.db.Batch(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		return putJSON(b, fmt.Sprintf("%020d/%s", seq, r.ID), r)
	})
}

func (s *Store) RecordUpload(_ context.Context, r storage.TransferRecord) error {
	return s.record(bucketUploads, r)
}

func (s *Store) RecordDownload(_ context.Context, r storage.TransferRecord) error {
	return s.record(bucketDownloads, r)
}

func (s *Store) ListUploads(_ context.Context) ([]storage.TransferRecord, error) {
	return listJSON[storage.TransferRecord](s.db, bucketUploads)
}

func (s *Store) ListDownloads(_ context.Context) ([]storage.TransferRecord, error) {
	return listJSON[storage.TransferRecord](s.db, bucketDownloads)
}
