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
	"slices"
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
	// bucketValidators holds validator scripts whole: at most 64 KiB each.
	bucketValidators = []byte("validators")
	allBuckets       = [][]byte{bucketUsers, bucketTokens, bucketPackages, bucketUploads, bucketDownloads, bucketValidators}
)

// Store implements storage.MetadataStore and storage.BlobStore.
type Store struct {
	dir     string
	blobDir string
	tmpDir  string
	db      *bolt.DB

	useMu         sync.Mutex
	usePending    []*tokenLease // leases waiting for the next commit
	useCommitting bool          // a goroutine is committing leases

	users  userCache
	listed decodeMemo // package records as ListPackages decoded them
}

var (
	_ storage.MetadataStore  = (*Store)(nil)
	_ storage.BlobStore      = (*Store)(nil)
	_ storage.ValidatorStore = (*Store)(nil)
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
func (s *Store) Backend() storage.Backend { return storage.Backend{Blobs: s, Meta: s, Validators: s} }

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

// withID gives an account without an identity a fresh one.
func withID(u storage.User) storage.User {
	if u.ID == "" {
		u.ID = storage.NewAccountID()
	}
	return u
}

func (s *Store) CreateUser(_ context.Context, u storage.User) error {
	return s.writeUser(u.Name, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketUsers)
		if b.Get([]byte(u.Name)) != nil {
			return fmt.Errorf("user %q: %w", u.Name, storage.ErrExists)
		}
		return putJSON(b, u.Name, withID(u))
	})
}

func (s *Store) PutUser(_ context.Context, u storage.User) error {
	return s.writeUser(u.Name, func(tx *bolt.Tx) error { return putJSON(tx.Bucket(bucketUsers), u.Name, withID(u)) })
}

func (s *Store) UpdateUser(_ context.Context, u storage.User, ifID string) error {
	return s.writeUser(u.Name, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketUsers)
		var cur storage.User
		if err := getJSON(b, u.Name, &cur); err != nil || cur.ID != ifID {
			return fmt.Errorf("user %q with account id %q: %w", u.Name, ifID, storage.ErrNotFound)
		}
		return putJSON(b, u.Name, withID(u))
	})
}

// GetUser answers from the user cache when it can (see userCache).
func (s *Store) GetUser(_ context.Context, name string) (storage.User, error) {
	if u, ok := s.users.get(name); ok {
		return u, nil
	}
	gen := s.users.generation()
	var u storage.User
	err := s.db.View(func(tx *bolt.Tx) error { return getJSON(tx.Bucket(bucketUsers), name, &u) })
	if errors.Is(err, storage.ErrNotFound) {
		err = fmt.Errorf("user %q: %w", name, storage.ErrNotFound)
	}
	if err == nil {
		s.users.fill(name, u, gen)
	}
	return u, err
}

func (s *Store) DeleteUser(_ context.Context, name string) error {
	return s.writeUser(name, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketUsers)
		if b.Get([]byte(name)) == nil {
			return fmt.Errorf("user %q: %w", name, storage.ErrNotFound)
		}
		return b.Delete([]byte(name))
	})
}

// userCache holds decoded users for GetUser, which every authenticated request
// calls. It is exact, not merely fresh: bbolt locks the database file, so every
// change of a user goes through this Store, and writeUser keeps readers of the
// name out of the cache until its transaction has committed.
type userCache struct {
	mu  sync.RWMutex
	gen uint64 // bumped by every user write
	m   map[string]storage.User
}

// maxCachedUsers bounds the cache; past it, it starts again empty.
const maxCachedUsers = 4096

func (c *userCache) get(name string) (storage.User, bool) {
	c.mu.RLock()
	u, ok := c.m[name]
	c.mu.RUnlock()
	u.Permissions = slices.Clone(u.Permissions) // the caller's to change
	return u, ok
}

func (c *userCache) generation() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.gen
}

// fill caches u as read by a transaction begun after generation() returned gen,
// unless a user was written since.
func (c *userCache) fill(name string, u storage.User, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if c.m == nil || len(c.m) >= maxCachedUsers {
		c.m = make(map[string]storage.User)
	}
	u.Permissions = slices.Clone(u.Permissions)
	c.m[name] = u
}

