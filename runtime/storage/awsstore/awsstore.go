// Package awsstore is the registry's AWS storage backend: package bytes in
// an SSE-KMS S3 bucket, metadata in the five DynamoDB tables of the
// deployment contract (users, tokens, packages, uploads, downloads).
//
//	cfg, _ := config.LoadDefaultConfig(ctx) // AWS_REGION, AWS_ENDPOINT_URL, credentials
//	st, err := awsstore.New(cfg, awsstore.Config{Bucket: "pkg-artifacts", KMSKeyID: keyARN, Tables: awsstore.DefaultTables()})
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
// Blob refs are "<key>?versionId=<S3 version>": reads and deletes address
// the exact version written, so an out-of-band overwrite of the key is never
// served and deleting the loser of an upload race removes only its own
// version.
package awsstore

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/acme/module-registry/runtime/storage"
)

// Tables names the five DynamoDB tables.
type Tables struct {
	Users, Tokens, Packages, Uploads, Downloads string
}

// DefaultTables returns the contract's default table names.
func DefaultTables() Tables {
	return Tables{Users: "users", Tokens: "tokens", Packages: "packages", Uploads: "uploads", Downloads: "downloads"}
}

// Config configures a Store.
type Config struct {
	Bucket   string // required
	KMSKeyID string // required: key id or ARN every write asks SSE-KMS with
	Tables   Tables // required, every name
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
	for _, t := range [][2]string{{"users", c.Tables.Users}, {"tokens", c.Tables.Tokens}, {"packages", c.Tables.Packages}, {"uploads", c.Tables.Uploads}, {"downloads", c.Tables.Downloads}} {
		if t[1] == "" {
			errs = append(errs, fmt.Errorf("%s table name is required", t[0]))
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
}

var (
	_ storage.BlobStore     = (*Store)(nil)
	_ storage.MetadataStore = (*Store)(nil)
	_ storage.Presigner     = (*Store)(nil)
	_ storage.PackageKeyer  = (*Store)(nil)
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
	}
	st.uploader = manager.NewUploader(s3c, func(u *manager.Uploader) {
		u.PartSize = cfg.PartSize
		u.Concurrency = cfg.Concurrency
		u.LeavePartsOnError = false
	})
	return st, nil
}

// Backend returns the store as both halves of a storage.Backend.
func (s *Store) Backend() storage.Backend { return storage.Backend{Blobs: s, Meta: s} }

// Ping checks that the bucket and the packages table answer, using only
// what the task role is granted (listing under packages/, reading an item):
// HeadBucket or DescribeTable would need permissions the service has no
// other use for.
func (s *Store) Ping(ctx context.Context) error {
	if _, err := s.s3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &s.cfg.Bucket, Prefix: aws.String(keyPrefix), MaxKeys: aws.Int32(1)}); err != nil {
		return fmt.Errorf("s3 bucket %s: %w", s.cfg.Bucket, err)
	}
	if _, err := s.ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.cfg.Tables.Packages, Key: item{"pkg_key": sAttr("health-check")}}); err != nil {
		return fmt.Errorf("dynamodb table %s: %w", s.cfg.Tables.Packages, err)
	}
	return nil
}

// ---------------------------------------------------------------- blobs

// PackageKey implements storage.PackageKeyer.
func (s *Store) PackageKey(name, version string) string {
	return keyPrefix + name + "/" + version + "/package.zip"
}

// keyPrefix is where package objects live (the task role's grant covers it).
const keyPrefix = "packages/"

const versionSep = "?versionId="

func splitRef(ref string) (key, version string) {
	key, version, _ = strings.Cut(ref, versionSep)
	return key, version
}

func joinRef(key string, version *string) string {
	if version == nil || *version == "" || *version == "null" {
		return key
	}
	return key + versionSep + *version
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func isNotFound(err error) bool {
	var nsk *s3types.NoSuchKey
	var nf *s3types.NotFound
	if errors.As(err, &nsk) || errors.As(err, &nf) {
		return true
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NoSuchKey", "NoSuchVersion", "NotFound", "404":
			return true
		}
	}
	return false
}

