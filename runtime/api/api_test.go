package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/acme/module-registry/runtime/auth"
	"github.com/acme/module-registry/runtime/storage"
)

func sha(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return b
}

func TestPublicEndpoints(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	resp := h.do(req{method: "GET", path: "/health"})
	body := readAll(t, resp)
	assert.Equal(t, 200, resp.StatusCode)
	assert.JSONEq(t, `{"status":"ok","components":{"metadata":{"status":"ok"},"blobs":{"status":"ok"},"auth":{"status":"ok"}}}`, string(body))

	resp = h.do(req{method: "GET", path: "/tracks"})
	assert.JSONEq(t, `{"plannedTracks":["Access control track"]}`, string(readAll(t, resp)))

	resp = h.do(req{method: "GET", path: "/openapi.yaml"})
	assert.Equal(t, 200, resp.StatusCode)
	assert.Contains(t, string(readAll(t, resp)), "openapi: 3")

	expectError(t, h.do(req{method: "GET", path: "/nope"}), 404)
	resp = h.do(req{method: "POST", path: "/tracks"})
	assert.Contains(t, resp.Header.Get("Allow"), "GET")
	expectError(t, resp, 405)
}

func TestHealthReportsUnavailableStore(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	require.NoError(t, os.RemoveAll(h.store.TempDir()))
	resp := h.do(req{method: "GET", path: "/health"})
	body := readAll(t, resp)
	assert.Equal(t, 503, resp.StatusCode)
	assert.Contains(t, string(body), `"blobs":{"status":"unavailable"}`)
}

func TestAuthenticate(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	tok := h.admin()
	assert.True(t, strings.HasPrefix(tok, "bearer "))

	put := func(body string) *http.Response {
		return h.do(req{method: "PUT", path: "/authenticate", body: strings.NewReader(body)})
	}
	expectError(t, put(`{"user":{"name":"admin"},"secret":{"password":"wrong-password"}}`), 401)
	expectError(t, put(`{"user":{"name":"ghost"},"secret":{"password":"`+adminPW+`"}}`), 401)
	expectError(t, put(`{"user":{"name":"admin"}`), 400)
	expectError(t, put(`{"user":{"name":"admin"}}`), 400)
	expectError(t, put(`not json`), 400)
	expectError(t, put(`{"user":{"name":"admin"},"secret":{"password":"x"}} {}`), 400)
	assert.NotContains(t, h.logs.String(), adminPW, "passwords are never logged")
	assert.NotContains(t, h.logs.String(), strings.TrimPrefix(tok, "bearer "), "tokens are never logged")
}

func TestNotConfigured501(t *testing.T) {
	h := newHarness(t, harnessOpts{noAuth: true})
	expectError(t, h.do(req{method: "PUT", path: "/authenticate", body: strings.NewReader(`{"user":{"name":"a"},"secret":{"password":"b"}}`)}), 501)
	expectError(t, h.do(req{method: "GET", path: "/packages", token: "bearer a.b.c"}), 501)
}

func TestBadTokens403(t *testing.T) {
	h := newHarness(t, harnessOpts{maxUses: 3})
	tok := h.admin()
	raw := strings.TrimPrefix(tok, "bearer ")
	forged, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{Issuer: auth.Issuer, Subject: "admin", ID: "x", ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))}).SignedString([]byte(strings.Repeat("z", 32)))
	require.NoError(t, err)
	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.RegisteredClaims{Issuer: auth.Issuer, Subject: "admin", ID: "x", ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	require.NoError(t, err)
	for name, hdr := range map[string]map[string]string{
		"missing":      nil,
		"malformed":    {"X-Authorization": "bearer not-a-jwt"},
		"no scheme":    {"X-Authorization": raw},
		"wrong signer": {"X-Authorization": "bearer " + forged},
		"alg none":     {"X-Authorization": "bearer " + none},
		"tampered":     {"X-Authorization": tok[:len(tok)-2] + "AA"},
	} {
		t.Run(name, func(t *testing.T) {
			expectError(t, h.do(req{method: "GET", path: "/packages", header: hdr}), 403)
		})
	}
	// Authorization: Bearer is accepted too; three uses in total, then 403.
	resp := h.do(req{method: "GET", path: "/packages", header: map[string]string{"Authorization": "Bearer " + raw}})
	assert.Equal(t, 200, resp.StatusCode)
	readAll(t, resp)
	resp = h.do(req{method: "GET", path: "/packages", token: tok})
	assert.Equal(t, 200, resp.StatusCode)
	readAll(t, resp)
	resp = h.do(req{method: "GET", path: "/packages", token: tok})
	assert.Equal(t, 200, resp.StatusCode)
	readAll(t, resp)
	msg := expectError(t, h.do(req{method: "GET", path: "/packages", token: tok}), 403)
	assert.Contains(t, msg, "use limit")
}

