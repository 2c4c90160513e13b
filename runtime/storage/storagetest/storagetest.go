// Package storagetest is the contract every storage backend must satisfy.
// A backend's test calls Run with a factory returning fresh, empty stores
// and a way to list the blobs they hold:
//
//	func TestContract(t *testing.T) {
//		storagetest.Run(t, func(t *testing.T) storagetest.Subject { ... })
//	}
package storagetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
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

// Subject is a backend under test.
type Subject struct {
	storage.Backend
	// Committed lists the blobs the backend holds where a reader could find
	// them (file names, object versions: any form; only the count matters).
	// Staged bytes of an uncommitted writer are not listed.
	Committed func(t *testing.T) []string
	// WriteLegacyUser stores a user the way the backend stored accounts before they
	// had an identity (no ID), bypassing the MetadataStore.
	WriteLegacyUser func(t *testing.T, u storage.User)
}

// Factory returns a new, empty backend. Cleanup is the factory's job
// (t.Cleanup).
type Factory func(t *testing.T) Subject

// Run runs the whole contract against backends made by newBackend.
func Run(t *testing.T, newBackend Factory) {
	for _, c := range []struct {
		name string
		test func(*testing.T, Subject)
	}{
		{"Users", testUsers},
		{"UserIdentity", testUserIdentity},
		{"LegacyUserGetsOneIdentity", testLegacyUser},
		{"TokenLeases", testTokenLeases},
		{"TokenLeasesConcurrent", testTokenConcurrent},
		{"TokenLeasesAndReturnsConcurrent", testTokenLeasesAndReturns},
		{"Packages", testPackages},
		{"PackageCreateRace", testPackageRace},
		{"Blobs", testBlobs},
		{"CommitDescribesTheBlob", testCommitDescribesTheBlob},
		{"CommitRefusesAnotherSize", testCommitRefusesAnotherSize},
		{"Records", testRecords},
		{"ValidatorRunRecorded", testValidatorRecord},
		{"Validators", testValidators},
	} {
		t.Run(c.name, func(t *testing.T) { c.test(t, newBackend(t)) })
	}
}

