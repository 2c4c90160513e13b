// Package storagetest is the contract every storage backend must satisfy.
// A backend's test calls Run with a factory returning fresh, empty stores:
//
//	func TestContract(t *testing.T) {
//		storagetest.Run(t, func(t *testing.T) storage.Backend { ... })
//	}
package storagetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/runtime/storage"
)

// Factory returns a new, empty backend. Cleanup is the factory's job
// (t.Cleanup).
type Factory func(t *testing.T) storage.Backend

// Run runs the whole contract against backends made by newBackend.
func Run(t *testing.T, newBackend Factory) {
	t.Run("Users", func(t *testing.T) { testUsers(t, newBackend(t)) })
	t.Run("TokenUses", func(t *testing.T) { testTokenUses(t, newBackend(t)) })
	t.Run("TokenUsesConcurrent", func(t *testing.T) { testTokenConcurrent(t, newBackend(t)) })
	t.Run("Packages", func(t *testing.T) { testPackages(t, newBackend(t)) })
	t.Run("PackageCreateRace", func(t *testing.T) { testPackageRace(t, newBackend(t)) })
	t.Run("Blobs", func(t *testing.T) { testBlobs(t, newBackend(t)) })
	t.Run("Records", func(t *testing.T) { testRecords(t, newBackend(t)) })
}

func testUsers(t *testing.T, b storage.Backend) {
	ctx := context.Background()
	u := storage.User{Name: "alice", PasswordHash: "h", Permissions: []string{storage.PermUpload}, CreatedAt: time.Now().UTC()}
	require.NoError(t, b.Meta.CreateUser(ctx, u))
	require.ErrorIs(t, b.Meta.CreateUser(ctx, u), storage.ErrExists)
	got, err := b.Meta.GetUser(ctx, "alice")
	require.NoError(t, err)
	assert.Equal(t, u.Permissions, got.Permissions)
	assert.Equal(t, "h", got.PasswordHash)
	u.PasswordHash = "h2"
	require.NoError(t, b.Meta.PutUser(ctx, u))
	got, err = b.Meta.GetUser(ctx, "alice")
	require.NoError(t, err)
	assert.Equal(t, "h2", got.PasswordHash)
	users, err := b.Meta.ListUsers(ctx)
	require.NoError(t, err)
	assert.Len(t, users, 1)
	require.NoError(t, b.Meta.DeleteUser(ctx, "alice"))
	require.ErrorIs(t, b.Meta.DeleteUser(ctx, "alice"), storage.ErrNotFound)
	_, err = b.Meta.GetUser(ctx, "alice")
	require.ErrorIs(t, err, storage.ErrNotFound)
}

func testTokenUses(t *testing.T, b storage.Backend) {
	ctx := context.Background()
	now := time.Now().UTC()
	tok := storage.Token{ID: "t1", User: "alice", IssuedAt: now, ExpiresAt: now.Add(time.Hour), MaxUses: 3}
	require.NoError(t, b.Meta.CreateToken(ctx, tok))
	require.ErrorIs(t, b.Meta.CreateToken(ctx, tok), storage.ErrExists)
	for i := 1; i <= 3; i++ {
		got, err := b.Meta.UseToken(ctx, "t1", now)
		require.NoError(t, err)
		assert.Equal(t, i, got.Uses)
	}
	_, err := b.Meta.UseToken(ctx, "t1", now)
	require.ErrorIs(t, err, storage.ErrTokenExhausted)
	got, err := b.Meta.GetToken(ctx, "t1")
	require.NoError(t, err)
	assert.Equal(t, 3, got.Uses, "a refused use must not be counted")

	_, err = b.Meta.UseToken(ctx, "missing", now)
	require.ErrorIs(t, err, storage.ErrNotFound)

	exp := storage.Token{ID: "t2", User: "alice", IssuedAt: now, ExpiresAt: now.Add(time.Minute), MaxUses: 3}
	require.NoError(t, b.Meta.CreateToken(ctx, exp))
	_, err = b.Meta.UseToken(ctx, "t2", now.Add(time.Minute))
	require.ErrorIs(t, err, storage.ErrTokenExpired)
}

func testTokenConcurrent(t *testing.T, b storage.Backend) {
	ctx := context.Background()
	now := time.Now().UTC()
	const limit, workers = 20, 64
	require.NoError(t, b.Meta.CreateToken(ctx, storage.Token{ID: "c", User: "u", IssuedAt: now, ExpiresAt: now.Add(time.Hour), MaxUses: limit}))
	var ok, exhausted atomic.Int32
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := b.Meta.UseToken(ctx, "c", now)
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, storage.ErrTokenExhausted):
				exhausted.Add(1)
			default:
				t.Errorf("unexpected error: %v", err)
			}
		}()
	}
	wg.Wait()
	assert.EqualValues(t, limit, ok.Load())
	assert.EqualValues(t, workers-limit, exhausted.Load())
}

func pkg(name, version string) storage.Package {
	return storage.Package{Name: name, Version: version, SHA256: "ab", Size: 2, UploadedAt: time.Now().UTC().Truncate(time.Millisecond), Uploader: "alice", BlobKey: "blob-" + name + "-" + version}
}