func TestExpiredToken403(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	tok := h.admin()
	h.clock.Advance(10*time.Hour + time.Second)
	expectError(t, h.do(req{method: "GET", path: "/packages", token: tok}), 403)
}

func TestPermissions403(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	reader := h.user("reader", storage.PermDownload)
	expectError(t, h.upload(reader, "lib", "1.0.0", []byte("x"), nil), 403)
	expectError(t, h.do(req{method: "GET", path: "/packages", token: reader}), 403)
	expectError(t, h.do(req{method: "DELETE", path: "/packages/lib/1.0.0", token: reader}), 403)
	expectError(t, h.do(req{method: "GET", path: "/users", token: reader}), 403)
	expectError(t, h.do(req{method: "POST", path: "/users", token: reader, body: strings.NewReader(`{}`)}), 403)
	expectError(t, h.do(req{method: "DELETE", path: "/users/admin", token: reader}), 403)
	writer := h.user("writer", storage.PermUpload)
	resp := h.upload(writer, "lib", "1.0.0", []byte("x"), nil)
	assert.Equal(t, 201, resp.StatusCode)
	readAll(t, resp)
	expectError(t, h.do(req{method: "GET", path: "/packages/lib/1.0.0", token: writer}), 403)
}

func TestUploadDownloadRoundTrip(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	tok := h.admin()
	content := randomBytes(t, 3*copyBufSize+123)
	sum := sha(content)

	resp := h.upload(tok, "my-lib", "1.2.3", content, map[string]string{"X-Checksum-SHA256": strings.ToUpper(sum)})
	body := readAll(t, resp)
	require.Equal(t, 201, resp.StatusCode, "%s", body)
	assert.JSONEq(t, `{"name":"my-lib","version":"1.2.3","sha256_hash":"`+sum+`","size":`+itoa(len(content))+`}`, string(body))
	assert.Equal(t, sum, resp.Header.Get("X-Checksum-SHA256"))
	assert.Equal(t, FormatDigest(sum), resp.Header.Get("Content-Digest"))

	resp = h.do(req{method: "GET", path: "/packages/my-lib/1.2.3?expected_hash=" + sum, token: tok})
	got := readAll(t, resp)
	require.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, sum, sha(got))
	assert.Equal(t, sum, resp.Header.Get("X-Checksum-SHA256"))
	raw, _ := hex.DecodeString(sum)
	assert.Equal(t, "sha-256=:"+base64.StdEncoding.EncodeToString(raw)+":", resp.Header.Get("Repr-Digest"))
	assert.Equal(t, itoa(len(content)), resp.Header.Get("Content-Length"))

	// RFC 9530 Content-Digest on upload, next to a digest of another algorithm.
	one := sha256.Sum256([]byte("1"))
	resp = h.upload(tok, "my-lib", "2.0.0", []byte("1"), map[string]string{"Content-Digest": "sha-512=:" + base64.StdEncoding.EncodeToString(make([]byte, 64)) + ":, sha-256=:" + base64.StdEncoding.EncodeToString(one[:]) + ":"})
	assert.Equal(t, 201, resp.StatusCode, "%s", readAll(t, resp))
	resp = h.do(req{method: "GET", path: "/packages/my-lib/2.0.0", token: tok})
	assert.Equal(t, "1", string(readAll(t, resp)))
	assert.Equal(t, 200, resp.StatusCode)

	resp = h.do(req{method: "HEAD", path: "/packages/my-lib/1.2.3", token: tok})
	readAll(t, resp)
	assert.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, sum, resp.Header.Get("X-Checksum-SHA256"))
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestDownloadErrors(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	tok := h.admin()
	resp := h.upload(tok, "lib", "1", []byte("hello"), nil)
	require.Equal(t, 201, resp.StatusCode)
	readAll(t, resp)

	resp = h.do(req{method: "GET", path: "/packages/lib/1?expected_hash=" + sha([]byte("other")), token: tok})
	msg := expectError(t, resp, 422)
	assert.Contains(t, msg, "expected_hash")
	assert.Empty(t, resp.Header.Get("Repr-Digest"), "the 422 comes before any content")
	expectError(t, h.do(req{method: "GET", path: "/packages/lib/1?expected_hash=xyz", token: tok}), 400)
	expectError(t, h.do(req{method: "GET", path: "/packages/lib/2", token: tok}), 404)
	expectError(t, h.do(req{method: "GET", path: "/packages/li%20b/1", token: tok}), 400)
}

