// Package storage defines the persistence interfaces of the registry runtime:
// a BlobStore for artifact bytes and a MetadataStore for users, tokens,
// packages and the upload/download audit records.
//
// Backends: runtime/storage/embedded (local filesystem + bbolt, the default)
// and runtime/storage/awsstore (S3 + DynamoDB tables users, tokens, packages,
// uploads, downloads). Every backend must pass the contract suite in
// runtime/storage/storagetest.
package storage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"time"
)

// Sentinel errors. Backends wrap them so callers can use errors.Is.
var (
	// ErrNotFound: the user, token, package or blob does not exist.
	ErrNotFound = errors.New("not found")
	// ErrExists: a conditional create found the key already present.
	ErrExists = errors.New("already exists")
	// ErrTokenExhausted: the token has reached its use limit.
	ErrTokenExhausted = errors.New("token use limit reached")
	// ErrTokenExpired: the token's expiry time has passed.
	ErrTokenExpired = errors.New("token expired")
	// ErrSizeMismatch: a BlobWriter was asked to commit another size than it
	// was given; nothing was committed.
	ErrSizeMismatch = errors.New("blob size differs from the bytes written")
)

// Permission names stored with a user.
const (
	PermUpload   = "upload"
	PermDownload = "download"
	PermSearch   = "search"
	PermAdmin    = "admin"
)

// AllPermissions lists every valid permission.
var AllPermissions = []string{PermUpload, PermDownload, PermSearch, PermAdmin}

// User is a registry account (DynamoDB table "users", key "name").
type User struct {
	Name string `json:"name"`
	// ID is the account's immutable identity, given when the account is created
	// (NewAccountID). Tokens name it, so the tokens of a deleted account never work
	// for a later account of the same name. Empty only for an account stored before
	// accounts had identities; its next login gives it one.
	ID           string    `json:"id,omitempty"`
	PasswordHash string    `json:"password_hash"` // PHC-encoded argon2id hash, never the password
	Permissions  []string  `json:"permissions"`
	CreatedAt    time.Time `json:"created_at"`
}

// NewAccountID returns a fresh random account identity.
func NewAccountID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails (crypto/rand panics rather than return short)
	return hex.EncodeToString(b)
}

// Has reports whether u holds perm. The admin permission implies all others.
func (u User) Has(perm string) bool {
	for _, p := range u.Permissions {
		if p == perm || p == PermAdmin {
			return true
		}
	}
	return false
}

// Token is the server-side record of an issued JWT (DynamoDB table "tokens",
// key "token_id", TTL attribute "exp_ts" = ExpiresAt in Unix seconds).
type Token struct {
	ID   string `json:"token_id"`
	User string `json:"user"`
	// AccountID is the ID of the account the token was issued to; a token whose
	// account ID is not the current user's ID is refused.
	AccountID string    `json:"account_id,omitempty"`
	IssuedAt  time.Time `json:"issued_at"`
	ExpiresAt time.Time `json:"exp_ts"`
	// Uses counts the uses served or leased to a registry process and not given
	// back (MetadataStore.LeaseTokenUses); it never exceeds MaxUses.
	Uses    int `json:"uses"`
	MaxUses int `json:"max_uses"`
	// LeasedElsewhereAt is, as read, the latest time another holder of leases (a
	// registry process on the same tables) leased uses of the token and has not
	// given them back since: they may be unserved yet. Zero when no other holder
	// has, and always for a backend one process owns. It is derived by the backend,
	// not written by the caller.
	LeasedElsewhereAt time.Time `json:"-"`
}

// Package is the metadata of one stored artifact version (DynamoDB table
// "packages", key "pkg_key" = contract.PackageKey(Name, Version)).
type Package struct {
	Name       string    `json:"name"`
	Version    string    `json:"version"`
	SHA256     string    `json:"sha256_hash"` // lowercase hex
	Size       int64     `json:"size"`
	UploadedAt time.Time `json:"uploaded_at"`
	Uploader   string    `json:"uploader"`
	BlobKey    string    `json:"-"` // where the bytes live in the BlobStore
	// BlobChecksum is the blob store's own checksum of the bytes as it
	// reported it at upload (awsstore: S3's x-amz-checksum-sha256, which is
	// "<base64>-<parts>" - a checksum of the part checksums - for multipart
	// uploads). Empty for backends without one. Presigned-download
	// verification compares the store's current value with this one.
	BlobChecksum string `json:"blob_checksum,omitempty"`
}