func testUsers(t *testing.T, b Subject) {
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

// Every account has an identity of its own: kept while the account lives, never
// reused by a later account of the same name, and conditional updates only land on the
// account they were meant for.
func testUserIdentity(t *testing.T, b Subject) {
	ctx := context.Background()
	require.NoError(t, b.Meta.CreateUser(ctx, storage.User{Name: "alice", PasswordHash: "h", Permissions: []string{storage.PermSearch}}))
	first, err := b.Meta.GetUser(ctx, "alice")
	require.NoError(t, err)
	require.NotEmpty(t, first.ID, "a new account gets an identity")

	changed := first
	changed.Permissions = []string{storage.PermAdmin}
	require.NoError(t, b.Meta.UpdateUser(ctx, changed, first.ID))
	got, err := b.Meta.GetUser(ctx, "alice")
	require.NoError(t, err)
	assert.Equal(t, first.ID, got.ID, "an update keeps the identity")
	assert.Equal(t, []string{storage.PermAdmin}, got.Permissions)

	require.NoError(t, b.Meta.DeleteUser(ctx, "alice"))
	require.NoError(t, b.Meta.CreateUser(ctx, storage.User{Name: "alice", PasswordHash: "h", Permissions: []string{storage.PermSearch}}))
	second, err := b.Meta.GetUser(ctx, "alice")
	require.NoError(t, err)
	assert.NotEqual(t, first.ID, second.ID, "a re-created account is another account")
	require.ErrorIs(t, b.Meta.UpdateUser(ctx, changed, first.ID), storage.ErrNotFound, "an update meant for the deleted account")
	got, err = b.Meta.GetUser(ctx, "alice")
	require.NoError(t, err)
	assert.Equal(t, second, got, "the refused update changed nothing")
	require.ErrorIs(t, b.Meta.UpdateUser(ctx, storage.User{Name: "bob", ID: "x"}, "x"), storage.ErrNotFound)

	require.NoError(t, b.Meta.PutUser(ctx, storage.User{Name: "carol", ID: "given-id"}))
	got, err = b.Meta.GetUser(ctx, "carol")
	require.NoError(t, err)
	assert.Equal(t, "given-id", got.ID, "PutUser stores the identity it is given")
	require.NoError(t, b.Meta.PutUser(ctx, storage.User{Name: "carol"}))
	got, err = b.Meta.GetUser(ctx, "carol")
	require.NoError(t, err)
	assert.NotContains(t, []string{"", "given-id"}, got.ID, "PutUser without an identity makes a new account")

	now := time.Now().UTC()
	require.NoError(t, b.Meta.CreateToken(ctx, storage.Token{ID: "ti", User: "alice", AccountID: second.ID, IssuedAt: now, ExpiresAt: now.Add(time.Hour), MaxUses: 2}))
	tok, _, err := b.Meta.LeaseTokenUses(ctx, "ti", 1, now)
	require.NoError(t, err)
	assert.Equal(t, second.ID, tok.AccountID, "a token records its account")
	tok, err = b.Meta.GetToken(ctx, "ti")
	require.NoError(t, err)
	assert.Equal(t, second.ID, tok.AccountID)
}

// An account stored without an identity reads back without one; racing attempts to
// give it one settle on exactly one identity.
func testLegacyUser(t *testing.T, b Subject) {
	ctx := context.Background()
	require.NotNil(t, b.WriteLegacyUser, "the backend must say how it stored accounts before identities")
	b.WriteLegacyUser(t, storage.User{Name: "old", PasswordHash: "h", Permissions: []string{storage.PermDownload}, CreatedAt: time.Now().UTC()})
	u, err := b.Meta.GetUser(ctx, "old")
	require.NoError(t, err)
	require.Empty(t, u.ID)
	assert.Equal(t, []string{storage.PermDownload}, u.Permissions)

	ids := make([]string, 16)
	for i := range ids {
		ids[i] = storage.NewAccountID()
	}
	ok, lost := concurrently(t, len(ids), storage.ErrNotFound, func(i int) error {
		v := u
		v.ID = ids[i]
		return b.Meta.UpdateUser(ctx, v, "")
	})
	assert.EqualValues(t, 1, ok)
	assert.EqualValues(t, len(ids)-1, lost)
	got, err := b.Meta.GetUser(ctx, "old")
	require.NoError(t, err)
	assert.Contains(t, ids, got.ID)
	assert.Equal(t, u.Permissions, got.Permissions)
}

func testTokenLeases(t *testing.T, b Subject) {
	ctx := context.Background()
	now := time.Now().UTC()
	tok := storage.Token{ID: "t1", User: "alice", IssuedAt: now, ExpiresAt: now.Add(time.Hour), MaxUses: 10}
	require.NoError(t, b.Meta.CreateToken(ctx, tok))
	require.ErrorIs(t, b.Meta.CreateToken(ctx, tok), storage.ErrExists)
	lease := func(want, granted, uses int) {
		t.Helper()
		got, n, err := b.Meta.LeaseTokenUses(ctx, "t1", want, now)
		require.NoError(t, err, "lease of %d", want)
		assert.Equal(t, granted, n, "granted of %d", want)
		assert.Equal(t, uses, got.Uses, "counted after a lease of %d", want)
		assert.Equal(t, 10, got.MaxUses)
	}
	lease(1, 1, 1)
	lease(4, 4, 5)
	lease(0, 1, 6) // at least one
	lease(10, 4, 10)
	_, _, err := b.Meta.LeaseTokenUses(ctx, "t1", 1, now)
	require.ErrorIs(t, err, storage.ErrTokenExhausted)
	got, err := b.Meta.GetToken(ctx, "t1")
	require.NoError(t, err)
	assert.Equal(t, 10, got.Uses, "a refused lease must not be counted")

	require.NoError(t, b.Meta.ReturnTokenUses(ctx, "t1", 3))
	lease(5, 3, 10)
	require.Error(t, b.Meta.ReturnTokenUses(ctx, "t1", 11), "more than were counted")
	require.Error(t, b.Meta.ReturnTokenUses(ctx, "t1", 0))
	got, err = b.Meta.GetToken(ctx, "t1")
	require.NoError(t, err)
	assert.Equal(t, 10, got.Uses, "a refused return changes nothing")

	_, _, err = b.Meta.LeaseTokenUses(ctx, "missing", 1, now)
	require.ErrorIs(t, err, storage.ErrNotFound)
	require.Error(t, b.Meta.ReturnTokenUses(ctx, "missing", 1))

	exp := storage.Token{ID: "t2", User: "alice", IssuedAt: now, ExpiresAt: now.Add(time.Minute), MaxUses: 3}
	require.NoError(t, b.Meta.CreateToken(ctx, exp))
	lease2, n, err := b.Meta.LeaseTokenUses(ctx, "t2", 2, now.Add(time.Minute-time.Millisecond))
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	assert.Equal(t, exp.ExpiresAt.UnixMilli(), lease2.ExpiresAt.UnixMilli(), "the record's expiry comes with the lease")
	_, _, err = b.Meta.LeaseTokenUses(ctx, "t2", 1, now.Add(time.Minute))
	require.ErrorIs(t, err, storage.ErrTokenExpired)
	got, err = b.Meta.GetToken(ctx, "t2")
	require.NoError(t, err)
	assert.Equal(t, 2, got.Uses, "an expired token's lease is not counted")
}

// 64 leases of one use at once on a token with 20: exactly 20 succeed; then
// leases of several uses racing for the rest of another token share it exactly.
func testTokenConcurrent(t *testing.T, b Subject) {
	ctx := context.Background()
	now := time.Now().UTC()
	const limit, workers = 20, 64
	require.NoError(t, b.Meta.CreateToken(ctx, storage.Token{ID: "c", User: "u", IssuedAt: now, ExpiresAt: now.Add(time.Hour), MaxUses: limit}))
	ok, exhausted := concurrently(t, workers, storage.ErrTokenExhausted, func(int) error {
		_, _, err := b.Meta.LeaseTokenUses(ctx, "c", 1, now)
		return err
	})
	assert.EqualValues(t, limit, ok)
	assert.EqualValues(t, workers-limit, exhausted)

	require.NoError(t, b.Meta.CreateToken(ctx, storage.Token{ID: "k", User: "u", IssuedAt: now, ExpiresAt: now.Add(time.Hour), MaxUses: limit}))
	var granted atomic.Int32
	ok, _ = concurrently(t, workers, storage.ErrTokenExhausted, func(i int) error {
		want := 1 + i%4
		_, n, err := b.Meta.LeaseTokenUses(ctx, "k", want, now)
		if err == nil && (n < 1 || n > want) {
			t.Errorf("lease of %d granted %d", want, n)
		}
		granted.Add(int32(n))
		return err
	})
	assert.EqualValues(t, limit, granted.Load(), "the leases granted add up to the limit exactly")
	assert.GreaterOrEqual(t, int(ok), limit/4)
	got, err := b.Meta.GetToken(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, limit, got.Uses)
}

// Workers lease blocks and give part of each back, all at once, until the token is
// exhausted: what they kept adds up to the limit exactly.
func testTokenLeasesAndReturns(t *testing.T, b Subject) {
	ctx := context.Background()
	now := time.Now().UTC()
	const limit, workers = 60, 16
	require.NoError(t, b.Meta.CreateToken(ctx, storage.Token{ID: "r", User: "u", IssuedAt: now, ExpiresAt: now.Add(time.Hour), MaxUses: limit}))
	var kept atomic.Int32
	concurrently(t, workers, storage.ErrTokenExhausted, func(i int) error {
		for {
			_, n, err := b.Meta.LeaseTokenUses(ctx, "r", 1+i%5, now)
			if err != nil {
				return err
			}
			if back := n / 2; back > 0 {
				if err := b.Meta.ReturnTokenUses(ctx, "r", back); err != nil {
					return err
				}
				n -= back
			}
			kept.Add(int32(n))
		}
	})
	assert.EqualValues(t, limit, kept.Load())
	got, err := b.Meta.GetToken(ctx, "r")
	require.NoError(t, err)
	assert.Equal(t, limit, got.Uses)
}

// concurrently makes n calls of fn at once and counts those that succeed
// and those that fail with refused; any other error fails t.
func concurrently(t *testing.T, n int, refused error, fn func(i int) error) (ok, refusals int32) {
	var okN, refusedN atomic.Int32
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			switch err := fn(i); {
			case err == nil:
				okN.Add(1)
			case errors.Is(err, refused):
				refusedN.Add(1)
			default:
				t.Errorf("unexpected error: %v", err)
			}
		}()
	}
	wg.Wait()
	return okN.Load(), refusedN.Load()
}

