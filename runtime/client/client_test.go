package client_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/runtime/client"
	"github.com/acme/module-registry/runtime/client/clienttest"
)

var ctx = context.Background()

func sum(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func random(t *testing.T, n int) []byte {
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return b
}

// onlyReader hides every method but Read (no Seek): a stream of unknown origin.
type onlyReader struct{ io.Reader }

// dirEntries lists a directory, to show that nothing was left behind.
func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// recorder is a proxy in front of a registry that keeps the headers it forwarded.
type recorder struct {
	mu      sync.Mutex
	headers []http.Header
}

func (r *recorder) front(t *testing.T, target string) string {
	u, err := url.Parse(target)
	require.NoError(t, err)
	proxy := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.headers = append(r.headers, req.Header.Clone())
		r.mu.Unlock()
		proxy.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func (r *recorder) last() http.Header {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.headers[len(r.headers)-1]
}

func TestPushAndPullVerified(t *testing.T) {
	reg := clienttest.Start(t, nil)
	var rec recorder
	c, err := client.New(rec.front(t, reg.URL), &client.Options{Token: reg.Admin(t).Token()})
	require.NoError(t, err)

	// A seekable body: its digest is computed first and declared.
	content := random(t, 700<<10)
	var progress []int64
	pkg, err := c.Push(ctx, "hello", "1.0.0", bytes.NewReader(content), -1, &client.PushOptions{
		Progress: func(done, total int64) {
			progress = append(progress, done)
			assert.Equal(t, int64(len(content)), total)
		},
	})
	require.NoError(t, err)
	assert.Equal(t, sum(content), pkg.SHA256)
	assert.Equal(t, int64(len(content)), pkg.Size)
	assert.Equal(t, sum(content), rec.last().Get("X-Checksum-SHA256"), "the digest is declared to the registry")
	assert.Equal(t, int64(len(content)), progress[len(progress)-1])

	// A stream: hashed while sent, checked against the registry's answer.
	stream := random(t, 100<<10)
	pkg, err = c.Push(ctx, "hello", "2.0.0", onlyReader{bytes.NewReader(stream)}, -1, nil)
	require.NoError(t, err)
	assert.Equal(t, sum(stream), pkg.SHA256)
	assert.Empty(t, rec.last().Get("X-Checksum-SHA256"), "a stream's digest is not known before it is sent")

	// A file.
	dir := t.TempDir()
	src := filepath.Join(dir, "pkg.tgz")
	require.NoError(t, os.WriteFile(src, content, 0o600))
	pkg, err = c.PushFile(ctx, "hello", "3.0.0", src, nil)
	require.NoError(t, err)
	assert.Equal(t, sum(content), pkg.SHA256)

	// Pull: verified, atomically written, with and without the caller's digest.
	dest := filepath.Join(dir, "out", "hello.tgz")
	require.NoError(t, os.Mkdir(filepath.Dir(dest), 0o755))
	got, err := c.Pull(ctx, "hello", "1.0.0", dest, &client.DownloadOptions{SHA256: strings.ToUpper(sum(content))})
	require.NoError(t, err)
	assert.Equal(t, client.Pulled{Path: dest, SHA256: sum(content), Size: int64(len(content))}, got)
	b, err := os.ReadFile(dest)
	require.NoError(t, err)
	assert.Equal(t, sum(content), sum(b))
	_, err = c.Pull(ctx, "hello", "2.0.0", dest, nil)
	require.NoError(t, err)
	b, err = os.ReadFile(dest)
	require.NoError(t, err)
	assert.Equal(t, stream, b, "an existing file is replaced")
	assert.Equal(t, []string{"hello.tgz"}, dirEntries(t, filepath.Dir(dest)), "no temporary file left")

	// Open streams with the same verification.
	v, err := c.Open(ctx, "hello", "3.0.0", nil)
	require.NoError(t, err)
	all, err := io.ReadAll(v)
	require.NoError(t, err)
	require.NoError(t, v.Close())
	assert.Equal(t, content, all)
	assert.Equal(t, sum(content), v.SHA256)
}

func TestDeclaredDigestMismatchStoresNothing(t *testing.T) {
	reg := clienttest.Start(t, nil)
	c := reg.Admin(t)
	_, err := c.Push(ctx, "lib", "1.0.0", strings.NewReader("the body"), -1, &client.PushOptions{SHA256: sum([]byte("another body"))})
	require.ErrorIs(t, err, client.ErrIntegrity)
	var apiErr *client.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusUnprocessableEntity, apiErr.Status)
	_, err = c.Open(ctx, "lib", "1.0.0", nil)
	assert.ErrorIs(t, err, client.ErrNotFound, "nothing stored")

	_, err = c.Push(ctx, "lib", "1.0.0", strings.NewReader("x"), -1, &client.PushOptions{SHA256: "not-hex"})
	assert.ErrorContains(t, err, "64 hex digits")
	_, err = c.Push(ctx, "lib", "1.0.0", strings.NewReader("four"), 3, nil)
	assert.ErrorContains(t, err, "has 4 bytes, not the 3 stated")
}

func TestTamperedDownloadLeavesNoFile(t *testing.T) {
	reg := clienttest.Start(t, nil)
	c := reg.Admin(t)
	dir := t.TempDir()
	dest := filepath.Join(dir, "pkg.bin")
	require.NoError(t, os.WriteFile(dest, []byte("previous"), 0o644))

	// Small: the registry finds the tampering before the first byte (500).
	_, err := c.Push(ctx, "small", "1", strings.NewReader("hello world"), -1, nil)
	require.NoError(t, err)
	reg.Tamper(t, "small", "1", []byte("hello w0rld"))
	_, err = c.Pull(ctx, "small", "1", dest, nil)
	require.ErrorIs(t, err, client.ErrServer)

	// Large: the registry cuts the stream before its last chunk.
	big := random(t, 3<<20)
	_, err = c.Push(ctx, "big", "1", bytes.NewReader(big), -1, nil)
	require.NoError(t, err)
	tampered := bytes.Clone(big)
	tampered[len(tampered)/2] ^= 1
	reg.Tamper(t, "big", "1", tampered)
	_, err = c.Pull(ctx, "big", "1", dest, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "broke off")

	// A wrong expected digest: the registry refuses before sending (422).
	_, err = c.Push(ctx, "fine", "1", strings.NewReader("fine"), -1, nil)
	require.NoError(t, err)
	_, err = c.Pull(ctx, "fine", "1", dest, &client.DownloadOptions{SHA256: sum([]byte("other"))})
	require.ErrorIs(t, err, client.ErrIntegrity)

	b, err := os.ReadFile(dest)
	require.NoError(t, err)
	assert.Equal(t, "previous", string(b), "the existing file is untouched")
	assert.Equal(t, []string{"pkg.bin"}, dirEntries(t, dir), "no partial file left")
}

// A server (or anything between) that sends other bytes than the digest it states
// is caught by the client itself.
func TestClientVerifiesWhatItReceives(t *testing.T) {
	good, evil := []byte("the genuine package"), []byte("a tampered package!")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Checksum-SHA256", sum(good))
		w.Header().Set("Content-Length", fmt.Sprint(len(evil)))
		_, _ = w.Write(evil)
	}))
	defer srv.Close()
	c, err := client.New(srv.URL, &client.Options{Token: "bearer a.b.c"})
	require.NoError(t, err)
	dir := t.TempDir()
	_, err = c.Pull(ctx, "p", "1", filepath.Join(dir, "p"), nil)
	var ie *client.IntegrityError
	require.ErrorAs(t, err, &ie)
	assert.Equal(t, sum(good), ie.WantSHA256)
	assert.Equal(t, sum(evil), ie.SHA256)
	assert.Equal(t, "recorded by the registry", ie.Against)
	assert.Empty(t, dirEntries(t, dir))

	// Through a presigned URL too.
	v, err := c.OpenURL(ctx, client.PresignedURL{URL: srv.URL + "/bucket/key?X-Amz-Signature=secret", SHA256: sum(good), Size: int64(len(good))}, nil)
	require.NoError(t, err)
	_, err = io.ReadAll(v)
	require.ErrorAs(t, err, &ie)
	assert.NotContains(t, err.Error(), "secret", "a presigned URL's signature stays out of errors")
	require.NoError(t, v.Close())
}