func TestUploadDigestMismatch422PersistsNothing(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	tok := h.admin()
	content := randomBytes(t, 2*copyBufSize)
	other := sha([]byte("something else"))
	expectError(t, h.upload(tok, "lib", "1", content, map[string]string{"X-Checksum-SHA256": other}), 422)
	raw, _ := hex.DecodeString(other)
	expectError(t, h.upload(tok, "lib", "1", content, map[string]string{"Content-Digest": "sha-256=:" + base64.StdEncoding.EncodeToString(raw) + ":"}), 422)
	assert.Empty(t, h.blobFiles(), "no blob and no temp file")
	expectError(t, h.do(req{method: "GET", path: "/packages/lib/1", token: tok}), 404)
	_, err := h.store.GetPackage(context.Background(), "lib", "1")
	assert.ErrorIs(t, err, storage.ErrNotFound)

	// Malformed or contradictory digest headers are 400, before any byte is stored.
	expectError(t, h.upload(tok, "lib", "1", content, map[string]string{"X-Checksum-SHA256": "abc"}), 400)
	expectError(t, h.upload(tok, "lib", "1", content, map[string]string{"Content-Digest": "sha-256=abc"}), 400)
	expectError(t, h.upload(tok, "lib", "1", content, map[string]string{"X-Checksum-SHA256": sha(content), "Content-Digest": "sha-256=:" + base64.StdEncoding.EncodeToString(raw) + ":"}), 400)
	assert.Empty(t, h.blobFiles())
}

func TestUploadConflict409KeepsOriginal(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	tok := h.admin()
	resp := h.upload(tok, "lib", "1", []byte("original"), nil)
	require.Equal(t, 201, resp.StatusCode)
	readAll(t, resp)
	expectError(t, h.upload(tok, "lib", "1", []byte("replacement"), nil), 409)
	resp = h.do(req{method: "GET", path: "/packages/lib/1", token: tok})
	assert.Equal(t, "original", string(readAll(t, resp)))
	assert.Len(t, h.blobFiles(), 1)
}

func TestUploadTooLarge413(t *testing.T) {
	h := newHarness(t, harnessOpts{maxUpload: 1000})
	tok := h.admin()
	expectError(t, h.upload(tok, "lib", "1", make([]byte, 1001), nil), 413)
	// Chunked body without Content-Length: caught while streaming.
	resp := h.do(req{method: "PUT", path: "/packages/lib/1", token: tok, body: io.MultiReader(bytes.NewReader(make([]byte, 600)), bytes.NewReader(make([]byte, 600))), contentLength: -1})
	expectError(t, resp, 413)
	assert.Empty(t, h.blobFiles())
	resp = h.upload(tok, "lib", "1", make([]byte, 1000), nil)
	assert.Equal(t, 201, resp.StatusCode, "exactly the limit is allowed")
	readAll(t, resp)
}

func TestInvalidNames400(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	tok := h.admin()
	for _, p := range []string{
		"/packages/..%2F..%2Fetc/1",
		"/packages/a%2Fb/1",
		"/packages/lib/%2E%2E",
		"/packages/lib/1..2",
		"/packages/lib/1%00",
		"/packages/%2Elib/1",
		"/packages/" + strings.Repeat("a", MaxNameLen+1) + "/1",
		"/packages/lib/" + strings.Repeat("1", MaxVersionLen+1),
		"/packages/lib/1%0A",
		"/packages/l%C3%BCb/1",
		"/packages/lib/1%5C2",
	} {
		t.Run(p, func(t *testing.T) {
			expectError(t, h.do(req{method: "PUT", path: p, token: tok, body: strings.NewReader("x")}), 400)
		})
	}
	assert.Empty(t, h.blobFiles())
}