// Create starts a streaming upload of key. The bytes flow through a pipe
// into the transfer manager; nothing is visible in S3 until Commit closes
// the pipe (a single PutObject, or CompleteMultipartUpload).
func (s *Store) Create(ctx context.Context, key string) (storage.BlobWriter, error) {
	pr, pw := io.Pipe()
	w := &blobWriter{s: s, key: key, pw: pw, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		out, err := s.uploader.Upload(ctx, &s3.PutObjectInput{
			Bucket:               &s.cfg.Bucket,
			Key:                  &key,
			Body:                 pr,
			ServerSideEncryption: s3types.ServerSideEncryptionAwsKms,
			SSEKMSKeyId:          &s.cfg.KMSKeyID,
			ChecksumAlgorithm:    s3types.ChecksumAlgorithmSha256,
			ContentType:          aws.String("application/zip"),
		})
		if err != nil {
			var mu manager.MultiUploadFailure
			if errors.As(err, &mu) {
				w.uploadID = mu.UploadID()
			}
			pr.CloseWithError(err)
		} else {
			pr.Close()
		}
		w.out, w.err = out, err
	}()
	return w, nil
}

type blobWriter struct {
	s        *Store
	key      string
	pw       *io.PipeWriter
	done     chan struct{}
	out      *manager.UploadOutput
	err      error
	uploadID string
	once     sync.Once
	ref      string
	checksum string
}

var errAborted = errors.New("upload aborted")

func (w *blobWriter) Write(p []byte) (int, error) { return w.pw.Write(p) }

func (w *blobWriter) Commit(ctx context.Context) error {
	// End of body: the manager sends the PutObject or completes the
	// multipart upload. It runs under the context given to Create, so a
	// cancelled request also ends the wait.
	w.pw.Close()
	<-w.done
	if w.err != nil {
		return fmt.Errorf("s3 upload of %s: %w", w.key, w.err)
	}
	w.ref = joinRef(w.key, w.out.VersionID)
	w.checksum = aws.ToString(w.out.ChecksumSHA256)
	if w.checksum == "" {
		// Some S3 implementations leave the checksum out of the
		// CompleteMultipartUpload answer; ask for the stored one.
		st, err := w.s.StatBlob(ctx, w.ref)
		if err != nil {
			w.cleanup(context.WithoutCancel(ctx))
			return fmt.Errorf("s3 upload of %s: reading its checksum: %w", w.key, err)
		}
		w.checksum = st.Checksum
	}
	if w.checksum == "" {
		// Without a stored SHA-256 the write was not verified by S3 and
		// must not be recorded.
		w.cleanup(context.WithoutCancel(ctx))
		return fmt.Errorf("s3 upload of %s: S3 stored no SHA-256 checksum", w.key)
	}
	return nil
}

// Abort stops the upload. The transfer manager aborts a multipart upload
// when its body fails; if that abort itself failed, it is retried here so no
// parts are left behind. A committed version is never touched.
func (w *blobWriter) Abort() error {
	w.pw.CloseWithError(errAborted)
	<-w.done
	var err error
	w.once.Do(func() {
		if w.uploadID == "" {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for attempt := 0; attempt < 3; attempt++ {
			_, err = w.s.s3.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &w.s.cfg.Bucket, Key: &w.key, UploadId: &w.uploadID})
			if err == nil || isNoSuchUpload(err) {
				err = nil
				return
			}
		}
		err = fmt.Errorf("aborting multipart upload %s of %s: %w", w.uploadID, w.key, err)
	})
	return err
}

// cleanup deletes the version just written when it cannot be recorded.
func (w *blobWriter) cleanup(ctx context.Context) {
	_ = w.s.Delete(ctx, w.ref)
	w.ref, w.checksum = "", ""
}

func isNoSuchUpload(err error) bool {
	var nsu *s3types.NoSuchUpload
	if errors.As(err, &nsu) {
		return true
	}
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == "NoSuchUpload"
}

func (w *blobWriter) Ref() string      { return w.ref }
func (w *blobWriter) Checksum() string { return w.checksum }

// Open streams the exact version named by ref.
func (s *Store) Open(ctx context.Context, ref string) (io.ReadCloser, error) {
	key, version := splitRef(ref)
	out, err := s.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.cfg.Bucket, Key: &key, VersionId: optional(version)})
	if err != nil {
		if isNotFound(err) {
			return nil, fmt.Errorf("blob %s: %w", ref, storage.ErrNotFound)
		}
		return nil, fmt.Errorf("s3 get %s: %w", ref, err)
	}
	return out.Body, nil
}