func pkg(name, version string) storage.Package {
	return storage.Package{Name: name, Version: version, SHA256: "ab", Size: 2, UploadedAt: time.Now().UTC().Truncate(time.Millisecond), Uploader: "alice", BlobKey: "blob-" + name + "-" + version}
}

func testPackages(t *testing.T, b Subject) {
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

func testPackageRace(t *testing.T, b Subject) {
	ctx := context.Background()
	ok, exists := concurrently(t, 16, storage.ErrExists, func(i int) error {
		p := pkg("race", "1.0.0")
		p.BlobKey = fmt.Sprintf("blob-%d", i)
		return b.Meta.CreatePackage(ctx, p)
	})
	assert.EqualValues(t, 1, ok)
	assert.EqualValues(t, 15, exists)
}

// write creates a blob of name/version holding the chunks, without
// committing it.
func write(t *testing.T, b Subject, name, version string, chunks ...string) storage.BlobWriter {
	t.Helper()
	w, err := b.Blobs.Create(context.Background(), name, version)
	require.NoError(t, err)
	for _, c := range chunks {
		_, err = w.Write([]byte(c))
		require.NoError(t, err)
	}
	return w
}

func descriptorOf(content string) storage.Descriptor {
	sum := sha256.Sum256([]byte(content))
	return storage.Descriptor{Size: int64(len(content)), SHA256: hex.EncodeToString(sum[:])}
}

func read(t *testing.T, b Subject, ref string) string {
	t.Helper()
	r, err := b.Blobs.Open(context.Background(), ref)
	require.NoError(t, err)
	data, err := io.ReadAll(r)
	require.NoError(t, err)
	require.NoError(t, r.Close())
	return string(data)
}

func testBlobs(t *testing.T, b Subject) {
	ctx := context.Background()
	w := write(t, b, "lib", "1.0.0", "hello ")
	assert.Empty(t, b.Committed(t), "an uncommitted blob must not be visible")
	_, err := w.Write([]byte("world"))
	require.NoError(t, err)
	blob, err := w.Commit(ctx, descriptorOf("hello world"))
	require.NoError(t, err)
	assert.Len(t, b.Committed(t), 1)
	assert.Equal(t, "hello world", read(t, b, blob.Ref))

	w = write(t, b, "lib", "2.0.0", string(bytes.Repeat([]byte("x"), 1<<16)))
	require.NoError(t, w.Abort())
	assert.Len(t, b.Committed(t), 1, "an aborted blob leaves nothing behind")

	require.NoError(t, b.Blobs.Delete(ctx, blob.Ref))
	require.NoError(t, b.Blobs.Delete(ctx, blob.Ref))
	_, err = b.Blobs.Open(ctx, blob.Ref)
	require.ErrorIs(t, err, storage.ErrNotFound)
	assert.Empty(t, b.Committed(t))
	require.NoError(t, b.Blobs.Ping(ctx))
	require.NoError(t, b.Meta.Ping(ctx))
}

// Commit returns what it stored: the size it counted, the declared
// SHA-256, a Ref that opens exactly these bytes, and the store's own
// checksum as the store reports it. Two commits of one version are two
// blobs.
func testCommitDescribesTheBlob(t *testing.T, b Subject) {
	ctx := context.Background()
	first, err := write(t, b, "lib", "1.0.0", "first ", "bytes").Commit(ctx, descriptorOf("first bytes"))
	require.NoError(t, err)
	want := descriptorOf("first bytes")
	assert.Equal(t, want.Size, first.Size)
	assert.Equal(t, want.SHA256, first.SHA256)
	assert.NotEmpty(t, first.Ref)

	second, err := write(t, b, "lib", "1.0.0", "second").Commit(ctx, descriptorOf("second"))
	require.NoError(t, err)
	assert.NotEqual(t, first.Ref, second.Ref)
	assert.Equal(t, "first bytes", read(t, b, first.Ref), "a later blob of the same version leaves the first one as it was")
	assert.Equal(t, "second", read(t, b, second.Ref))

	empty, err := write(t, b, "lib", "0").Commit(ctx, descriptorOf(""))
	require.NoError(t, err)
	assert.Zero(t, empty.Size)
	assert.Equal(t, "", read(t, b, empty.Ref))

	if b.Presign == nil {
		assert.Empty(t, first.Checksum, "a store without its own checksum reports none")
		return
	}
	st, err := b.Presign.StatBlob(ctx, first.Ref)
	require.NoError(t, err)
	assert.Equal(t, storage.BlobStat{Ref: first.Ref, Size: first.Size, Checksum: first.Checksum}, st)
	single, err := b.Presign.ChecksumOf(first.SHA256)
	require.NoError(t, err)
	assert.Equal(t, single, first.Checksum, "a blob written in one piece carries the checksum of its SHA-256")
}

// A Commit whose size is not the number of bytes written is refused and
// nothing becomes visible; Abort afterwards is harmless.
func testCommitRefusesAnotherSize(t *testing.T, b Subject) {
	ctx := context.Background()
	for _, size := range []int64{11, 13, 0} {
		w := write(t, b, "lib", "1.0.0", "twelve ", "bytes")
		want := descriptorOf("twelve bytes")
		want.Size = size
		_, err := w.Commit(ctx, want)
		require.ErrorIs(t, err, storage.ErrSizeMismatch, "size %d", size)
		require.NoError(t, w.Abort())
		assert.Empty(t, b.Committed(t), "size %d: nothing is visible", size)
	}
}

func testRecords(t *testing.T, b Subject) {
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

// testValidatorRecord: a download record keeps the validator's outcome, run time and
// SHA-256.
func testValidatorRecord(t *testing.T, b Subject) {
	ctx := context.Background()
	sum := hex.EncodeToString(make([]byte, 32))
	require.NoError(t, b.Meta.RecordDownload(ctx, storage.TransferRecord{ID: "v1", User: "bob", Name: "lib", Version: "1",
		Outcome: storage.OutcomeValidatorFailed, At: time.Now().UTC(), ValidatorOutcome: "timeout", ValidatorMillis: 5001, ValidatorSHA256: sum}))
	d, err := b.Meta.ListDownloads(ctx)
	require.NoError(t, err)
	require.Len(t, d, 1)
	assert.Equal(t, storage.OutcomeValidatorFailed, d[0].Outcome)
	assert.Equal(t, "timeout", d[0].ValidatorOutcome)
	assert.Equal(t, int64(5001), d[0].ValidatorMillis)
	assert.Equal(t, sum, d[0].ValidatorSHA256)
}

func validatorOf(name, version, src, by string) storage.Validator {
	sum := sha256.Sum256([]byte(src))
	return storage.Validator{Name: name, Version: version, SHA256: hex.EncodeToString(sum[:]), Size: int64(len(src)),
		UpdatedAt: time.Now().UTC().Truncate(time.Millisecond), UpdatedBy: by, Source: []byte(src)}
}

// testValidators: one validator per existing version, replaced whole, removed with
// the validator or the version.
func testValidators(t *testing.T, b Subject) {
	if b.Validators == nil {
		t.Skip("the backend stores no validators")
	}
	ctx := context.Background()
	_, err := b.Validators.GetValidator(ctx, "lib", "1")
	assert.ErrorIs(t, err, storage.ErrNotFound, "no package, no validator")
	assert.ErrorIs(t, b.Validators.PutValidator(ctx, validatorOf("lib", "1", "function validate() {}", "alice")), storage.ErrNotFound,
		"a validator needs its package version")

	require.NoError(t, b.Meta.CreatePackage(ctx, pkg("lib", "1")))
	require.NoError(t, b.Meta.CreatePackage(ctx, pkg("lib", "2")))
	_, err = b.Validators.GetValidator(ctx, "lib", "1")
	assert.ErrorIs(t, err, storage.ErrNotFound)
	_, err = b.Validators.DeleteValidator(ctx, "lib", "1")
	assert.ErrorIs(t, err, storage.ErrNotFound)

	first := validatorOf("lib", "1", "function validate() { return {allow: true} }", "alice")
	require.NoError(t, b.Validators.PutValidator(ctx, first))
	got, err := b.Validators.GetValidator(ctx, "lib", "1")
	require.NoError(t, err)
	assert.Equal(t, first.Source, got.Source)
	assert.Equal(t, first.SHA256, got.SHA256)
	assert.Equal(t, first.Size, got.Size)
	assert.Equal(t, "alice", got.UpdatedBy)
	assert.True(t, first.UpdatedAt.Equal(got.UpdatedAt), "updated at %s, got %s", first.UpdatedAt, got.UpdatedAt)
	_, err = b.Validators.GetValidator(ctx, "lib", "2")
	assert.ErrorIs(t, err, storage.ErrNotFound, "validators are per version")

	second := validatorOf("lib", "1", "function validate() { return {allow: false, reason: \"no\"} }", "admin")
	require.NoError(t, b.Validators.PutValidator(ctx, second))
	got, err = b.Validators.GetValidator(ctx, "lib", "1")
	require.NoError(t, err)
	assert.Equal(t, second.Source, got.Source, "a put replaces the validator")
	assert.Equal(t, second.SHA256, got.SHA256)
	p, err := b.Meta.GetPackage(ctx, "lib", "1")
	require.NoError(t, err)
	assert.Equal(t, "ab", p.SHA256, "the package record is untouched")

	removed, err := b.Validators.DeleteValidator(ctx, "lib", "1")
	require.NoError(t, err)
	assert.Equal(t, second.SHA256, removed.SHA256)
	_, err = b.Validators.GetValidator(ctx, "lib", "1")
	assert.ErrorIs(t, err, storage.ErrNotFound)

	require.NoError(t, b.Validators.PutValidator(ctx, validatorOf("lib", "2", "var validate = 1", "alice")))
	_, err = b.Meta.DeletePackage(ctx, "lib", "2")
	require.NoError(t, err)
	require.NoError(t, b.Meta.CreatePackage(ctx, pkg("lib", "2")))
	_, err = b.Validators.GetValidator(ctx, "lib", "2")
	assert.ErrorIs(t, err, storage.ErrNotFound, "a version uploaded again does not inherit the old version's validator")
}