func TestListPackages(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	tok := h.admin()
	for _, nv := range [][2]string{{"a", "1"}, {"a", "2"}, {"b", "1"}, {"c", "1"}} {
		resp := h.upload(tok, nv[0], nv[1], []byte(nv[0]+nv[1]), nil)
		require.Equal(t, 201, resp.StatusCode)
		readAll(t, resp)
	}
	var page struct {
		Packages []struct {
			Name, Version, SHA256Hash, UploadedAt, Uploader string
			Size                                            int64
		} `json:"packages"`
		Total      int  `json:"total"`
		NextOffset *int `json:"next_offset"`
	}
	resp := h.do(req{method: "GET", path: "/packages?offset=1&limit=2", token: tok})
	require.Equal(t, 200, resp.StatusCode)
	require.NoError(t, json.Unmarshal(readAll(t, resp), &page))
	assert.Equal(t, 4, page.Total)
	require.Len(t, page.Packages, 2)
	assert.Equal(t, "a", page.Packages[0].Name)
	assert.Equal(t, "2", page.Packages[0].Version)
	require.NotNil(t, page.NextOffset)
	assert.Equal(t, 3, *page.NextOffset)

	resp = h.do(req{method: "GET", path: "/packages?name=a", token: tok})
	raw := readAll(t, resp)
	assert.Contains(t, string(raw), `"sha256_hash":"`+sha([]byte("a1"))+`"`)
	assert.Contains(t, string(raw), `"uploader":"admin"`)
	assert.Contains(t, string(raw), `"uploaded_at":"`)
	assert.Contains(t, string(raw), `"total":2`)

	for _, q := range []string{"limit=0", "limit=1001", "offset=-1", "limit=x", "name=..%2F"} {
		expectError(t, h.do(req{method: "GET", path: "/packages?" + q, token: tok}), 400)
	}
}

func TestDeletePackage(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	tok := h.admin()
	resp := h.upload(tok, "lib", "1", []byte("x"), nil)
	readAll(t, resp)
	resp = h.do(req{method: "DELETE", path: "/packages/lib/1", token: tok})
	assert.Equal(t, 200, resp.StatusCode)
	readAll(t, resp)
	assert.Empty(t, h.blobFiles())
	expectError(t, h.do(req{method: "DELETE", path: "/packages/lib/1", token: tok}), 404)
	expectError(t, h.do(req{method: "GET", path: "/packages/lib/1", token: tok}), 404)
}

func TestUserAdministration(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	tok := h.admin()
	post := func(body string) *http.Response {
		return h.do(req{method: "POST", path: "/users", token: tok, body: strings.NewReader(body)})
	}
	resp := post(`{"name":"bob","password":"long-enough-pw","permissions":["search","download","search"]}`)
	assert.JSONEq(t, `{"name":"bob","permissions":["download","search"]}`, string(readAll(t, resp)))
	assert.Equal(t, 201, resp.StatusCode)
	expectError(t, post(`{"name":"bob","password":"long-enough-pw"}`), 409)
	expectError(t, post(`{"name":"carol","password":"long-enough-pw","permissions":["root"]}`), 400)
	expectError(t, post(`{"name":"carol","password":"short"}`), 400)
	expectError(t, post(`{"name":"../carol","password":"long-enough-pw"}`), 400)
	expectError(t, post(`{"name":`), 400)

	u, err := h.store.GetUser(context.Background(), "bob")
	require.NoError(t, err)
	assert.NotContains(t, u.PasswordHash, "long-enough-pw")

	bob := h.login("bob", "long-enough-pw")
	resp = h.do(req{method: "GET", path: "/users", token: tok})
	assert.Contains(t, string(readAll(t, resp)), `"bob"`)
	resp = h.do(req{method: "DELETE", path: "/users/bob", token: tok})
	assert.Equal(t, 204, resp.StatusCode)
	readAll(t, resp)
	expectError(t, h.do(req{method: "DELETE", path: "/users/bob", token: tok}), 404)
	expectError(t, h.do(req{method: "GET", path: "/packages", token: bob}), 403)
	expectError(t, h.do(req{method: "DELETE", path: "/users/admin", token: tok}), 400)
}

