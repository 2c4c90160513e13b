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

	"github.com/acme/module-registry/runtime/storage"
	"github.com/acme/module-registry/runtime/storage/storagetest"
)

func TestContract(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Backend {
		s, err := Open(t.TempDir())
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		return s.Backend()
	})
}

func TestTokenUsesSurviveReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	now := time.Now()
	s, err := Open(dir)
	require.NoError(t, err)
	require.NoError(t, s.CreateToken(ctx, storage.Token{ID: "t", ExpiresAt: now.Add(time.Hour), MaxUses: 2}))
	_, err = s.UseToken(ctx, "t", now)
	require.NoError(t, err)
	require.NoError(t, s.Close())

	s, err = Open(dir)
	require.NoError(t, err)
	defer s.Close()
	_, err = s.UseToken(ctx, "t", now)
	require.NoError(t, err)
	_, err = s.UseToken(ctx, "t", now)
	require.ErrorIs(t, err, storage.ErrTokenExhausted)
}

func TestOpenRemovesTempFilesAndOrphans(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(dir)
	require.NoError(t, err)
	w, err := s.Create(ctx, "staged")
	require.NoError(t, err)
	_, err = w.Write([]byte("partial"))
	require.NoError(t, err)
	// Committed blob without metadata: a crash between rename and CreatePackage.
	w2, err := s.Create(ctx, "orphan")
	require.NoError(t, err)
	require.NoError(t, w2.Commit(ctx))
	w3, err := s.Create(ctx, "kept")
	require.NoError(t, err)
	require.NoError(t, w3.Commit(ctx))
	require.NoError(t, s.CreatePackage(ctx, storage.Package{Name: "a", Version: "1", BlobKey: "kept"}))
	require.NoError(t, s.Close())

	s, err = Open(dir)
	require.NoError(t, err)
	defer s.Close()
	tmp, err := os.ReadDir(s.TempDir())
	require.NoError(t, err)
	assert.Empty(t, tmp)
	assert.NoFileExists(t, filepath.Join(dir, "blobs", "orphan"))
	assert.FileExists(t, filepath.Join(dir, "blobs", "kept"))
}

func TestBlobKeysCannotEscape(t *testing.T) {
	s, err := Open(t.TempDir())
	require.NoError(t, err)
	defer s.Close()
	for _, k := range []string{"../x", "a/b", "", "..", "."} {
		_, err := s.Create(context.Background(), k)
		assert.Error(t, err, k)
		_, err = s.Open(context.Background(), k)
		assert.Error(t, err, k)
	}
}

// Concurrent uses of several tokens share group commits; every use that was
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
				_, err := s.UseToken(ctx, fmt.Sprint("t", i), now)
				switch {
				case err == nil:
					granted[i].Add(1)
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

func TestUseTokenAfterCloseFails(t *testing.T) {
	ctx := context.Background()
	s, err := Open(t.TempDir())
	require.NoError(t, err)
	require.NoError(t, s.CreateToken(ctx, storage.Token{ID: "t", ExpiresAt: time.Now().Add(time.Hour), MaxUses: 5}))
	require.NoError(t, s.Close())
	_, err = s.UseToken(ctx, "t", time.Now())
	require.Error(t, err)
}