// Outcomes recorded in upload and download records.
const (
	OutcomeOK               = "ok"
	OutcomeDenied           = "denied"
	OutcomeNotFound         = "not_found"
	OutcomeHashMismatch     = "hash_mismatch"
	OutcomeIntegrityFailure = "integrity_failure"
	OutcomeConflict         = "conflict"
	OutcomeTooLarge         = "too_large"
	OutcomeInvalid          = "invalid"
	OutcomeError            = "error"
	// OutcomeThrottled: refused by a rate limit or a busy service (429, 503).
	OutcomeThrottled = "throttled"
	// OutcomeTimeout: the client did not send its body in time (408).
	OutcomeTimeout = "timeout"
	// OutcomePresigned: a presigned upload URL was handed out (the upload
	// itself is recorded when it is committed).
	OutcomePresigned = "presigned"
	// OutcomeValidatorDenied: the version's validator denied the download.
	OutcomeValidatorDenied = "validator_denied"
	// OutcomeValidatorFailed: the version's validator timed out, ran out of memory,
	// threw or returned a malformed result, and the download was refused (fail closed).
	OutcomeValidatorFailed = "validator_failed"
)

// TransferRecord is one audit entry of an upload (table "uploads") or a
// download attempt (table "downloads"), keyed by ID.
type TransferRecord struct {
	ID       string    `json:"id"`
	User     string    `json:"user"` // empty when the caller was not authenticated
	Name     string    `json:"name"`
	Version  string    `json:"version"`
	Outcome  string    `json:"outcome"`
	SHA256   string    `json:"sha256_hash,omitempty"`
	Size     int64     `json:"size,omitempty"`
	At       time.Time `json:"at"`
	ClientIP string    `json:"client_ip,omitempty"`
	Detail   string    `json:"detail,omitempty"`
	// ValidatorOutcome is how the version's validator ended (allowed, denied, timeout,
	// memory, error); empty when no validator ran.
	ValidatorOutcome string `json:"validator_outcome,omitempty"`
	// ValidatorMillis is the validator's run time in milliseconds.
	ValidatorMillis int64 `json:"validator_ms,omitempty"`
	// ValidatorSHA256 is the hex SHA-256 of the validator that ran.
	ValidatorSHA256 string `json:"validator_sha256,omitempty"`
}

// Validator is the validator script attached to a package version (blob
// contract.ValidatorObject(Name, Version)). Source is at most 64 KiB.
type Validator struct {
	Name      string    `json:"name"`
	Version   string    `json:"version"`
	SHA256    string    `json:"sha256_hash"` // lowercase hex of Source
	Size      int64     `json:"size"`
	UpdatedAt time.Time `json:"updated_at"`
	UpdatedBy string    `json:"updated_by"`
	Source    []byte    `json:"source"`
}

// ValidatorStore holds the validators of package versions, at most one each. All
// methods are safe for concurrent use.
type ValidatorStore interface {
	// PutValidator stores v, replacing the version's validator if it has one.
	PutValidator(ctx context.Context, v Validator) error
	// GetValidator returns the version's validator; ErrNotFound when it has none.
	// A stored source that no longer matches its recorded SHA-256 is returned as it
	// is: the caller compares.
	GetValidator(ctx context.Context, name, version string) (Validator, error)
	// DeleteValidator removes the version's validator and returns it; ErrNotFound
	// when it has none.
	DeleteValidator(ctx context.Context, name, version string) (Validator, error)
}

// ListOptions selects a page of packages ordered by pkg_key.
type ListOptions struct {
	Name   string // when set, only versions of this exact package name
	Offset int
	Limit  int // must be > 0
}