func TestTypedErrors(t *testing.T) {
	reg := clienttest.Start(t, nil)
	admin := reg.Admin(t)
	anon, err := client.New(reg.URL, nil)
	require.NoError(t, err)

	_, err = anon.Login(ctx, "admin", "wrong-password-1")
	var apiErr *client.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusUnauthorized, apiErr.Status)
	assert.Equal(t, "invalid user name or password", apiErr.Message)
	assert.NotEmpty(t, apiErr.RequestID)
	assert.ErrorIs(t, err, client.ErrUnauthorized)
	assert.NotErrorIs(t, err, client.ErrForbidden)

	_, err = anon.List(ctx, client.ListOptions{})
	assert.ErrorIs(t, err, client.ErrNotLoggedIn)
	forged, err := client.New(reg.URL, &client.Options{Token: "not.a.jwt"})
	require.NoError(t, err)
	_, err = forged.List(ctx, client.ListOptions{})
	assert.ErrorIs(t, err, client.ErrForbidden)

	_, err = admin.CreateUser(ctx, client.NewUser{Name: "reader", Password: "reader-password-1", Permissions: []string{client.PermDownload}})
	require.NoError(t, err)
	reader := reg.Client(t, "reader", "reader-password-1")
	_, err = reader.Push(ctx, "x", "1", strings.NewReader("x"), -1, nil)
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusForbidden, apiErr.Status)
	assert.Contains(t, apiErr.Message, "upload")

	_, err = admin.Push(ctx, "x", "1", strings.NewReader("x"), -1, nil)
	require.NoError(t, err)
	_, err = admin.Push(ctx, "x", "1", strings.NewReader("y"), -1, nil)
	assert.ErrorIs(t, err, client.ErrConflict)
	_, err = admin.Open(ctx, "x", "2", nil)
	assert.ErrorIs(t, err, client.ErrNotFound)
	_, err = admin.Push(ctx, "bad name!", "1", strings.NewReader("x"), -1, nil)
	assert.ErrorIs(t, err, client.ErrBadRequest)
	_, err = admin.DownloadURL(ctx, "x", "1", true)
	assert.ErrorIs(t, err, client.ErrNotImplemented, "the embedded backend has no presigned URLs")
	_, err = admin.Delete(ctx, "x", "")
	assert.ErrorContains(t, err, "version must not be empty")

	for _, bad := range []string{"", "ftp://h", "http://", "http://u:p@h", "http://h/?q=1", "::"} {
		_, err := client.New(bad, nil)
		assert.Error(t, err, bad)
	}
}