// Delete removes the version named by ref (permanently: other versions of
// the key, such as a concurrent upload's, stay). A bare key gets a delete
// marker.
func (s *Store) Delete(ctx context.Context, ref string) error {
	key, version := splitRef(ref)
	_, err := s.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.cfg.Bucket, Key: &key, VersionId: optional(version)})
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("s3 delete %s: %w", ref, err)
	}
	return nil
}

// ---------------------------------------------------------------- presign

// ChecksumOf implements storage.Presigner: S3's single-part SHA-256
// checksum is the base64 of the digest.
func (s *Store) ChecksumOf(sha256Hex string) (string, error) {
	b, err := hex.DecodeString(sha256Hex)
	if err != nil || len(b) != sha256.Size {
		return "", fmt.Errorf("%q is not a hex SHA-256", sha256Hex)
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// PresignDownload implements storage.Presigner.
func (s *Store) PresignDownload(ctx context.Context, ref string, ttl time.Duration) (storage.PresignedRequest, error) {
	key, version := splitRef(ref)
	req, err := s.presign.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: &s.cfg.Bucket, Key: &key, VersionId: optional(version)},
		s3.WithPresignExpires(ttl))
	if err != nil {
		return storage.PresignedRequest{}, fmt.Errorf("presign get %s: %w", ref, err)
	}
	return toPresigned(req, ttl), nil
}

// PresignUpload implements storage.Presigner. The signature covers
// x-amz-checksum-sha256 (S3 rejects a body with another digest with
// BadDigest), Content-Length and the SSE-KMS headers, so the client can
// change none of them.
func (s *Store) PresignUpload(ctx context.Context, key, sha256Hex string, size int64, ttl time.Duration) (storage.PresignedRequest, error) {
	sum, err := s.ChecksumOf(sha256Hex)
	if err != nil {
		return storage.PresignedRequest{}, err
	}
	req, err := s.presign.PresignPutObject(ctx, &s3.PutObjectInput{
		Bucket:               &s.cfg.Bucket,
		Key:                  &key,
		ContentLength:        &size,
		ChecksumSHA256:       &sum,
		ServerSideEncryption: s3types.ServerSideEncryptionAwsKms,
		SSEKMSKeyId:          &s.cfg.KMSKeyID,
	}, s3.WithPresignExpires(ttl))
	if err != nil {
		return storage.PresignedRequest{}, fmt.Errorf("presign put %s: %w", key, err)
	}
	return toPresigned(req, ttl), nil
}

func toPresigned(req *v4.PresignedHTTPRequest, ttl time.Duration) storage.PresignedRequest {
	h := map[string]string{}
	for k, v := range req.SignedHeader {
		lk := strings.ToLower(k)
		if lk == "host" || len(v) == 0 {
			continue
		}
		h[lk] = v[0]
	}
	return storage.PresignedRequest{Method: req.Method, URL: req.URL, Headers: h, ExpiresAt: time.Now().Add(ttl).UTC().Truncate(time.Second)}
}

// StatBlob implements storage.Presigner with HeadObject and ChecksumMode
// ENABLED: S3 reports the checksum it stored, no byte is read.
func (s *Store) StatBlob(ctx context.Context, ref string) (storage.BlobStat, error) {
	key, version := splitRef(ref)
	out, err := s.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.cfg.Bucket, Key: &key, VersionId: optional(version), ChecksumMode: s3types.ChecksumModeEnabled})
	if err != nil {
		if isNotFound(err) {
			return storage.BlobStat{}, fmt.Errorf("blob %s: %w", ref, storage.ErrNotFound)
		}
		return storage.BlobStat{}, fmt.Errorf("s3 head %s: %w", ref, err)
	}
	st := storage.BlobStat{Ref: joinRef(key, out.VersionId), Size: aws.ToInt64(out.ContentLength), Checksum: aws.ToString(out.ChecksumSHA256)}
	return st, nil
}

// ---------------------------------------------------------------- dynamodb helpers

type item = map[string]ddbtypes.AttributeValue

