package awsstore_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/runtime/api"
	"github.com/acme/module-registry/runtime/auth"
	"github.com/acme/module-registry/runtime/secrets"
	"github.com/acme/module-registry/runtime/storage"
	"github.com/acme/module-registry/runtime/storage/awsstore"
)

const adminPW = "admin-password-123"

var testLog io.Writer = io.Discard

// registry is the API server on a fresh AWS backend in the emulator.
type registry struct {
	t     *testing.T
	st    *awsstore.Store
	cfg   awsstore.Config
	srv   *httptest.Server
	token string
}

func newRegistry(t *testing.T, httpClient aws.HTTPClient) *registry {
	t.Helper()
	st, cfg := env.NewStore(t, httpClient)
	svc, err := auth.New(st, secrets.Static{Current: []byte(strings.Repeat("k", 32))}, auth.Options{Argon2: auth.Argon2Params{Time: 1, MemKiB: 64, Threads: 1}})
	require.NoError(t, err)
	hash, err := svc.HashPassword(adminPW)
	require.NoError(t, err)
	require.NoError(t, st.PutUser(context.Background(), storage.User{Name: "admin", PasswordHash: hash, Permissions: []string{storage.PermAdmin}}))
	srv := httptest.NewServer(api.New(api.Config{Backend: st.Backend(), Auth: svc, Logger: slog.New(slog.NewJSONHandler(testLog, nil))}).Handler())
	t.Cleanup(srv.Close)
	r := &registry{t: t, st: st, cfg: cfg, srv: srv}
	tok, err := svc.Login(context.Background(), "admin", adminPW)
	require.NoError(t, err)
	r.token = tok
	return r
}

func (r *registry) do(method, path string, body io.Reader, hdr map[string]string) (int, []byte) {
	r.t.Helper()
	req, err := http.NewRequest(method, r.srv.URL+path, body)
	require.NoError(r.t, err)
	req.Header.Set("X-Authorization", r.token)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(r.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(r.t, err)
	return resp.StatusCode, b
}

func randomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return b
}

func hexSum(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// objectVersions lists every stored version of key in the test bucket.
func objectVersions(t *testing.T, bucket, key string) []string {
	t.Helper()
	out, err := env.S3.ListObjectVersions(context.Background(), &s3.ListObjectVersionsInput{Bucket: &bucket, Prefix: &key})
	require.NoError(t, err)
	var v []string
	for _, o := range out.Versions {
		v = append(v, aws.ToString(o.VersionId))
	}
	return v
}

func multipartUploads(t *testing.T, bucket string) int {
	t.Helper()
	out, err := env.S3.ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: &bucket})
	require.NoError(t, err)
	return len(out.Uploads)
}

func TestStreamingUploadUsesContractLayoutAndSSEKMS(t *testing.T) {
	r := newRegistry(t, nil)
	// Three parts: 5 MiB part size, 11 MiB body.
	content := randomBytes(t, 11<<20)
	st, err := awsstore.New(env.AWS, awsstore.Config{Bucket: r.cfg.Bucket, KMSKeyID: r.cfg.KMSKeyID, Tables: r.cfg.Tables, PartSize: 5 << 20})
	require.NoError(t, err)
	*r.st = *st
	code, body := r.do("PUT", "/packages/big/1.0.0", bytes.NewReader(content), map[string]string{"X-Checksum-SHA256": hexSum(content)})
	require.Equal(t, 201, code, "%s", body)

	key := "packages/big/1.0.0/package.zip"
	head, err := env.S3.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: &r.cfg.Bucket, Key: &key, ChecksumMode: "ENABLED"})
	require.NoError(t, err)
	assert.EqualValues(t, "aws:kms", head.ServerSideEncryption)
	assert.Equal(t, env.KeyID, aws.ToString(head.SSEKMSKeyId))
	assert.True(t, strings.HasSuffix(aws.ToString(head.ChecksumSHA256), "-3"), "multipart checksum is composite: %s", aws.ToString(head.ChecksumSHA256))

	pkg, err := r.st.GetPackage(context.Background(), "big", "1.0.0")
	require.NoError(t, err)
	assert.Equal(t, aws.ToString(head.ChecksumSHA256), pkg.BlobChecksum, "S3's composite checksum is recorded with the package")
	assert.Equal(t, key+"?versionId="+aws.ToString(head.VersionId), pkg.BlobKey)
	assert.Equal(t, 0, multipartUploads(t, r.cfg.Bucket))

	code, got := r.do("GET", "/packages/big/1.0.0", nil, nil)
	require.Equal(t, 200, code)
	assert.True(t, bytes.Equal(content, got))

	// The presigned download verifies against the composite checksum.
	code, body = r.do("GET", "/packages/big/1.0.0/download-url", nil, nil)
	require.Equal(t, 200, code, "%s", body)

	// Small bodies are one PutObject with a plain SHA-256 checksum.
	small := []byte("hello")
	code, body = r.do("PUT", "/packages/small/1", bytes.NewReader(small), nil)
	require.Equal(t, 201, code, "%s", body)
	pkg, err = r.st.GetPackage(context.Background(), "small", "1")
	require.NoError(t, err)
	want, _ := r.st.ChecksumOf(hexSum(small))
	assert.Equal(t, want, pkg.BlobChecksum)
}