func TestPaging(t *testing.T) {
	reg := clienttest.Start(t, nil)
	c := reg.Admin(t)
	for i := range 7 {
		_, err := c.Push(ctx, "pkg", fmt.Sprintf("1.0.%d", i), strings.NewReader(fmt.Sprint(i)), -1, nil)
		require.NoError(t, err)
	}
	_, err := c.Push(ctx, "other", "1", strings.NewReader("o"), -1, nil)
	require.NoError(t, err)

	var seen []string
	opts := client.ListOptions{Name: "pkg", Limit: 3}
	for pages := 0; ; pages++ {
		require.Less(t, pages, 3)
		page, err := c.List(ctx, opts)
		require.NoError(t, err)
		assert.Equal(t, 7, page.Total)
		for _, p := range page.Packages {
			seen = append(seen, p.Version)
			assert.Equal(t, "admin", p.Uploader)
			assert.False(t, p.UploadedAt.IsZero())
		}
		if !page.HasNext {
			assert.Len(t, page.Packages, 1)
			break
		}
		opts.Offset = page.NextOffset
	}
	assert.Equal(t, []string{"1.0.0", "1.0.1", "1.0.2", "1.0.3", "1.0.4", "1.0.5", "1.0.6"}, seen)

	var all []string
	for p, err := range c.All(ctx, client.ListOptions{Limit: 2}) {
		require.NoError(t, err)
		all = append(all, p.Name+" "+p.Version)
	}
	assert.Len(t, all, 8)
	assert.Equal(t, "other 1", all[0])

	_, err = c.List(ctx, client.ListOptions{Limit: 5000})
	assert.ErrorIs(t, err, client.ErrBadRequest)
}