func sAttr(v string) ddbtypes.AttributeValue { return &ddbtypes.AttributeValueMemberS{Value: v} }
func nAttr(v int64) ddbtypes.AttributeValue {
	return &ddbtypes.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

func getS(it item, k string) string {
	if v, ok := it[k].(*ddbtypes.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func getN(it item, k string) int64 {
	if v, ok := it[k].(*ddbtypes.AttributeValueMemberN); ok {
		n, _ := strconv.ParseInt(v.Value, 10, 64)
		return n
	}
	return 0
}

func getT(it item, k string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, getS(it, k))
	return t
}

func fmtT(t time.Time) ddbtypes.AttributeValue { return sAttr(t.UTC().Format(time.RFC3339Nano)) }

func isConditionFailed(err error) bool {
	var ccf *ddbtypes.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}

func (s *Store) get(ctx context.Context, table, keyName, key string) (item, error) {
	out, err := s.ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: item{keyName: sAttr(key)}, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, fmt.Errorf("dynamodb get %s from %s: %w", key, table, err)
	}
	if out.Item == nil {
		return nil, fmt.Errorf("%s %q: %w", table, key, storage.ErrNotFound)
	}
	return out.Item, nil
}

func (s *Store) putNew(ctx context.Context, table, keyName string, it item) error {
	_, err := s.ddb.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                &table,
		Item:                     it,
		ConditionExpression:      aws.String("attribute_not_exists(#k)"),
		ExpressionAttributeNames: map[string]string{"#k": keyName},
	})
	if isConditionFailed(err) {
		return fmt.Errorf("%s %q: %w", table, getS(it, keyName), storage.ErrExists)
	}
	if err != nil {
		return fmt.Errorf("dynamodb put into %s: %w", table, err)
	}
	return nil
}

func (s *Store) scan(ctx context.Context, in *dynamodb.ScanInput) ([]item, error) {
	var items []item
	p := dynamodb.NewScanPaginator(s.ddb, in)
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("dynamodb scan %s: %w", aws.ToString(in.TableName), err)
		}
		items = append(items, out.Items...)
	}
	return items, nil
}

// ---------------------------------------------------------------- users

func userItem(u storage.User) item {
	perms := make([]ddbtypes.AttributeValue, len(u.Permissions))
	for i, p := range u.Permissions {
		perms[i] = sAttr(p)
	}
	return item{
		"name":          sAttr(u.Name),
		"password_hash": sAttr(u.PasswordHash),
		"permissions":   &ddbtypes.AttributeValueMemberL{Value: perms},
		"created_at":    fmtT(u.CreatedAt),
	}
}

func userOf(it item) storage.User {
	u := storage.User{Name: getS(it, "name"), PasswordHash: getS(it, "password_hash"), CreatedAt: getT(it, "created_at"), Permissions: []string{}}
	if l, ok := it["permissions"].(*ddbtypes.AttributeValueMemberL); ok {
		for _, v := range l.Value {
			if sv, ok := v.(*ddbtypes.AttributeValueMemberS); ok {
				u.Permissions = append(u.Permissions, sv.Value)
			}
		}
	}
	return u
}

func (s *Store) CreateUser(ctx context.Context, u storage.User) error {
	return s.putNew(ctx, s.cfg.Tables.Users, "name", userItem(u))
}

func (s *Store) PutUser(ctx context.Context, u storage.User) error {
	if _, err := s.ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.cfg.Tables.Users, Item: userItem(u)}); err != nil {
		return fmt.Errorf("dynamodb put user: %w", err)
	}
	return nil
}

func (s *Store) GetUser(ctx context.Context, name string) (storage.User, error) {
	it, err := s.get(ctx, s.cfg.Tables.Users, "name", name)
	if err != nil {
		return storage.User{}, err
	}
	return userOf(it), nil
}

func (s *Store) DeleteUser(ctx context.Context, name string) error {
	_, err := s.ddb.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: &s.cfg.Tables.Users, Key: item{"name": sAttr(name)},
		ConditionExpression: aws.String("attribute_exists(#k)"), ExpressionAttributeNames: map[string]string{"#k": "name"},
	})
	if isConditionFailed(err) {
		return fmt.Errorf("user %q: %w", name, storage.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("dynamodb delete user: %w", err)
	}
	return nil
}