type presignResp struct {
	UploadID  string            `json:"upload_id"`
	Method    string            `json:"method"`
	URL       string            `json:"url"`
	Headers   map[string]string `json:"headers"`
	ExpiresAt string            `json:"expires_at"`
	SHA256    string            `json:"sha256_hash"`
}

func (r *registry) uploadURL(name, version string, sum string, size int) presignResp {
	r.t.Helper()
	code, body := r.do("POST", "/packages/"+name+"/"+version+"/upload-url", strings.NewReader(`{"sha256":"`+sum+`","size":`+itoa(size)+`}`), nil)
	require.Equal(r.t, 200, code, "%s", body)
	var p presignResp
	require.NoError(r.t, json.Unmarshal(body, &p))
	return p
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// send performs a presigned request directly against S3.
func send(t *testing.T, method, url string, headers map[string]string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	require.NoError(t, err)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func TestPresignedUploadAndDownload(t *testing.T) {
	r := newRegistry(t, nil)
	content := randomBytes(t, 64<<10)
	sum := hexSum(content)
	p := r.uploadURL("lib", "1.0.0", sum, len(content))
	assert.Equal(t, "PUT", p.Method)
	assert.Equal(t, "aws:kms", p.Headers["x-amz-server-side-encryption"])
	assert.Equal(t, env.KeyID, p.Headers["x-amz-server-side-encryption-aws-kms-key-id"])
	assert.NotEmpty(t, p.Headers["x-amz-checksum-sha256"])

	// Other bytes of the same length: S3 refuses them (the checksum header is signed).
	wrong := append([]byte(nil), content...)
	wrong[0] ^= 0xff
	code, body := send(t, "PUT", p.URL, p.Headers, wrong)
	assert.Equal(t, 400, code, "a body with another SHA-256 must be refused: %s", body)
	assert.Contains(t, string(body), "BadDigest")
	assert.Empty(t, objectVersions(t, r.cfg.Bucket, "packages/lib/1.0.0/"), "nothing stored")
	code, body = r.do("POST", "/packages/lib/1.0.0/commit", strings.NewReader(`{"upload_id":"`+p.UploadID+`"}`), nil)
	assert.Equal(t, 400, code, "%s", body)

	// (Dropping the signed checksum header would break the SigV4 signature on
	// AWS; moto does not check presigned signatures, so that is not tested here.)

	code, body = send(t, "PUT", p.URL, p.Headers, content)
	require.Equal(t, 200, code, "%s", body)
	code, body = r.do("POST", "/packages/lib/1.0.0/commit", strings.NewReader(`{"upload_id":"`+p.UploadID+`"}`), nil)
	require.Equal(t, 201, code, "%s", body)
	code, body = r.do("POST", "/packages/lib/1.0.0/commit", strings.NewReader(`{"upload_id":"`+p.UploadID+`"}`), nil)
	require.Equal(t, 404, code, "a committed upload id is used up: %s", body)
	code, _ = r.do("POST", "/packages/lib/1.0.0/upload-url", strings.NewReader(`{"sha256":"`+sum+`","size":1}`), nil)
	require.Equal(t, 409, code)

	code, body = r.do("GET", "/packages/lib/1.0.0/download-url", nil, nil)
	require.Equal(t, 200, code, "%s", body)
	var d presignResp
	require.NoError(t, json.Unmarshal(body, &d))
	assert.Equal(t, sum, d.SHA256)
	code, got := send(t, "GET", d.URL, nil, nil)
	require.Equal(t, 200, code)
	assert.True(t, bytes.Equal(content, got))

	downloads, err := r.st.ListDownloads(context.Background())
	require.NoError(t, err)
	require.NotEmpty(t, downloads)
	last := downloads[len(downloads)-1]
	assert.Equal(t, "admin", last.User)
	assert.Equal(t, storage.OutcomeOK, last.Outcome)

	// The streaming download serves the presigned upload's bytes too.
	code, got = r.do("GET", "/packages/lib/1.0.0", nil, nil)
	require.Equal(t, 200, code)
	assert.True(t, bytes.Equal(content, got))
}

func TestCommitRefusesWrongSizeOrChecksum(t *testing.T) {
	r := newRegistry(t, nil)
	content := randomBytes(t, 1000)
	p := r.uploadURL("lib", "2.0.0", hexSum(content), len(content))
	// Another writer puts different bytes at the key out of band.
	_, err := env.S3.PutObject(context.Background(), &s3.PutObjectInput{Bucket: &r.cfg.Bucket, Key: aws.String("packages/lib/2.0.0/package.zip"),
		Body: bytes.NewReader([]byte("other")), ChecksumAlgorithm: "SHA256"})
	require.NoError(t, err)
	code, body := r.do("POST", "/packages/lib/2.0.0/commit", strings.NewReader(`{"upload_id":"`+p.UploadID+`"}`), nil)
	assert.Equal(t, 422, code, "%s", body)
	_, err = r.st.GetPackage(context.Background(), "lib", "2.0.0")
	require.ErrorIs(t, err, storage.ErrNotFound)
}

func TestPresignedDownloadDetectsTampering(t *testing.T) {
	r := newRegistry(t, nil)
	content := []byte("the genuine package")
	code, body := r.do("PUT", "/packages/lib/1.0.0", bytes.NewReader(content), nil)
	require.Equal(t, 201, code, "%s", body)
	pkg, err := r.st.GetPackage(context.Background(), "lib", "1.0.0")
	require.NoError(t, err)

	// Overwrite the object out of band. Reads name the recorded S3 version,
	// so the forged bytes are never handed out.
	key := "packages/lib/1.0.0/package.zip"
	_, err = env.S3.PutObject(context.Background(), &s3.PutObjectInput{Bucket: &r.cfg.Bucket, Key: &key, Body: strings.NewReader("forged bytes"), ChecksumAlgorithm: "SHA256"})
	require.NoError(t, err)
	code, body = r.do("GET", "/packages/lib/1.0.0/download-url", nil, nil)
	require.Equal(t, 200, code, "%s", body)
	var d presignResp
	require.NoError(t, json.Unmarshal(body, &d))
	code, got := send(t, "GET", d.URL, nil, nil)
	require.Equal(t, 200, code)
	assert.Equal(t, content, got, "the presigned URL serves the recorded version, not the overwrite")

	// Replace the recorded version itself (the record now points at the
	// forged object): S3's stored checksum no longer matches -> 422.
	_, err = r.st.DeletePackage(context.Background(), "lib", "1.0.0")
	require.NoError(t, err)
	head, err := env.S3.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: &r.cfg.Bucket, Key: &key})
	require.NoError(t, err)
	pkg.BlobKey = key + "?versionId=" + aws.ToString(head.VersionId)
	require.NoError(t, r.st.CreatePackage(context.Background(), pkg))
	code, body = r.do("GET", "/packages/lib/1.0.0/download-url", nil, nil)
	require.Equal(t, 422, code, "%s", body)
	code, _ = r.do("GET", "/packages/lib/1.0.0/download-url?verify_hash=false", nil, nil)
	require.Equal(t, 200, code, "verification can be skipped explicitly")
	downloads, err := r.st.ListDownloads(context.Background())
	require.NoError(t, err)
	var outcomes []string
	for _, d := range downloads {
		outcomes = append(outcomes, d.Outcome)
	}
	assert.Contains(t, outcomes, storage.OutcomeIntegrityFailure)
}

