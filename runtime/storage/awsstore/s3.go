package awsstore

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/acme/module-registry/runtime/contract"
	"github.com/acme/module-registry/runtime/storage"
)

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

// Create starts a streaming upload to contract.PackageObject(name,
// version). The bytes flow through a pipe into the transfer manager;
// nothing is visible in S3 until Commit closes the pipe (a single
// PutObject, or CompleteMultipartUpload). A second upload of the key adds
// an S3 version and leaves the first one in place.
func (s *Store) Create(ctx context.Context, name, version string) (storage.BlobWriter, error) {
	key := contract.PackageObject(name, version)
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
	written  int64
	done     chan struct{}
	out      *manager.UploadOutput
	err      error
	uploadID string
	once     sync.Once
}

var errAborted = errors.New("upload aborted")

func (w *blobWriter) Write(p []byte) (int, error) {
	n, err := w.pw.Write(p)
	w.written += int64(n)
	return n, err
}

// Commit completes the upload and reports the S3 version written and the
// checksum S3 stored. A blob S3 reports no SHA-256 for, or whose
// single-part checksum is not the declared SHA-256, was not verified by S3
// as declared: its version is deleted and Commit fails.
func (w *blobWriter) Commit(ctx context.Context, want storage.Descriptor) (storage.Blob, error) {
	if want.Size != w.written {
		err := fmt.Errorf("s3 upload of %s: %d bytes written, %d declared: %w", w.key, w.written, want.Size, storage.ErrSizeMismatch)
		if aerr := w.Abort(); aerr != nil {
			err = errors.Join(err, aerr)
		}
		return storage.Blob{}, err
	}
	// End of body: the manager sends the PutObject or completes the
	// multipart upload. It runs under the context given to Create, so a
	// cancelled request also ends the wait.
	w.pw.Close()
	<-w.done
	if w.err != nil {
		return storage.Blob{}, fmt.Errorf("s3 upload of %s: %w", w.key, w.err)
	}
	blob := storage.Blob{Ref: joinRef(w.key, w.out.VersionID), Size: w.written, SHA256: want.SHA256, Checksum: aws.ToString(w.out.ChecksumSHA256)}
	if blob.Checksum == "" {
		// Some S3 implementations leave the checksum out of the
		// CompleteMultipartUpload answer; ask for the stored one.
		st, err := w.s.StatBlob(ctx, blob.Ref)
		if err != nil {
			w.discard(ctx, blob.Ref)
			return storage.Blob{}, fmt.Errorf("s3 upload of %s: reading its checksum: %w", w.key, err)
		}
		blob.Checksum = st.Checksum
	}
	if blob.Checksum == "" {
		w.discard(ctx, blob.Ref)
		return storage.Blob{}, fmt.Errorf("s3 upload of %s: S3 stored no SHA-256 checksum", w.key)
	}
	if !isComposite(blob.Checksum) {
		if sum, err := w.s.ChecksumOf(want.SHA256); err != nil || sum != blob.Checksum {
			w.discard(ctx, blob.Ref)
			return storage.Blob{}, fmt.Errorf("s3 upload of %s: S3 stored checksum %s, not that of the declared SHA-256 %q", w.key, blob.Checksum, want.SHA256)
		}
	}
	return blob, nil
}

// isComposite reports whether an S3 checksum is a multipart upload's
// checksum of its part checksums ("<base64>-<parts>").
func isComposite(checksum string) bool { return strings.Contains(checksum, "-") }

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

// discard deletes the version just written when it cannot be committed.
func (w *blobWriter) discard(ctx context.Context, ref string) {
	_ = w.s.Delete(context.WithoutCancel(ctx), ref)
}

func isNoSuchUpload(err error) bool {
	var nsu *s3types.NoSuchUpload
	if errors.As(err, &nsu) {
		return true
	}
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == "NoSuchUpload"
}

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

// PresignUpload implements storage.Presigner with a PUT of
// contract.PackageObject(name, version). The signature covers
// x-amz-checksum-sha256 (S3 rejects a body with another digest with
// BadDigest), Content-Length and the SSE-KMS headers, so the client can
// change none of them.
func (s *Store) PresignUpload(ctx context.Context, name, version, sha256Hex string, size int64, ttl time.Duration) (storage.PresignedUpload, error) {
	sum, err := s.ChecksumOf(sha256Hex)
	if err != nil {
		return storage.PresignedUpload{}, err
	}
	key := contract.PackageObject(name, version)
	req, err := s.presign.PresignPutObject(ctx, &s3.PutObjectInput{
		Bucket:               &s.cfg.Bucket,
		Key:                  &key,
		ContentLength:        &size,
		ChecksumSHA256:       &sum,
		ServerSideEncryption: s3types.ServerSideEncryptionAwsKms,
		SSEKMSKeyId:          &s.cfg.KMSKeyID,
	}, s3.WithPresignExpires(ttl))
	if err != nil {
		return storage.PresignedUpload{}, fmt.Errorf("presign put %s: %w", key, err)
	}
	return storage.PresignedUpload{Key: key, Request: toPresigned(req, ttl)}, nil
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