// MetadataStore holds users, tokens, packages and audit records. All methods
// are safe for concurrent use.
type MetadataStore interface {
	// CreateUser adds u; ErrExists if the name is taken. An empty u.ID is replaced by
	// a fresh NewAccountID.
	CreateUser(ctx context.Context, u User) error
	// PutUser creates or replaces u; an empty u.ID is replaced by a fresh one, which
	// makes it a new account.
	PutUser(ctx context.Context, u User) error
	// UpdateUser replaces the stored user u.Name only if its ID is still ifID ("" for
	// an account stored without one), so a change never lands on a different account
	// that took the name meanwhile; ErrNotFound otherwise. An empty u.ID is replaced
	// by a fresh one.
	UpdateUser(ctx context.Context, u User, ifID string) error
	GetUser(ctx context.Context, name string) (User, error)
	// DeleteUser removes the user; ErrNotFound if absent.
	DeleteUser(ctx context.Context, name string) error
	ListUsers(ctx context.Context) ([]User, error)

	// CreateToken stores a new token record; ErrExists on a duplicate ID.
	CreateToken(ctx context.Context, t Token) error
	// LeaseTokenUses atomically and durably adds min(want, MaxUses-Uses) uses to
	// the token at time now (a partial last block) and returns the updated record
	// and the number granted, at least 1; the caller may serve that many requests
	// without asking again. It returns ErrNotFound, ErrTokenExpired or
	// ErrTokenExhausted and changes nothing when no use can be granted; with
	// ErrTokenExhausted it also returns the record as read, whose
	// LeasedElsewhereAt tells whether uses are out on lease to another holder.
	// want < 1 counts as 1. Under any concurrency, across processes and restarts,
	// the uses granted for a token (less those given back) never exceed MaxUses.
	LeaseTokenUses(ctx context.Context, id string, want int, now time.Time) (Token, int, error)
	// ReturnTokenUses durably gives back n uses the caller leased and will never
	// serve (it must have dropped them before calling), and withdraws the caller's
	// mark on the token (Token.LeasedElsewhereAt of other holders). An error leaves
	// it unknown whether they were given back, never given back twice: they count
	// as used.
	ReturnTokenUses(ctx context.Context, id string, n int) error
	GetToken(ctx context.Context, id string) (Token, error)

	// CreatePackage records p only if its key, contract.PackageKey(p.Name,
	// p.Version), is absent; ErrExists otherwise (the existing record is
	// untouched).
	CreatePackage(ctx context.Context, p Package) error
	GetPackage(ctx context.Context, name, version string) (Package, error)
	// ListPackages returns a page ordered by key, and the total match count.
	ListPackages(ctx context.Context, opts ListOptions) ([]Package, int, error)
	// DeletePackage removes the record and returns it; ErrNotFound if absent.
	DeletePackage(ctx context.Context, name, version string) (Package, error)

	RecordUpload(ctx context.Context, r TransferRecord) error
	RecordDownload(ctx context.Context, r TransferRecord) error
	ListUploads(ctx context.Context) ([]TransferRecord, error)
	ListDownloads(ctx context.Context) ([]TransferRecord, error)

	Ping(ctx context.Context) error
}

// Descriptor is what a writer states about the bytes it gave a BlobWriter.
type Descriptor struct {
	Size   int64
	SHA256 string // lowercase hex, computed by the caller in the same pass
}

// Blob describes a committed blob as the store recorded it.
type Blob struct {
	// Ref addresses exactly these bytes for Open and Delete; it is what the
	// package records as its BlobKey (awsstore: the key plus the S3 version
	// written, so an overwrite of the key is never served).
	Ref  string
	Size int64 // as counted by the writer
	// SHA256 is the lowercase hex digest declared to Commit (the AWS store
	// also checks it against S3's checksum of a single-part object).
	SHA256 string
	// Checksum is the store's own checksum of the bytes (awsstore: S3's
	// ChecksumSHA256, "<base64>-<parts>" for a multipart upload), recorded
	// as Package.BlobChecksum; "" for stores without one.
	Checksum string
}