func TestUsersAndDelete(t *testing.T) {
	reg := clienttest.Start(t, nil)
	c := reg.Admin(t)
	u, err := c.CreateUser(ctx, client.NewUser{Name: "ci", Password: "ci-password-123", Permissions: []string{client.PermUpload}})
	require.NoError(t, err)
	assert.Equal(t, client.User{Name: "ci", Permissions: []string{client.PermUpload}}, u)
	_, err = c.CreateUser(ctx, client.NewUser{Name: "ci", Password: "ci-password-123"})
	assert.ErrorIs(t, err, client.ErrConflict)
	u, err = c.SetPermissions(ctx, "ci", []string{client.PermDownload, client.PermUpload})
	require.NoError(t, err)
	assert.Equal(t, []string{client.PermDownload, client.PermUpload}, u.Permissions)
	users, err := c.Users(ctx)
	require.NoError(t, err)
	assert.Len(t, users, 2)
	require.NoError(t, c.DeleteUser(ctx, "ci"))
	assert.ErrorIs(t, c.DeleteUser(ctx, "ci"), client.ErrNotFound)

	_, err = c.Push(ctx, "gone", "1", strings.NewReader("g"), -1, nil)
	require.NoError(t, err)
	p, err := c.Delete(ctx, "gone", "1")
	require.NoError(t, err)
	assert.Equal(t, sum([]byte("g")), p.SHA256)
	_, err = c.Delete(ctx, "gone", "1")
	assert.ErrorIs(t, err, client.ErrNotFound)
}

// throttled answers the first n requests 429 with Retry-After, then passes on.
func throttled(t *testing.T, target string, n int32, retryAfter string) (string, *atomic.Int32) {
	u, err := url.Parse(target)
	require.NoError(t, err)
	proxy := httputil.NewSingleHostReverseProxy(u)
	var count atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if count.Add(1) <= n {
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("Retry-After", retryAfter)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = io.WriteString(w, `{"error":"too many requests from 127.0.0.1","status":429}`)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, &count
}

func TestRetryAfter(t *testing.T) {
	reg := clienttest.Start(t, nil)
	token := reg.Admin(t).Token()

	front, count := throttled(t, reg.URL, 2, "1")
	c, err := client.New(front, &client.Options{Token: token})
	require.NoError(t, err)
	start := time.Now()
	pkg, err := c.Push(ctx, "p", "1", bytes.NewReader([]byte("retried body")), -1, nil)
	require.NoError(t, err, "a rewindable upload is sent again after the wait")
	assert.Equal(t, sum([]byte("retried body")), pkg.SHA256)
	assert.Equal(t, int32(3), count.Load())
	assert.GreaterOrEqual(t, time.Since(start), 2*time.Second)

	// A stream cannot be sent twice: the 429 is returned, with its wait.
	front, _ = throttled(t, reg.URL, 1, "1")
	c, err = client.New(front, &client.Options{Token: token})
	require.NoError(t, err)
	_, err = c.Push(ctx, "p", "2", onlyReader{strings.NewReader("stream")}, -1, nil)
	var apiErr *client.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.ErrorIs(t, err, client.ErrRateLimited)
	assert.Equal(t, time.Second, apiErr.RetryAfter)

	// A wait longer than MaxRetryWait is not waited for; MaxRetries < 0 never retries.
	front, count = throttled(t, reg.URL, 1, "3600")
	c, err = client.New(front, &client.Options{Token: token})
	require.NoError(t, err)
	_, err = c.List(ctx, client.ListOptions{})
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, time.Hour, apiErr.RetryAfter)
	assert.Equal(t, int32(1), count.Load())
	front, count = throttled(t, reg.URL, 1, "1")
	c, err = client.New(front, &client.Options{Token: token, MaxRetries: -1})
	require.NoError(t, err)
	_, err = c.List(ctx, client.ListOptions{})
	assert.ErrorIs(t, err, client.ErrRateLimited)
	assert.Equal(t, int32(1), count.Load())
}