func (s *Store) ListUsers(ctx context.Context) ([]storage.User, error) {
	items, err := s.scan(ctx, &dynamodb.ScanInput{TableName: &s.cfg.Tables.Users, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, err
	}
	users := make([]storage.User, 0, len(items))
	for _, it := range items {
		users = append(users, userOf(it))
	}
	sort.Slice(users, func(i, j int) bool { return users[i].Name < users[j].Name })
	return users, nil
}

// ---------------------------------------------------------------- tokens

// Token items keep exp_ts (Unix seconds, the table's TTL attribute) and
// exp_ms (milliseconds, what the use condition compares, so expiry is exact
// rather than rounded to the second).
func tokenItem(t storage.Token) item {
	return item{
		"token_id":  sAttr(t.ID),
		"user":      sAttr(t.User),
		"issued_at": fmtT(t.IssuedAt),
		"exp_ts":    nAttr(t.ExpiresAt.Unix()),
		"exp_ms":    nAttr(t.ExpiresAt.UnixMilli()),
		"uses":      nAttr(int64(t.Uses)),
		"max_uses":  nAttr(int64(t.MaxUses)),
	}
}

func tokenOf(it item) storage.Token {
	return storage.Token{
		ID: getS(it, "token_id"), User: getS(it, "user"), IssuedAt: getT(it, "issued_at"),
		ExpiresAt: time.UnixMilli(getN(it, "exp_ms")).UTC(),
		Uses:      int(getN(it, "uses")), MaxUses: int(getN(it, "max_uses")),
	}
}

func (s *Store) CreateToken(ctx context.Context, t storage.Token) error {
	return s.putNew(ctx, s.cfg.Tables.Tokens, "token_id", tokenItem(t))
}

func (s *Store) GetToken(ctx context.Context, id string) (storage.Token, error) {
	it, err := s.get(ctx, s.cfg.Tables.Tokens, "token_id", id)
	if err != nil {
		return storage.Token{}, err
	}
	return tokenOf(it), nil
}

// UseToken is one conditional UpdateItem: the increment happens only while
// uses < max_uses and the token has not expired. When the condition fails,
// the item is read to say why.
func (s *Store) UseToken(ctx context.Context, id string, now time.Time) (storage.Token, error) {
	out, err := s.ddb.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &s.cfg.Tables.Tokens,
		Key:                       item{"token_id": sAttr(id)},
		UpdateExpression:          aws.String("SET #u = #u + :one"),
		ConditionExpression:       aws.String("attribute_exists(token_id) AND #u < #m AND #e > :now"),
		ExpressionAttributeNames:  map[string]string{"#u": "uses", "#m": "max_uses", "#e": "exp_ms"},
		ExpressionAttributeValues: item{":one": nAttr(1), ":now": nAttr(now.UnixMilli())},
		ReturnValues:              ddbtypes.ReturnValueAllNew,
	})
	if err == nil {
		return tokenOf(out.Attributes), nil
	}
	if !isConditionFailed(err) {
		return storage.Token{}, fmt.Errorf("dynamodb use token: %w", err)
	}
	t, gerr := s.GetToken(ctx, id)
	switch {
	case gerr != nil:
		return storage.Token{}, gerr
	case !now.Before(t.ExpiresAt):
		return storage.Token{}, storage.ErrTokenExpired
	default:
		return storage.Token{}, storage.ErrTokenExhausted
	}
}

// ---------------------------------------------------------------- packages

func packageItem(p storage.Package) item {
	it := item{
		"pkg_key":     sAttr(storage.Key(p.Name, p.Version)),
		"name":        sAttr(p.Name),
		"version":     sAttr(p.Version),
		"sha256_hash": sAttr(p.SHA256),
		"size":        nAttr(p.Size),
		"uploaded_at": fmtT(p.UploadedAt),
		"uploader":    sAttr(p.Uploader),
		"blob_key":    sAttr(p.BlobKey),
	}
	if p.BlobChecksum != "" {
		it["s3_checksum_sha256"] = sAttr(p.BlobChecksum)
	}
	return it
}

func packageOf(it item) storage.Package {
	return storage.Package{
		Name: getS(it, "name"), Version: getS(it, "version"), SHA256: getS(it, "sha256_hash"), Size: getN(it, "size"),
		UploadedAt: getT(it, "uploaded_at"), Uploader: getS(it, "uploader"), BlobKey: getS(it, "blob_key"),
		BlobChecksum: getS(it, "s3_checksum_sha256"),
	}
}

