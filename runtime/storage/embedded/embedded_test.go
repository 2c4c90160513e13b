package embedded

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/acme/module-registry/runtime/storage"
	"github.com/acme/module-registry/runtime/storage/storagetest"
)

func TestContract(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storagetest.Subject {
		dir := t.TempDir()
		s, err := Open(dir)
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		return storagetest.Subject{Backend: s.Backend(), Committed: func(t *testing.T) []string { return files(t, dir, "blobs") },
			WriteLegacyUser: func(t *testing.T, u storage.User) { writeLegacyUser(t, s, u) }}
	})
}

// writeLegacyUser stores u in the JSON form users had before they had an identity.
func writeLegacyUser(t *testing.T, s *Store, u storage.User) {
	t.Helper()
	legacy := map[string]any{"name": u.Name, "password_hash": u.PasswordHash, "permissions": u.Permissions, "created_at": u.CreatedAt}
	require.NoError(t, s.db.Update(func(tx *bolt.Tx) error { return putJSON(tx.Bucket(bucketUsers), u.Name, legacy) }))
}

// files lists the names in dir/sub.
func files(t *testing.T, dir, sub string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, sub))
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestTokenLeasesSurviveReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	now := time.Now()
	s, err := Open(dir)
	require.NoError(t, err)
	require.NoError(t, s.CreateToken(ctx, storage.Token{ID: "t", ExpiresAt: now.Add(time.Hour), MaxUses: 5}))
	_, n, err := s.LeaseTokenUses(ctx, "t", 3, now)
	require.NoError(t, err)
	require.Equal(t, 3, n)
	require.NoError(t, s.ReturnTokenUses(ctx, "t", 1))
	require.NoError(t, s.Close())

	s, err = Open(dir)
	require.NoError(t, err)
	defer s.Close()
	_, n, err = s.LeaseTokenUses(ctx, "t", 5, now)
	require.NoError(t, err)
	assert.Equal(t, 3, n, "2 leased and kept before the reopen")
	_, _, err = s.LeaseTokenUses(ctx, "t", 1, now)
	require.ErrorIs(t, err, storage.ErrTokenExhausted)
}

func TestOpenRemovesTempFilesAndOrphans(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(dir)
	require.NoError(t, err)
	w, err := s.Create(ctx, "staged", "1")
	require.NoError(t, err)
	_, err = w.Write([]byte("partial"))
	require.NoError(t, err)
	// Committed blob without metadata: a crash between rename and CreatePackage.
	orphan := commit(t, s, "orphan", "1")
	kept := commit(t, s, "a", "1")
	require.NoError(t, s.CreatePackage(ctx, storage.Package{Name: "a", Version: "1", BlobKey: kept.Ref}))
	require.NoError(t, s.Close())

	s, err = Open(dir)
	require.NoError(t, err)
	defer s.Close()
	assert.Empty(t, files(t, dir, "tmp"))
	assert.NoFileExists(t, filepath.Join(dir, "blobs", orphan.Ref))
	assert.FileExists(t, filepath.Join(dir, "blobs", kept.Ref))
}

func commit(t *testing.T, s *Store, name, version string) storage.Blob {
	t.Helper()
	w, err := s.Create(context.Background(), name, version)
	require.NoError(t, err)
	b, err := w.Commit(context.Background(), storage.Descriptor{})
	require.NoError(t, err)
	return b
}

func TestBlobKeysCannotEscape(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	require.NoError(t, err)
	defer s.Close()
	for _, k := range []string{"../x", "a/b", "", "..", "."} {
		_, err = s.Open(context.Background(), k)
		assert.Error(t, err, k)
		assert.Error(t, s.Delete(context.Background(), k), k)
	}
	// Hostile coordinates play no part in where a blob is stored.
	b := commit(t, s, "../../x", "..")
	assert.Equal(t, []string{b.Ref}, files(t, dir, "blobs"))
	assert.Empty(t, files(t, dir, "tmp"))
}

// Concurrent leases of several tokens share group commits; every use that was
// granted is on disk after a reopen, and no token goes past its limit.
func TestGroupCommittedUsesAreDurable(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	now := time.Now()
	s, err := Open(dir)
	require.NoError(t, err)
	const tokens, limit, perToken = 4, 25, 40
	for i := range tokens {
		require.NoError(t, s.CreateToken(ctx, storage.Token{ID: fmt.Sprint("t", i), ExpiresAt: now.Add(time.Hour), MaxUses: limit}))
	}
	var granted [tokens]atomic.Int32
	var wg sync.WaitGroup
	for i := range tokens {
		for range perToken {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, n, err := s.LeaseTokenUses(ctx, fmt.Sprint("t", i), 1+i, now)
				switch {
				case err == nil:
					granted[i].Add(int32(n))
				case !errors.Is(err, storage.ErrTokenExhausted):
					t.Errorf("unexpected error: %v", err)
				}
			}()
		}
	}
	wg.Wait()
	require.NoError(t, s.Close())

	s, err = Open(dir)
	require.NoError(t, err)
	defer s.Close()
	for i := range tokens {
		assert.EqualValues(t, limit, granted[i].Load())
		tok, err := s.GetToken(ctx, fmt.Sprint("t", i))
		require.NoError(t, err)
		assert.Equal(t, limit, tok.Uses)
	}
}

func TestLeaseAfterCloseFails(t *testing.T) {
	ctx := context.Background()
	s, err := Open(t.TempDir())
	require.NoError(t, err)
	require.NoError(t, s.CreateToken(ctx, storage.Token{ID: "t", ExpiresAt: time.Now().Add(time.Hour), MaxUses: 5}))
	require.NoError(t, s.Close())
	_, _, err = s.LeaseTokenUses(ctx, "t", 1, time.Now())
	require.Error(t, err)
}
