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
	Name         string    `json:"name"`
	PasswordHash string    `json:"password_hash"` // PHC-encoded argon2id hash, never the password
	Permissions  []string  `json:"permissions"`
	CreatedAt    time.Time `json:"created_at"`
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
	ID        string    `json:"token_id"`
	User      string    `json:"user"`
	IssuedAt  time.Time `json:"issued_at"`
	ExpiresAt time.Time `json:"exp_ts"`
	Uses      int       `json:"uses"`
	MaxUses   int       `json:"max_uses"`
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
	// OutcomePresigned: a presigned upload URL was handed out (the upload
	// itself is recorded when it is committed).
	OutcomePresigned = "presigned"
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
	// CreateUser adds u; ErrExists if the name is taken.
	CreateUser(ctx context.Context, u User) error
	// PutUser creates or replaces u.
	PutUser(ctx context.Context, u User) error
	GetUser(ctx context.Context, name string) (User, error)
	// DeleteUser removes the user; ErrNotFound if absent.
	DeleteUser(ctx context.Context, name string) error
	ListUsers(ctx context.Context) ([]User, error)

	// CreateToken stores a new token record; ErrExists on a duplicate ID.
	CreateToken(ctx context.Context, t Token) error
	// UseToken atomically and durably consumes one use of the token at time
	// now and returns the updated record. It returns ErrNotFound,
	// ErrTokenExpired or ErrTokenExhausted without consuming a use. Under
	// any concurrency at most MaxUses calls succeed per token, across
	// restarts.
	UseToken(ctx context.Context, id string, now time.Time) (Token, error)
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
}