func testPackages(t *testing.T, b storage.Backend) {
	ctx := context.Background()
	p := pkg("lib", "1.0.0")
	require.NoError(t, b.Meta.CreatePackage(ctx, p))
	dup := p
	dup.SHA256 = "other"
	require.ErrorIs(t, b.Meta.CreatePackage(ctx, dup), storage.ErrExists)
	got, err := b.Meta.GetPackage(ctx, "lib", "1.0.0")
	require.NoError(t, err)
	assert.Equal(t, "ab", got.SHA256, "a refused create must leave the original untouched")
	assert.Equal(t, p.BlobKey, got.BlobKey)
	assert.True(t, p.UploadedAt.Equal(got.UploadedAt))

	for _, v := range []string{"1.1.0", "2.0.0"} {
		require.NoError(t, b.Meta.CreatePackage(ctx, pkg("lib", v)))
	}
	require.NoError(t, b.Meta.CreatePackage(ctx, pkg("lib-extra", "1.0.0")))
	require.NoError(t, b.Meta.CreatePackage(ctx, pkg("zeta", "1.0.0")))

	all, total, err := b.Meta.ListPackages(ctx, storage.ListOptions{Limit: 100})
	require.NoError(t, err)
	assert.Equal(t, 5, total)
	assert.Len(t, all, 5)

	page, total, err := b.Meta.ListPackages(ctx, storage.ListOptions{Name: "lib", Offset: 1, Limit: 1})
	require.NoError(t, err)
	assert.Equal(t, 3, total, "name filter is exact, lib-extra is not a version of lib")
	require.Len(t, page, 1)
	assert.Equal(t, "1.1.0", page[0].Version)

	page, _, err = b.Meta.ListPackages(ctx, storage.ListOptions{Offset: 10, Limit: 5})
	require.NoError(t, err)
	assert.Empty(t, page)

	del, err := b.Meta.DeletePackage(ctx, "lib", "1.0.0")
	require.NoError(t, err)
	assert.Equal(t, p.BlobKey, del.BlobKey)
	_, err = b.Meta.DeletePackage(ctx, "lib", "1.0.0")
	require.ErrorIs(t, err, storage.ErrNotFound)
	_, err = b.Meta.GetPackage(ctx, "lib", "1.0.0")
	require.ErrorIs(t, err, storage.ErrNotFound)
}

func testPackageRace(t *testing.T, b storage.Backend) {
	ctx := context.Background()
	var ok, exists atomic.Int32
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := pkg("race", "1.0.0")
			p.BlobKey = fmt.Sprintf("blob-%d", i)
			err := b.Meta.CreatePackage(ctx, p)
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, storage.ErrExists):
				exists.Add(1)
			default:
				t.Errorf("unexpected error: %v", err)
			}
		}()
	}
	wg.Wait()
	assert.EqualValues(t, 1, ok.Load())
	assert.EqualValues(t, 15, exists.Load())
}

func testBlobs(t *testing.T, b storage.Backend) {
	ctx := context.Background()
	w, err := b.Blobs.Create(ctx, "k1")
	require.NoError(t, err)
	_, err = w.Write([]byte("hello "))
	require.NoError(t, err)
	_, err = b.Blobs.Open(ctx, "k1")
	require.ErrorIs(t, err, storage.ErrNotFound, "an uncommitted blob must not be visible")
	_, err = w.Write([]byte("world"))
	require.NoError(t, err)
	require.NoError(t, w.Commit(ctx))
	r, err := b.Blobs.Open(ctx, "k1")
	require.NoError(t, err)
	data, err := io.ReadAll(r)
	require.NoError(t, err)
	require.NoError(t, r.Close())
	assert.Equal(t, "hello world", string(data))

	w, err = b.Blobs.Create(ctx, "k2")
	require.NoError(t, err)
	_, err = w.Write(bytes.Repeat([]byte("x"), 1<<16))
	require.NoError(t, err)
	require.NoError(t, w.Abort())
	_, err = b.Blobs.Open(ctx, "k2")
	require.ErrorIs(t, err, storage.ErrNotFound)

	require.NoError(t, b.Blobs.Delete(ctx, "k1"))
	require.NoError(t, b.Blobs.Delete(ctx, "k1"))
	_, err = b.Blobs.Open(ctx, "k1")
	require.ErrorIs(t, err, storage.ErrNotFound)
	require.NoError(t, b.Blobs.Ping(ctx))
	require.NoError(t, b.Meta.Ping(ctx))
}

func testRecords(t *testing.T, b storage.Backend) {
	ctx := context.Background()
	now := time.Now().UTC()
	require.NoError(t, b.Meta.RecordDownload(ctx, storage.TransferRecord{ID: "d1", User: "alice", Name: "lib", Version: "1", Outcome: storage.OutcomeOK, At: now}))
	require.NoError(t, b.Meta.RecordDownload(ctx, storage.TransferRecord{ID: "d2", Name: "lib", Version: "1", Outcome: storage.OutcomeDenied, At: now.Add(time.Millisecond)}))
	require.NoError(t, b.Meta.RecordUpload(ctx, storage.TransferRecord{ID: "u1", User: "alice", Name: "lib", Version: "1", Outcome: storage.OutcomeOK, SHA256: "ab", Size: 2, At: now}))
	d, err := b.Meta.ListDownloads(ctx)
	require.NoError(t, err)
	require.Len(t, d, 2)
	assert.Equal(t, "d1", d[0].ID)
	assert.Equal(t, storage.OutcomeDenied, d[1].Outcome)
	u, err := b.Meta.ListUploads(ctx)
	require.NoError(t, err)
	require.Len(t, u, 1)
	assert.Equal(t, int64(2), u[0].Size)
}