func (s *Store) CreatePackage(ctx context.Context, p storage.Package) error {
	return s.putNew(ctx, s.cfg.Tables.Packages, "pkg_key", packageItem(p))
}

func (s *Store) GetPackage(ctx context.Context, name, version string) (storage.Package, error) {
	it, err := s.get(ctx, s.cfg.Tables.Packages, "pkg_key", storage.Key(name, version))
	if err != nil {
		return storage.Package{}, err
	}
	return packageOf(it), nil
}

// ListPackages queries the by_name index for one name, otherwise scans the
// table; pages are cut after sorting by pkg_key.
func (s *Store) ListPackages(ctx context.Context, opts storage.ListOptions) ([]storage.Package, int, error) {
	var items []item
	if opts.Name != "" {
		p := dynamodb.NewQueryPaginator(s.ddb, &dynamodb.QueryInput{
			TableName: &s.cfg.Tables.Packages, IndexName: aws.String("by_name"),
			KeyConditionExpression:    aws.String("#n = :n"),
			ExpressionAttributeNames:  map[string]string{"#n": "name"},
			ExpressionAttributeValues: item{":n": sAttr(opts.Name)},
		})
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				return nil, 0, fmt.Errorf("dynamodb query packages by_name: %w", err)
			}
			items = append(items, out.Items...)
		}
	} else {
		var err error
		if items, err = s.scan(ctx, &dynamodb.ScanInput{TableName: &s.cfg.Tables.Packages, ConsistentRead: aws.Bool(true)}); err != nil {
			return nil, 0, err
		}
	}
	pkgs := make([]storage.Package, 0, len(items))
	for _, it := range items {
		pkgs = append(pkgs, packageOf(it))
	}
	sort.Slice(pkgs, func(i, j int) bool {
		return storage.Key(pkgs[i].Name, pkgs[i].Version) < storage.Key(pkgs[j].Name, pkgs[j].Version)
	})
	total := len(pkgs)
	if opts.Offset >= total {
		return []storage.Package{}, total, nil
	}
	end := min(total, opts.Offset+opts.Limit)
	return pkgs[opts.Offset:end], total, nil
}

func (s *Store) DeletePackage(ctx context.Context, name, version string) (storage.Package, error) {
	out, err := s.ddb.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: &s.cfg.Tables.Packages, Key: item{"pkg_key": sAttr(storage.Key(name, version))},
		ConditionExpression: aws.String("attribute_exists(pkg_key)"),
		ReturnValues:        ddbtypes.ReturnValueAllOld,
	})
	if isConditionFailed(err) {
		return storage.Package{}, fmt.Errorf("package %s: %w", storage.Key(name, version), storage.ErrNotFound)
	}
	if err != nil {
		return storage.Package{}, fmt.Errorf("dynamodb delete package: %w", err)
	}
	return packageOf(out.Attributes), nil
}

// ---------------------------------------------------------------- audit records

// The uploads table holds both audit records (kind "record", no exp_ts) and
// pending presigned uploads (kind "pending", exp_ts for the TTL).
const (
	kindRecord  = "record"
	kindPending = "pending"
)

func recordItem(r storage.TransferRecord) item {
	it := item{
		"id": sAttr(r.ID), "ts": nAttr(r.At.UnixMilli()), "at": fmtT(r.At),
		"name": sAttr(r.Name), "version": sAttr(r.Version), "outcome": sAttr(r.Outcome),
	}
	// Key attributes of the by_user index cannot be empty strings: records
	// of unauthenticated callers omit user (sparse index).
	for k, v := range map[string]string{"user": r.User, "sha256_hash": r.SHA256, "client_ip": r.ClientIP, "detail": r.Detail} {
		if v != "" {
			it[k] = sAttr(v)
		}
	}
	if r.Size != 0 {
		it["size"] = nAttr(r.Size)
	}
	return it
}

