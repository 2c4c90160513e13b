// Package awsstore is the registry's AWS storage backend: package bytes in
// an SSE-KMS S3 bucket, metadata in the five DynamoDB tables of the
// deployment contract (users, tokens, packages, uploads, downloads).
//
//	cfg, _ := config.LoadDefaultConfig(ctx) // AWS_REGION, AWS_ENDPOINT_URL, credentials
//	st, err := awsstore.New(cfg, awsstore.Config{Bucket: "pkg-artifacts", KMSKeyID: keyARN, Tables: contract.DefaultTableNames()})
//	srv := api.New(api.Config{Backend: st.Backend(), ...})
//
// Every S3 write asks for SSE-KMS with the configured key and carries S3's
// own SHA-256 checksum, so S3 verifies the bytes on arrival. Bodies larger
// than one part go through the transfer manager as a multipart upload; each
// part carries its SHA-256 and S3 stores the composite checksum
// "<base64 of sha256(part sums)>-<parts>", which is recorded with the
// package (storage.Package.BlobChecksum) for later HeadObject comparison.
// The full-object SHA-256 is computed by the API in the same streaming pass.
//
// Package bytes live at contract.PackageObject(name, version). Blob refs
// are "<key>?versionId=<S3 version>": reads and deletes address the exact
// version written, so an out-of-band overwrite of the key is never served
// and deleting the loser of an upload race removes only its own version.
//
// The code is split by service: s3.go (blobs and presigned transfers) and
// dynamodb.go (users, tokens, packages, audit records, pending uploads).
package awsstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/acme/module-registry/runtime/contract"
	"github.com/acme/module-registry/runtime/storage"
)

// Config configures a Store.
type Config struct {
	Bucket   string              // required
	KMSKeyID string              // required: key id or ARN every write asks SSE-KMS with
	Tables   contract.TableNames // required, every name
	// PartSize is the multipart part size; bodies up to one part are a
	// single PutObject. Default 8 MiB (minimum 5 MiB, S3's limit).
	PartSize int64
	// Concurrency is the number of parts uploaded at once. Default 3.
	// Memory per upload is about PartSize * (Concurrency + 1).
	Concurrency int
	// UsePathStyle forces path-style S3 addressing. It is switched on
	// automatically when the endpoint's host is an IP address or localhost.
	UsePathStyle bool
}

// Validate reports every missing field.
func (c Config) Validate() error {
	var errs []error
	if c.Bucket == "" {
		errs = append(errs, errors.New("bucket name is required"))
	}
	if c.KMSKeyID == "" {
		errs = append(errs, errors.New("KMS key id is required"))
	}
	for _, t := range contract.Tables() {
		if c.Tables.Get(t.Kind) == "" {
			errs = append(errs, fmt.Errorf("%s table name is required", t.Kind))
		}
	}
	if c.PartSize != 0 && c.PartSize < manager.MinUploadPartSize {
		errs = append(errs, fmt.Errorf("part size %d is below S3's minimum %d", c.PartSize, manager.MinUploadPartSize))
	}
	return errors.Join(errs...)
}

// Store implements storage.BlobStore, storage.MetadataStore and
// storage.Presigner.
type Store struct {
	cfg      Config
	s3       *s3.Client
	ddb      *dynamodb.Client
	presign  *s3.PresignClient
	uploader *manager.Uploader
	// tokenLimits holds the max_uses of tokens seen, for lease conditions. A
	// pointer: a Store value may be copied (it holds no lock of its own).
	tokenLimits *tokenLimits
	// holder names this Store's lease marks on token items (dynamodb.go).
	holder string
}

var (
	_ storage.BlobStore     = (*Store)(nil)
	_ storage.MetadataStore = (*Store)(nil)
	_ storage.Presigner     = (*Store)(nil)
)

// New builds a Store from an AWS configuration (config.LoadDefaultConfig).
func New(awsCfg aws.Config, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("awsstore: %w", err)
	}
	if cfg.PartSize == 0 {
		cfg.PartSize = 8 << 20
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 3
	}
	if awsCfg.BaseEndpoint != nil {
		if u, err := url.Parse(*awsCfg.BaseEndpoint); err == nil {
			h := u.Hostname()
			if net.ParseIP(h) != nil || h == "localhost" {
				cfg.UsePathStyle = true
			}
		}
	}
	s3c := s3.NewFromConfig(awsCfg, func(o *s3.Options) { o.UsePathStyle = cfg.UsePathStyle })
	st := &Store{
		cfg:     cfg,
		s3:      s3c,
		ddb:     dynamodb.NewFromConfig(awsCfg),
		presign: s3.NewPresignClient(s3c),

		tokenLimits: &tokenLimits{},
		holder:      newHolderID(),
	}
	st.uploader = manager.NewUploader(s3c, func(u *manager.Uploader) {
		u.PartSize = cfg.PartSize
		u.Concurrency = cfg.Concurrency
		u.LeavePartsOnError = false
	})
	return st, nil
}

// newHolderID names one Store among the registry processes sharing the tables.
func newHolderID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Backend returns the store as every part of a storage.Backend.
func (s *Store) Backend() storage.Backend {
	return storage.Backend{Blobs: s, Meta: s, Presign: s, Validators: s}
}

// Ping checks that the bucket and the packages table answer, using only
// what the task role is granted (listing under the packages prefix,
// reading an item): HeadBucket or DescribeTable would need permissions the
// service has no other use for.
func (s *Store) Ping(ctx context.Context) error {
	if _, err := s.s3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &s.cfg.Bucket, Prefix: aws.String(contract.PackagesPrefix), MaxKeys: aws.Int32(1)}); err != nil {
		return fmt.Errorf("s3 bucket %s: %w", s.cfg.Bucket, err)
	}
	if _, err := s.ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.cfg.Tables.Packages, Key: item{contract.AttrPackageKey: sAttr("health-check")}}); err != nil {
		return fmt.Errorf("dynamodb table %s: %w", s.cfg.Tables.Packages, err)
	}
	return nil
}