// BlobWriter receives the bytes of one new blob. Nothing is visible until
// Commit returns; Abort (or a crash) leaves nothing behind. Exactly one of
// Commit or Abort must be called.
type BlobWriter interface {
	io.Writer
	// Commit makes the blob durable and visible and describes what was
	// stored. A want.Size other than the number of bytes written is refused
	// with ErrSizeMismatch and nothing becomes visible.
	Commit(ctx context.Context, want Descriptor) (Blob, error)
	// Abort discards everything written. Safe to call after Commit failed.
	Abort() error
}

// BlobStore holds artifact bytes. The store chooses where a blob lives and
// reports it as Blob.Ref on commit.
type BlobStore interface {
	// Create starts a new blob of the package version name/version. Each
	// commit is a new blob: an earlier one is never replaced.
	Create(ctx context.Context, name, version string) (BlobWriter, error)
	// Open streams a committed blob; ErrNotFound if absent.
	Open(ctx context.Context, ref string) (io.ReadCloser, error)
	// Delete removes a blob; deleting an absent blob is not an error.
	Delete(ctx context.Context, ref string) error
	Ping(ctx context.Context) error
}

// BlobStat describes a stored blob as the blob store reports it.
type BlobStat struct {
	Ref      string // key plus version, usable as a BlobKey
	Size     int64
	Checksum string // the store's checksum (awsstore: S3 ChecksumSHA256)
}

// PresignedRequest is a request a client may send directly to the blob
// store until ExpiresAt, with exactly these headers.
type PresignedRequest struct {
	Method    string
	URL       string
	Headers   map[string]string
	ExpiresAt time.Time
}

// PresignedUpload is a presigned PUT and the blob key it writes.
type PresignedUpload struct {
	Key     string
	Request PresignedRequest
}

// PendingUpload is a presigned upload handed out but not yet committed
// (DynamoDB table "uploads", TTL attribute "exp_ts").
type PendingUpload struct {
	ID        string
	Name      string
	Version   string
	User      string
	SHA256    string // lowercase hex the client declared
	Size      int64
	Key       string // blob key the presigned PUT writes
	ExpiresAt time.Time
}

// Presigner lets clients move bytes directly to and from the blob store
// (awsstore: S3 presigned URLs). The API answers the presigned endpoints
// with 501 when the backend has none.
type Presigner interface {
	// PresignDownload returns a GET for the blob ref, valid for ttl.
	PresignDownload(ctx context.Context, ref string, ttl time.Duration) (PresignedRequest, error)
	// PresignUpload returns a PUT of a new blob of name/version, at a key
	// the store chooses, that the store only accepts with a body whose
	// SHA-256 is sha256Hex and of exactly size bytes.
	PresignUpload(ctx context.Context, name, version, sha256Hex string, size int64, ttl time.Duration) (PresignedUpload, error)
	// StatBlob asks the store for the blob's size and stored checksum
	// without reading its bytes; ErrNotFound if absent. ref may be a bare
	// key (its current version) or a Ref.
	StatBlob(ctx context.Context, ref string) (BlobStat, error)
	// ChecksumOf is the checksum StatBlob reports for a blob stored in one
	// piece with this SHA-256 (awsstore: base64 of the digest).
	ChecksumOf(sha256Hex string) (string, error)

	CreatePendingUpload(ctx context.Context, u PendingUpload) error
	// GetPendingUpload returns ErrNotFound for unknown or expired IDs.
	GetPendingUpload(ctx context.Context, id string) (PendingUpload, error)
	DeletePendingUpload(ctx context.Context, id string) error
}

// Backend bundles the stores a registry runs on.
type Backend struct {
	Blobs BlobStore
	Meta  MetadataStore
	// Presign is nil when the backend cannot hand out presigned transfers.
	Presign Presigner
	// Validators holds validator scripts; nil when the backend has none (no
	// validator is ever attached then).
	Validators ValidatorStore
}