// Two uploads of one version race to the same S3 key: one wins, the other
// gets 409 and deletes only its own object version, so the winner's bytes
// are what is served.
func TestUploadRaceKeepsTheWinnersBytes(t *testing.T) {
	r := newRegistry(t, nil)
	bodies := [][]byte{randomBytes(t, 200<<10), randomBytes(t, 300<<10)}
	codes := make([]int, 2)
	done := make(chan int, 2)
	for i := range bodies {
		go func() {
			codes[i], _ = r.do("PUT", "/packages/race/1.0.0", bytes.NewReader(bodies[i]), nil)
			done <- i
		}()
	}
	<-done
	<-done
	winner := -1
	for i, c := range codes {
		switch c {
		case 201:
			winner = i
		case 409:
		default:
			t.Fatalf("upload %d: status %d", i, c)
		}
	}
	require.NotEqual(t, -1, winner)
	code, got := r.do("GET", "/packages/race/1.0.0", nil, nil)
	require.Equal(t, 200, code)
	assert.True(t, bytes.Equal(bodies[winner], got), "the winner's bytes are served")
	if codes[0] == 409 || codes[1] == 409 {
		assert.Len(t, objectVersions(t, r.cfg.Bucket, "packages/race/"), 1, "the loser removed its own version only")
	}
}