func recordOf(it item) storage.TransferRecord {
	return storage.TransferRecord{
		ID: getS(it, "id"), User: getS(it, "user"), Name: getS(it, "name"), Version: getS(it, "version"),
		Outcome: getS(it, "outcome"), SHA256: getS(it, "sha256_hash"), Size: getN(it, "size"),
		At: getT(it, "at"), ClientIP: getS(it, "client_ip"), Detail: getS(it, "detail"),
	}
}

func (s *Store) RecordUpload(ctx context.Context, r storage.TransferRecord) error {
	it := recordItem(r)
	it["kind"] = sAttr(kindRecord)
	return s.putNew(ctx, s.cfg.Tables.Uploads, "id", it)
}

func (s *Store) RecordDownload(ctx context.Context, r storage.TransferRecord) error {
	return s.putNew(ctx, s.cfg.Tables.Downloads, "id", recordItem(r))
}

func (s *Store) listRecords(ctx context.Context, in *dynamodb.ScanInput) ([]storage.TransferRecord, error) {
	items, err := s.scan(ctx, in)
	if err != nil {
		return nil, err
	}
	recs := make([]storage.TransferRecord, 0, len(items))
	for _, it := range items {
		recs = append(recs, recordOf(it))
	}
	sort.SliceStable(recs, func(i, j int) bool {
		if !recs[i].At.Equal(recs[j].At) {
			return recs[i].At.Before(recs[j].At)
		}
		return recs[i].ID < recs[j].ID
	})
	return recs, nil
}

func (s *Store) ListUploads(ctx context.Context) ([]storage.TransferRecord, error) {
	return s.listRecords(ctx, &dynamodb.ScanInput{
		TableName: &s.cfg.Tables.Uploads, ConsistentRead: aws.Bool(true),
		FilterExpression:          aws.String("#k = :k"),
		ExpressionAttributeNames:  map[string]string{"#k": "kind"},
		ExpressionAttributeValues: item{":k": sAttr(kindRecord)},
	})
}

func (s *Store) ListDownloads(ctx context.Context) ([]storage.TransferRecord, error) {
	return s.listRecords(ctx, &dynamodb.ScanInput{TableName: &s.cfg.Tables.Downloads, ConsistentRead: aws.Bool(true)})
}

// ---------------------------------------------------------------- pending uploads

func (s *Store) CreatePendingUpload(ctx context.Context, u storage.PendingUpload) error {
	return s.putNew(ctx, s.cfg.Tables.Uploads, "id", item{
		"id": sAttr(u.ID), "kind": sAttr(kindPending), "name": sAttr(u.Name), "version": sAttr(u.Version),
		"user": sAttr(u.User), "sha256_hash": sAttr(u.SHA256), "size": nAttr(u.Size), "blob_key": sAttr(u.Key),
		"exp_ts": nAttr(u.ExpiresAt.Unix()), "exp_ms": nAttr(u.ExpiresAt.UnixMilli()), "ts": nAttr(time.Now().UnixMilli()),
	})
}

// GetPendingUpload treats an expired item as absent: DynamoDB's TTL deletes
// items only eventually.
func (s *Store) GetPendingUpload(ctx context.Context, id string) (storage.PendingUpload, error) {
	it, err := s.get(ctx, s.cfg.Tables.Uploads, "id", id)
	if err != nil {
		return storage.PendingUpload{}, err
	}
	u := storage.PendingUpload{
		ID: id, Name: getS(it, "name"), Version: getS(it, "version"), User: getS(it, "user"),
		SHA256: getS(it, "sha256_hash"), Size: getN(it, "size"), Key: getS(it, "blob_key"),
		ExpiresAt: time.UnixMilli(getN(it, "exp_ms")).UTC(),
	}
	if getS(it, "kind") != kindPending || !time.Now().Before(u.ExpiresAt) {
		return storage.PendingUpload{}, fmt.Errorf("pending upload %q: %w", id, storage.ErrNotFound)
	}
	return u, nil
}

func (s *Store) DeletePendingUpload(ctx context.Context, id string) error {
	_, err := s.ddb.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: &s.cfg.Tables.Uploads, Key: item{"id": sAttr(id)},
		ConditionExpression:       aws.String("#k = :k"),
		ExpressionAttributeNames:  map[string]string{"#k": "kind"},
		ExpressionAttributeValues: item{":k": sAttr(kindPending)},
	})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("dynamodb delete pending upload: %w", err)
	}
	return nil
}