// writeUser runs a write transaction changing the user name, holding the cache
// against readers until it has committed (or failed) and the name is dropped.
func (s *Store) writeUser(name string, fn func(*bolt.Tx) error) error {
	s.users.mu.Lock()
	defer s.users.mu.Unlock()
	s.users.gen++
	delete(s.users.m, name)
	return s.db.Update(fn)
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

// tokenLease is one LeaseTokenUses call waiting for the group commit that records it.
type tokenLease struct {
	id      string
	want    int
	now     time.Time
	tok     storage.Token
	granted int
	err     error
	done    chan struct{}
}

// LeaseTokenUses grants uses through a group commit: the leases that arrive
// while a commit is in flight are applied, in arrival order, in the next write
// transaction, so they share its fsyncs. Each check-and-add reads the token as
// the transaction sees it (including earlier leases in the same transaction), so
// the limit holds under concurrency, and a call returns only after the
// transaction that counted it has committed.
//
// Unlike bbolt's DB.Batch, which waits up to MaxBatchDelay (10 ms) to gather
// a batch, a commit starts as soon as the previous one has finished.
func (s *Store) LeaseTokenUses(_ context.Context, id string, want int, now time.Time) (storage.Token, int, error) {
	u := &tokenLease{id: id, want: max(want, 1), now: now, done: make(chan struct{})}
	s.useMu.Lock()
	s.usePending = append(s.usePending, u)
	lead := !s.useCommitting
	s.useCommitting = true
	s.useMu.Unlock()
	if lead {
		s.commitLeases()
	}
	<-u.done
	return u.tok, u.granted, u.err
}

// commitLeases records the pending leases in one write transaction and wakes
// their callers. If more arrived meanwhile, a new goroutine commits them, so no
// caller waits for batches after its own.
func (s *Store) commitLeases() {
	s.useMu.Lock()
	batch := s.usePending
	s.usePending = nil
	s.useMu.Unlock()

	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTokens)
		for _, u := range batch {
			var err error
			u.tok, u.granted, u.err, err = leaseToken(b, u.id, u.want, u.now)
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		// Nothing in the transaction was committed: no use was granted.
		for _, u := range batch {
			u.tok, u.granted, u.err = storage.Token{}, 0, err
		}
	}

	s.useMu.Lock()
	if len(s.usePending) > 0 {
		go s.commitLeases()
	} else {
		s.useCommitting = false
	}
	s.useMu.Unlock()
	for _, u := range batch {
		close(u.done)
	}
}

// leaseToken applies one lease inside tx. result is the caller's outcome (not
// found, expired, exhausted); fatal aborts the whole transaction.
func leaseToken(b *bolt.Bucket, id string, want int, now time.Time) (tok storage.Token, granted int, result, fatal error) {
	var t storage.Token
	if err := getJSON(b, id, &t); err != nil {
		return storage.Token{}, 0, err, nil
	}
	switch {
	case !now.Before(t.ExpiresAt):
		return storage.Token{}, 0, storage.ErrTokenExpired, nil
	case t.Uses >= t.MaxUses:
		// One process owns the database (bbolt locks the file): no other holder
		// can have uses out on lease, LeasedElsewhereAt stays zero.
		return t, 0, storage.ErrTokenExhausted, nil
	}
	granted = min(want, t.MaxUses-t.Uses)
	t.Uses += granted
	if err := putJSON(b, id, t); err != nil {
		return storage.Token{}, 0, nil, err
	}
	return t, granted, nil, nil
}

// ReturnTokenUses takes n back off the token's count in one write transaction.
func (s *Store) ReturnTokenUses(_ context.Context, id string, n int) error {
	if n < 1 {
		return fmt.Errorf("return %d uses of a token: must be at least 1", n)
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTokens)
		var t storage.Token
		if err := getJSON(b, id, &t); err != nil {
			return fmt.Errorf("token: %w", err)
		}
		if n > t.Uses {
			return fmt.Errorf("return %d uses of a token counting %d: more than were leased", n, t.Uses)
		}
		t.Uses -= n
		return putJSON(b, id, t)
	})
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
			p, err := s.listed.pkg(k, v)
			if err != nil {
				return err
			}
			out = append(out, p)
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
		// The version's validator goes with it: a later upload of the same version
		// does not inherit it.
		if err := tx.Bucket(bucketValidators).Delete([]byte(key)); err != nil {
			return err
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

// PutValidator stores v under its package key, replacing any earlier one, only
// while the package exists (ErrNotFound otherwise).
func (s *Store) PutValidator(_ context.Context, v storage.Validator) error {
	key := contract.PackageKey(v.Name, v.Version)
	return s.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketPackages).Get([]byte(key)) == nil {
			return fmt.Errorf("package %s: %w", key, storage.ErrNotFound)
		}
		return putJSON(tx.Bucket(bucketValidators), key, v)
	})
}

// GetValidator returns the version's validator or ErrNotFound.
func (s *Store) GetValidator(_ context.Context, name, version string) (storage.Validator, error) {
	var v storage.Validator
	err := s.db.View(func(tx *bolt.Tx) error {
		return getJSON(tx.Bucket(bucketValidators), contract.PackageKey(name, version), &v)
	})
	return v, err
}

// DeleteValidator removes the version's validator and returns it, or ErrNotFound.
func (s *Store) DeleteValidator(_ context.Context, name, version string) (storage.Validator, error) {
	var v storage.Validator
	err := s.db.Update(func(tx *bolt.Tx) error {
		b, key := tx.Bucket(bucketValidators), contract.PackageKey(name, version)
		if err := getJSON(b, key, &v); err != nil {
			return err
		}
		return b.Delete([]byte(key))
	})
	return v, err
}