func TestTimeouts(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			<-release // never answers in time
			return
		}
		w.Header().Set("X-Checksum-SHA256", sum([]byte("xx")))
		w.Header().Set("Content-Length", "2")
		_, _ = w.Write([]byte("x"))
		w.(http.Flusher).Flush()
		<-release // stalls mid-transfer
	}))
	defer srv.Close()
	defer close(release)
	c, err := client.New(srv.URL, &client.Options{Token: "bearer a.b.c", Timeout: 200 * time.Millisecond, StallTimeout: 300 * time.Millisecond})
	require.NoError(t, err)

	start := time.Now()
	_, err = c.Health(ctx)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 5*time.Second)

	start = time.Now()
	dir := t.TempDir()
	_, err = c.Pull(ctx, "p", "1", filepath.Join(dir, "p"), nil)
	require.Error(t, err)
	assert.Less(t, time.Since(start), 5*time.Second, "a stalled transfer is abandoned")
	assert.Empty(t, dirEntries(t, dir))
}

func TestNoSecretsInOutput(t *testing.T) {
	reg := clienttest.Start(t, nil)
	c := reg.Admin(t)
	token := c.Token()
	require.True(t, strings.HasPrefix(token, "bearer "))
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), c.String()} {
		assert.NotContains(t, s, token[len("bearer "):])
	}
	_, err := c.Login(ctx, "admin", "a-wrong-password-9")
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "a-wrong-password-9")
}

// The registry never redirects; a redirect must not carry the token elsewhere.
func TestRedirectsAreNotFollowed(t *testing.T) {
	var leaked atomic.Bool
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked.Store(r.Header.Get("X-Authorization") != "")
	}))
	defer elsewhere.Close()
	srv := httptest.NewServer(http.RedirectHandler(elsewhere.URL+"/packages", http.StatusTemporaryRedirect))
	defer srv.Close()
	c, err := client.New(srv.URL, &client.Options{Token: "bearer a.b.c"})
	require.NoError(t, err)
	_, err = c.List(ctx, client.ListOptions{})
	var apiErr *client.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusTemporaryRedirect, apiErr.Status)
	assert.False(t, leaked.Load())
}

func TestNormalizeToken(t *testing.T) {
	assert.Equal(t, "bearer a.b.c", client.NormalizeToken("a.b.c"))
	assert.Equal(t, "bearer a.b.c", client.NormalizeToken(" Bearer  a.b.c\n"))
	assert.Equal(t, "", client.NormalizeToken(" "))
}

// An upload the registry refuses up front (here: declared over its 5 GiB limit) is
// answered before the body is sent: the stream is never read.
func TestRefusedUploadSendsNoBody(t *testing.T) {
	reg := clienttest.Start(t, nil)
	c := reg.Admin(t)
	pr, pw := io.Pipe()
	defer pw.Close()
	body := &watchedReader{r: pr}
	done := make(chan error, 1)
	go func() {
		_, err := c.Push(ctx, "huge", "1.0.0", body, 6<<30, nil)
		done <- err
	}()
	select {
	case err := <-done:
		assert.ErrorIs(t, err, client.ErrTooLarge)
	case <-time.After(10 * time.Second):
		t.Fatal("the push waited for a body the registry had refused")
	}
	assert.False(t, body.read.Load(), "the body was not even read (Expect: 100-continue)")
}

// watchedReader records whether it was read.
type watchedReader struct {
	r    io.Reader
	read atomic.Bool
}

func (w *watchedReader) Read(p []byte) (int, error) {
	w.read.Store(true)
	return w.r.Read(p)
}