func TestCorruptedBlobAbortsDownload(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	tok := h.admin()
	content := randomBytes(t, 3*copyBufSize+7)
	resp := h.upload(tok, "big", "1", content, nil)
	require.Equal(t, 201, resp.StatusCode)
	readAll(t, resp)
	p, err := h.store.GetPackage(context.Background(), "big", "1")
	require.NoError(t, err)
	path := h.store.BlobPath(p.BlobKey)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	data[len(data)/2] ^= 0xff // same size, one bit pattern flipped
	require.NoError(t, os.WriteFile(path, data, 0o600))

	resp = h.do(req{method: "GET", path: "/packages/big/1", token: tok})
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Error(t, err, "a corrupted download must not complete cleanly")
	assert.Less(t, len(got), len(content), "the final chunk is withheld")
	assert.Contains(t, h.logs.String(), `"event":"integrity_failure"`)

	// Small corrupted blob: detected before the first byte, a clean 500.
	resp = h.upload(tok, "small", "1", []byte("hello world"), nil)
	readAll(t, resp)
	p, err = h.store.GetPackage(context.Background(), "small", "1")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(h.store.BlobPath(p.BlobKey), []byte("hello w0rld"), 0o600))
	expectError(t, h.do(req{method: "GET", path: "/packages/small/1", token: tok}), 500)
	// Truncated blob.
	require.NoError(t, os.WriteFile(h.store.BlobPath(p.BlobKey), []byte("hello"), 0o600))
	expectError(t, h.do(req{method: "GET", path: "/packages/small/1", token: tok}), 500)

	recs, err := h.store.ListDownloads(context.Background())
	require.NoError(t, err)
	outcomes := map[string]int{}
	for _, r := range recs {
		outcomes[r.Outcome]++
	}
	assert.Equal(t, 3, outcomes[storage.OutcomeIntegrityFailure])
}

// Once the body has started, a failed download cuts the connection: the
// client gets a prefix of the stored bytes and nothing else (no error body
// appended to the stream).
func TestFailedDownloadSendsOnlyStoredBytes(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	tok := h.admin()
	readAll(t, h.upload(tok, "big", "1", randomBytes(t, 2*copyBufSize+4096), nil))
	p, err := h.store.GetPackage(context.Background(), "big", "1")
	require.NoError(t, err)
	data, err := os.ReadFile(h.store.BlobPath(p.BlobKey))
	require.NoError(t, err)
	data[len(data)/2] ^= 0xff
	require.NoError(t, os.WriteFile(h.store.BlobPath(p.BlobKey), data, 0o600))

	resp := h.do(req{method: "GET", path: "/packages/big/1", token: tok})
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Error(t, err)
	assert.Equal(t, 2*copyBufSize, len(got), "every chunk but the last")
	assert.True(t, bytes.HasPrefix(data, got), "nothing but stored bytes is sent")
}

func TestTransfersAreRecorded(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	tok := h.admin()
	readAll(t, h.upload(tok, "lib", "1", []byte("x"), nil))
	readAll(t, h.upload(tok, "lib", "1", []byte("x"), nil))
	readAll(t, h.do(req{method: "GET", path: "/packages/lib/1", token: tok}))
	readAll(t, h.do(req{method: "GET", path: "/packages/lib/1"}))
	readAll(t, h.do(req{method: "GET", path: "/packages/lib/9", token: tok}))
	readAll(t, h.do(req{method: "GET", path: "/packages/lib/1?expected_hash=" + sha([]byte("y")), token: tok}))

	ups, err := h.store.ListUploads(context.Background())
	require.NoError(t, err)
	require.Len(t, ups, 2)
	assert.Equal(t, storage.OutcomeOK, ups[0].Outcome)
	assert.Equal(t, "admin", ups[0].User)
	assert.Equal(t, sha([]byte("x")), ups[0].SHA256)
	assert.Equal(t, storage.OutcomeConflict, ups[1].Outcome)

	downs, err := h.store.ListDownloads(context.Background())
	require.NoError(t, err)
	require.Len(t, downs, 4)
	want := []struct{ user, outcome string }{
		{"admin", storage.OutcomeOK}, {"", storage.OutcomeDenied},
		{"admin", storage.OutcomeNotFound}, {"admin", storage.OutcomeHashMismatch},
	}
	for i, w := range want {
		assert.Equal(t, w.user, downs[i].User, i)
		assert.Equal(t, w.outcome, downs[i].Outcome, i)
		assert.Equal(t, "lib", downs[i].Name)
		assert.False(t, downs[i].At.IsZero())
	}
}

// Every transfer record names the authenticated caller, also when the
// caller lacks the permission, and an unauthenticated one as nobody.
func TestDeniedTransfersNameTheCaller(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	reader := h.user("reader", storage.PermDownload)
	writer := h.user("writer", storage.PermUpload)
	expectError(t, h.upload(reader, "lib", "1", []byte("x"), nil), 403)
	expectError(t, h.upload("", "lib", "1", []byte("x"), nil), 403)
	expectError(t, h.do(req{method: "POST", path: "/packages/lib/1/upload-url", token: reader, body: strings.NewReader(`{}`)}), 403)
	expectError(t, h.do(req{method: "POST", path: "/packages/lib/1/commit", token: reader, body: strings.NewReader(`{}`)}), 403)
	expectError(t, h.do(req{method: "GET", path: "/packages/lib/1", token: writer}), 403)
	expectError(t, h.do(req{method: "GET", path: "/packages/lib/1/download-url", token: writer}), 403)

	ups, err := h.store.ListUploads(context.Background())
	require.NoError(t, err)
	downs, err := h.store.ListDownloads(context.Background())
	require.NoError(t, err)
	var got [][2]string
	for _, r := range append(ups, downs...) {
		got = append(got, [2]string{r.User, r.Outcome})
	}
	assert.Equal(t, [][2]string{
		{"reader", storage.OutcomeDenied}, {"", storage.OutcomeDenied}, {"reader", storage.OutcomeDenied}, {"reader", storage.OutcomeDenied},
		{"writer", storage.OutcomeDenied}, {"writer", storage.OutcomeDenied},
	}, got)
}

func TestRequestIDs(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	resp := h.do(req{method: "GET", path: "/tracks", header: map[string]string{"X-Request-ID": "abc-123"}})
	readAll(t, resp)
	assert.Equal(t, "abc-123", resp.Header.Get("X-Request-ID"))
	resp = h.do(req{method: "GET", path: "/tracks", header: map[string]string{"X-Request-ID": "bad id with spaces"}})
	readAll(t, resp)
	id := resp.Header.Get("X-Request-ID")
	assert.Len(t, id, 24)
	for _, line := range strings.Split(strings.TrimSpace(h.logs.String()), "\n") {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m), "log lines are JSON: %s", line)
		if m["msg"] == "request" {
			assert.NotEmpty(t, m["request_id"])
		}
	}
	assert.Contains(t, h.logs.String(), `"request_id":"`+id+`"`)
}

func TestOpenAPIMatchesRoutes(t *testing.T) {
	var doc struct {
		OpenAPI string                    `yaml:"openapi"`
		Paths   map[string]map[string]any `yaml:"paths"`
	}
	require.NoError(t, yaml.Unmarshal(OpenAPI(), &doc))
	require.True(t, strings.HasPrefix(doc.OpenAPI, "3."))
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			switch method {
			case "get", "put", "post", "delete", "patch", "head", "options":
				documented[strings.ToUpper(method)+" "+path] = true
			}
		}
	}
	registered := map[string]bool{}
	for _, r := range New(Config{}).Routes() {
		registered[r.Method+" "+r.Path] = true
	}
	assert.Equal(t, registered, documented, "openapi.yaml and Server.Routes must list the same endpoints")
}

func TestClientLeavingMidDownload(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	tok := h.admin()
	content := randomBytes(t, 12*copyBufSize)
	readAll(t, h.upload(tok, "big", "1", content, nil))
	for range 3 {
		resp := h.do(req{method: "GET", path: "/packages/big/1", token: tok})
		_, err := io.ReadFull(resp.Body, make([]byte, 1000))
		require.NoError(t, err)
		resp.Body.Close() // hang up mid-stream
	}
	// The server is still healthy and serves the full, verified content.
	resp := h.do(req{method: "GET", path: "/packages/big/1", token: tok})
	assert.Equal(t, sha(content), sha(readAll(t, resp)))
	require.Eventually(t, func() bool {
		recs, _ := h.store.ListDownloads(context.Background())
		errs := 0
		for _, r := range recs {
			if r.Outcome == storage.OutcomeError {
				errs++
			}
		}
		return errs == 3
	}, 5*time.Second, 20*time.Millisecond, "abandoned downloads are recorded")
}

func TestPresignedEndpointsNeedAWSBackend(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	tok := h.admin()
	readAll(t, h.upload(tok, "lib", "1.0.0", []byte("x"), nil))
	msg := expectError(t, h.do(req{method: "GET", path: "/packages/lib/1.0.0/download-url", token: tok}), 501)
	assert.Contains(t, msg, "REGISTRY_BACKEND=aws")
	body := `{"sha256":"` + strings.Repeat("a", 64) + `","size":1}`
	expectError(t, h.do(req{method: "POST", path: "/packages/lib/2.0.0/upload-url", token: tok, body: strings.NewReader(body)}), 501)
	expectError(t, h.do(req{method: "POST", path: "/packages/lib/2.0.0/commit", token: tok, body: strings.NewReader(`{"upload_id":"x"}`)}), 501)
	// Permissions are checked first, as on the streaming endpoints.
	expectError(t, h.do(req{method: "GET", path: "/packages/lib/1.0.0/download-url"}), 403)
}
