package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/runtime/storage"
	"github.com/acme/module-registry/runtime/throttle"
)

// unlimited are the harness's limits, to be adjusted by a test.
func unlimited() Limits {
	return Limits{TokenRate: throttle.Unlimited, AddressRate: throttle.Unlimited}
}

// behindProxy trusts the test client's loopback address as a load balancer, so a
// test picks each request's client address with X-Forwarded-For.
func behindProxy(l Limits) *Limits {
	l.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	return &l
}

func from(addr string) map[string]string { return map[string]string{"X-Forwarded-For": addr} }

func loginBody(name, pw string) io.Reader {
	return strings.NewReader(`{"user":{"name":` + jsonStr(name) + `},"secret":{"password":` + jsonStr(pw) + `}}`)
}

func (h *harness) loginFrom(addr, name, pw string) *http.Response {
	h.t.Helper()
	return h.do(req{method: "PUT", path: "/authenticate", body: loginBody(name, pw), header: from(addr)})
}

// expectRetry asserts a 429 or 503 with a Retry-After of whole seconds and returns it.
func expectRetry(t *testing.T, resp *http.Response, status int) (string, int) {
	t.Helper()
	ra := resp.Header.Get("Retry-After")
	msg := expectError(t, resp, status)
	n, err := strconv.Atoi(ra)
	require.NoError(t, err, "Retry-After %q is whole seconds", ra)
	require.GreaterOrEqual(t, n, 1)
	return msg, n
}

// The reproduction: a token outlives its account. Now it does not.
func TestTokenDiesWithItsAccount(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	admin := h.admin()
	tok := h.user("u", storage.PermSearch)
	readAll(t, h.do(req{method: "GET", path: "/packages", token: tok}))
	resp := h.do(req{method: "DELETE", path: "/users/u", token: admin})
	require.Equal(t, 204, resp.StatusCode)
	readAll(t, resp)
	msg := expectError(t, h.do(req{method: "GET", path: "/packages", token: tok}), 403)
	assert.Contains(t, msg, "no longer exists", "deleting the user revokes its tokens at once")

	resp = h.do(req{method: "POST", path: "/users", token: admin, body: strings.NewReader(`{"name":"u","password":"another-long-password","permissions":["admin"]}`)})
	require.Equal(t, 201, resp.StatusCode)
	readAll(t, resp)
	expectError(t, h.do(req{method: "GET", path: "/users", token: tok}), 403)
	expectError(t, h.do(req{method: "GET", path: "/packages", token: tok}), 403)
	fresh := h.login("u", "another-long-password")
	resp = h.do(req{method: "GET", path: "/users", token: fresh})
	assert.Equal(t, 200, resp.StatusCode, "the new account's own token works")
	readAll(t, resp)
}

func TestPermissionChangeAppliesToTheNextRequest(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	admin := h.admin()
	tok := h.user("ci", storage.PermSearch)
	resp := h.do(req{method: "GET", path: "/packages", token: tok})
	require.Equal(t, 200, resp.StatusCode)
	readAll(t, resp)
	patch := func(name, body string) *http.Response {
		return h.do(req{method: "PATCH", path: "/users/" + name, token: admin, body: strings.NewReader(body)})
	}
	resp = patch("ci", `{"permissions":["upload","download","upload"]}`)
	assert.JSONEq(t, `{"name":"ci","permissions":["download","upload"]}`, string(readAll(t, resp)))
	require.Equal(t, 200, resp.StatusCode)

	expectError(t, h.do(req{method: "GET", path: "/packages", token: tok}), 403)
	resp = h.upload(tok, "lib", "1", []byte("x"), nil)
	assert.Equal(t, 201, resp.StatusCode, "the same token, the new permissions")
	readAll(t, resp)

	assert.Contains(t, expectError(t, patch("ci", `{"permissions":["root"]}`), 400), "unknown permission")
	assert.Contains(t, expectError(t, patch("ci", `{}`), 400), "permissions")
	assert.Contains(t, expectError(t, patch("admin", `{"permissions":[]}`), 400), "own permissions")
	assert.Equal(t, "user ghost not found", expectError(t, patch("ghost", `{"permissions":[]}`), 404))
	expectError(t, h.do(req{method: "PATCH", path: "/users/ci", token: tok, body: strings.NewReader(`{"permissions":["admin"]}`)}), 403)
}

// When every password-check slot is taken, a login is answered 503 with Retry-After
// at once, without a check; a slot coming free lets the next one through.
func TestPasswordChecksAtCapacity503(t *testing.T) {
	gate := throttle.NewGate(1, 0, 0, "password checks")
	h := newHarness(t, harnessOpts{passwordChecks: gate})
	release, err := gate.Acquire(context.Background())
	require.NoError(t, err)
	start := time.Now()
	msg, after := expectRetry(t, h.do(req{method: "PUT", path: "/authenticate", body: loginBody("admin", adminPW)}), 503)
	assert.Less(t, time.Since(start), time.Second, "refused at once, not queued")
	assert.Contains(t, msg, "password checks")
	assert.Equal(t, 1, after)
	release()
	h.admin()
}

// Failed logins back off per user name: after the free failures even the right
// password waits (429), and once the flood is over the owner gets in within the
// name's maximum delay.
func TestFailedLoginsBackOffPerName(t *testing.T) {
	l := unlimited()
	l.NameLoginBackoff = throttle.BackoffPolicy{Free: 3, Base: time.Second, Max: 4 * time.Second}
	l.AddressLoginBackoff = throttle.BackoffPolicy{Free: 1000, Max: time.Minute}
	h := newHarness(t, harnessOpts{limits: behindProxy(l)})
	for i := range 4 {
		expectError(t, h.loginFrom(fmt.Sprintf("203.0.113.%d", i), "admin", "wrong-password"), 401)
	}
	_, after := expectRetry(t, h.loginFrom("198.51.100.7", "admin", adminPW), 429)
	assert.Equal(t, 1, after, "the first delay is the base")

	// The flood goes on, from ever new addresses.
	for i := range 50 {
		h.clock.Advance(500 * time.Millisecond)
		resp := h.loginFrom(fmt.Sprintf("203.0.113.%d", 10+i), "admin", "wrong-password")
		require.Contains(t, []int{401, 429}, resp.StatusCode)
		readAll(t, resp)
	}
	msg, after := expectRetry(t, h.loginFrom("198.51.100.7", "admin", adminPW), 429)
	assert.Contains(t, msg, "user name")
	assert.LessOrEqual(t, after, 4, "never longer than the name's maximum delay")

	// The flood ends; within the maximum delay the owner is back in.
	h.clock.Advance(4 * time.Second)
	resp := h.loginFrom("198.51.100.7", "admin", adminPW)
	require.Equal(t, 200, resp.StatusCode, "%s", readAll(t, resp))
	for range 3 {
		expectError(t, h.loginFrom("203.0.113.1", "admin", "wrong-password"), 401)
	}
	// Other names were never slowed down.
	expectError(t, h.loginFrom("203.0.113.1", "other", "wrong-password"), 401)
}

// Failed logins back off per client address too: an address guessing many names is
// slowed down on every name, and other addresses are not.
func TestFailedLoginsBackOffPerAddress(t *testing.T) {
	l := unlimited()
	l.AddressLoginBackoff = throttle.BackoffPolicy{Free: 3, Base: 2 * time.Second, Max: 30 * time.Second}
	h := newHarness(t, harnessOpts{limits: behindProxy(l)})
	for i := range 4 {
		expectError(t, h.loginFrom("203.0.113.5", fmt.Sprintf("guess%d", i), "wrong-password"), 401)
	}
	msg, after := expectRetry(t, h.loginFrom("203.0.113.5", "admin", adminPW), 429)
	assert.Contains(t, msg, "client address")
	assert.Equal(t, 2, after)
	resp := h.loginFrom("2001:db8::1", "admin", adminPW)
	assert.Equal(t, 200, resp.StatusCode, "another address logs in")
	readAll(t, resp)
	h.clock.Advance(2 * time.Second)
	resp = h.loginFrom("203.0.113.5", "admin", adminPW)
	assert.Equal(t, 200, resp.StatusCode, "the delay ends")
	readAll(t, resp)
}

// Requests are limited per token, before the use is counted.
func TestRequestRatePerToken(t *testing.T) {
	l := unlimited()
	l.TokenRate = throttle.Rate{PerSecond: 1, Burst: 3}
	h := newHarness(t, harnessOpts{limits: &l})
	tok, other := h.admin(), h.admin()
	for range 3 {
		resp := h.do(req{method: "GET", path: "/packages", token: tok})
		require.Equal(t, 200, resp.StatusCode)
		readAll(t, resp)
	}
	msg, after := expectRetry(t, h.do(req{method: "GET", path: "/packages", token: tok}), 429)
	assert.Contains(t, msg, "token")
	assert.Equal(t, 1, after)
	expectRetry(t, h.upload(tok, "lib", "1", []byte("x"), nil), 429)
	resp := h.do(req{method: "GET", path: "/packages", token: other})
	assert.Equal(t, 200, resp.StatusCode, "tokens are limited separately")
	readAll(t, resp)

	claims, err := h.auth.Parse(context.Background(), tok)
	require.NoError(t, err)
	// The record counts leased uses; once they are given back, the served ones.
	require.NoError(t, h.auth.ReleaseLeases(context.Background()))
	rec, err := h.store.GetToken(context.Background(), claims.ID)
	require.NoError(t, err)
	assert.Equal(t, 3, rec.Uses, "throttled requests cost no use")

	h.clock.Advance(time.Second)
	resp = h.do(req{method: "GET", path: "/packages", token: tok})
	assert.Equal(t, 200, resp.StatusCode)
	readAll(t, resp)

	ups, err := h.store.ListUploads(context.Background())
	require.NoError(t, err)
	require.Len(t, ups, 1)
	assert.Equal(t, storage.OutcomeThrottled, ups[0].Outcome)
}

// Requests are limited per client address, whatever their token; the health probe
// never is.
func TestRequestRatePerAddress(t *testing.T) {
	l := unlimited()
	l.AddressRate = throttle.Rate{PerSecond: 1, Burst: 2}
	h := newHarness(t, harnessOpts{limits: behindProxy(l)})
	for range 2 {
		readAll(t, h.do(req{method: "GET", path: "/tracks", header: from("203.0.113.1")}))
	}
	msg, _ := expectRetry(t, h.do(req{method: "GET", path: "/tracks", header: from("203.0.113.1")}), 429)
	assert.Contains(t, msg, "client address")
	expectRetry(t, h.do(req{method: "PUT", path: "/authenticate", body: loginBody("admin", adminPW), header: from("203.0.113.1")}), 429)
	for range 5 {
		resp := h.do(req{method: "GET", path: "/health", header: from("203.0.113.1")})
		assert.Equal(t, 200, resp.StatusCode, "health checks are exempt")
		readAll(t, resp)
	}
	resp := h.do(req{method: "GET", path: "/tracks", header: from("203.0.113.2")})
	assert.Equal(t, 200, resp.StatusCode)
	readAll(t, resp)
	// One IPv6 subscriber is one /64.
	readAll(t, h.do(req{method: "GET", path: "/tracks", header: from("2001:db8:0:1::1")}))
	readAll(t, h.do(req{method: "GET", path: "/tracks", header: from("2001:db8:0:1::2")}))
	expectRetry(t, h.do(req{method: "GET", path: "/tracks", header: from("2001:db8:0:1::3")}), 429)
}

func TestClientAddress(t *testing.T) {
	lb := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/16")}
	for _, c := range []struct {
		peer, xff string
		trusted   []netip.Prefix
		want      string
	}{
		{"192.0.2.1:5000", "198.51.100.1", nil, "192.0.2.1"},           // no proxy trusted: the header is a claim
		{"192.0.2.1:5000", "198.51.100.1", lb, "192.0.2.1"},            // an untrusted peer's header is ignored
		{"10.0.1.2:5000", "198.51.100.1", lb, "198.51.100.1"},          // the load balancer names the client
		{"10.0.1.2:5000", "6.6.6.6, 198.51.100.1", lb, "198.51.100.1"}, // a client's own entry is not believed
		{"10.0.1.2:5000", "198.51.100.1, 10.0.3.4", lb, "198.51.100.1"},
		{"10.0.1.2:5000", "", lb, "10.0.1.2"},
		{"10.0.1.2:5000", "not-an-address", lb, "10.0.1.2"},
		{"[::ffff:10.0.1.2]:5000", "::ffff:198.51.100.1", lb, "198.51.100.1"},
	} {
		r, _ := http.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.peer
		if c.xff != "" {
			r.Header.Set("X-Forwarded-For", c.xff)
		}
		assert.Equal(t, c.want, clientAddress(r, c.trusted).String(), "%s %q", c.peer, c.xff)
	}
	assert.Equal(t, "2001:db8:0:1::/64", throttleKey(netip.MustParseAddr("2001:db8:0:1:2:3:4:5")))
	assert.Equal(t, "192.0.2.1", throttleKey(netip.MustParseAddr("192.0.2.1")))

	ps, err := ParseTrustedProxies(" 10.0.0.0/8, 192.168.1.1 ,fd00::/8")
	require.NoError(t, err)
	assert.Equal(t, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.1.1/32"), netip.MustParsePrefix("fd00::/8")}, ps)
	_, err = ParseTrustedProxies("10.0.0.0/8,banana")
	assert.ErrorContains(t, err, `"banana" is neither a CIDR prefix nor an IP address`)
}

// rawConn opens a connection to the test server and sends head (request line and
// headers, without the blank line).
func (h *harness) rawConn(head string) net.Conn {
	h.t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(h.srv.URL, "http://"))
	require.NoError(h.t, err)
	h.t.Cleanup(func() { c.Close() })
	_, err = io.WriteString(c, head+"\r\nHost: registry\r\n\r\n")
	require.NoError(h.t, err)
	return c
}

// trickle sends one byte every interval until the server answers or closes, and
// returns the response (nil if the connection just closed) and how long it took.
func trickle(t *testing.T, c net.Conn, interval, limit time.Duration) (*http.Response, time.Duration) {
	t.Helper()
	start := time.Now()
	got := make(chan *http.Response, 1)
	go func() {
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			resp = nil
		} else {
			body, _ := io.ReadAll(resp.Body)
			resp.Body = io.NopCloser(bytes.NewReader(body))
		}
		got <- resp
	}()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case resp := <-got:
			return resp, time.Since(start)
		case <-tick.C:
			if time.Since(start) > limit {
				t.Fatalf("the connection is still open after %s", limit)
			}
			_, _ = c.Write([]byte(" "))
		}
	}
}

// A JSON body sent a byte at a time is cut at BodyTimeout with 408.
func TestSlowJSONBodyIsCut(t *testing.T) {
	l := unlimited()
	l.BodyTimeout = 300 * time.Millisecond
	h := newHarness(t, harnessOpts{limits: &l})
	for path, head := range map[string]string{
		"/authenticate": "PUT /authenticate HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 4096",
		"/users":        "POST /users HTTP/1.1\r\nX-Authorization: " + h.admin() + "\r\nContent-Length: 4096",
	} {
		resp, took := trickle(t, h.rawConn(head), 50*time.Millisecond, 5*time.Second)
		require.NotNil(t, resp, "%s: the server answers before closing", path)
		msg := expectError(t, resp, 408)
		assert.Contains(t, msg, "not received within 300ms")
		assert.True(t, resp.Close, "the connection is closed after the 408")
		assert.Less(t, took, 2*time.Second, "%s: cut at the body deadline", path)
	}
}

// slowMeta makes user operations take delay, giving up when their context ends (as
// the DynamoDB backend does).
type slowMeta struct {
	storage.MetadataStore
	delay time.Duration
}

func (m slowMeta) wait(ctx context.Context) error {
	select {
	case <-time.After(m.delay):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (m slowMeta) CreateUser(ctx context.Context, u storage.User) error {
	if err := m.wait(ctx); err != nil {
		return err
	}
	return m.MetadataStore.CreateUser(ctx, u)
}

func (m slowMeta) ListUsers(ctx context.Context) ([]storage.User, error) {
	if err := m.wait(ctx); err != nil {
		return nil, err
	}
	return m.MetadataStore.ListUsers(ctx)
}

// A request whose work outlasts BodyTimeout after its body (or with none) keeps its
// context: body deadlines bound the client, not the server's own work.
func TestSlowWorkOutlivesTheBodyDeadline(t *testing.T) {
	l := unlimited()
	l.BodyTimeout = 200 * time.Millisecond
	h := newHarness(t, harnessOpts{limits: &l, wrapMeta: func(m storage.MetadataStore) storage.MetadataStore { return slowMeta{m, 600 * time.Millisecond} }})
	tok := h.admin()
	resp := h.do(req{method: "GET", path: "/users", token: tok})
	assert.Equal(t, 200, resp.StatusCode, "%s", readAll(t, resp))
	resp = h.do(req{method: "POST", path: "/users", token: tok, body: strings.NewReader(`{"name":"late","password":"a-long-password"}`)})
	assert.Equal(t, 201, resp.StatusCode, "%s", readAll(t, resp))
}

// slowCommits makes every blob commit take delay.
type slowCommits struct {
	storage.BlobStore
	delay time.Duration
}

type slowWriter struct {
	storage.BlobWriter
	delay time.Duration
}

func (b slowCommits) Create(ctx context.Context, name, version string) (storage.BlobWriter, error) {
	w, err := b.BlobStore.Create(ctx, name, version)
	return slowWriter{w, b.delay}, err
}

func (w slowWriter) Commit(ctx context.Context, d storage.Descriptor) (storage.Blob, error) {
	time.Sleep(w.delay)
	return w.BlobWriter.Commit(ctx, d)
}

// The answer to an upload gets its own ResponseTimeout after the upload's work (a
// large multipart commit can take a while), not one counted from the request's start.
func TestUploadAnswerOutlivesTheResponseTimeout(t *testing.T) {
	l := unlimited()
	l.ResponseTimeout = 300 * time.Millisecond
	h := newHarness(t, harnessOpts{limits: &l, wrapBlobs: func(b storage.BlobStore) storage.BlobStore { return slowCommits{b, 600 * time.Millisecond} }})
	resp := h.upload(h.admin(), "lib", "1", []byte("content"), nil)
	assert.Equal(t, 201, resp.StatusCode, "%s", readAll(t, resp))
	resp = h.upload(h.admin(), "lib", "1", []byte("content"), nil)
	expectError(t, resp, 409)
}

// A JSON body larger than MaxJSONBytes is refused with 413, declared or chunked.
func TestJSONBodyIsCapped(t *testing.T) {
	l := unlimited()
	l.MaxJSONBytes = 100
	h := newHarness(t, harnessOpts{limits: &l})
	big := `{"user":{"name":"admin"},"secret":{"password":"` + strings.Repeat("x", 200) + `"}}`
	expectError(t, h.do(req{method: "PUT", path: "/authenticate", body: strings.NewReader(big)}), 413)
	expectError(t, h.do(req{method: "PUT", path: "/authenticate", body: io.MultiReader(strings.NewReader(big)), contentLength: -1}), 413)
}

// An upload that trickles is cut after about TransferIdleTimeout (its minimum rate
// is not met), with 408 and nothing stored; one that stalls is cut at the idle
// timeout; one that keeps its rate may take much longer than either.
func TestTransferDeadlines(t *testing.T) {
	l := unlimited()
	l.TransferIdleTimeout = 400 * time.Millisecond
	l.TransferMinRate = 64 << 10
	h := newHarness(t, harnessOpts{limits: &l})
	tok := h.admin()

	c := h.rawConn("PUT /packages/slow/1 HTTP/1.1\r\nX-Authorization: " + tok + "\r\nContent-Length: 1048576")
	resp, took := trickle(t, c, 20*time.Millisecond, 5*time.Second)
	require.NotNil(t, resp)
	assert.Contains(t, expectError(t, resp, 408), "upload too slow")
	assert.Less(t, took, 2*time.Second)
	assert.GreaterOrEqual(t, took, 300*time.Millisecond, "not before the grace is used up")

	c = h.rawConn("PUT /packages/stalled/1 HTTP/1.1\r\nX-Authorization: " + tok + "\r\nContent-Length: 1048576")
	_, err := c.Write(make([]byte, 1000))
	require.NoError(t, err)
	resp, took = trickle(t, c, time.Hour, 5*time.Second)
	require.NotNil(t, resp)
	expectError(t, resp, 408)
	assert.Less(t, took, 2*time.Second)
	assert.Empty(t, h.blobFiles(), "nothing of a cut upload is kept")

	// 2 MiB in 16 pieces with pauses: about 1.2 s in all, three times the idle timeout.
	content := randomBytes(t, 2<<20)
	pr, pw := io.Pipe()
	go func() {
		for off := 0; off < len(content); off += len(content) / 16 {
			time.Sleep(75 * time.Millisecond)
			if _, err := pw.Write(content[off : off+len(content)/16]); err != nil {
				return
			}
		}
		pw.Close()
	}()
	start := time.Now()
	resp = h.do(req{method: "PUT", path: "/packages/steady/1", token: tok, body: pr, contentLength: int64(len(content))})
	body := readAll(t, resp)
	require.Equal(t, 201, resp.StatusCode, "%s", body)
	assert.Greater(t, time.Since(start), 2*l.TransferIdleTimeout, "the deadline moves while bytes flow")

	ups, err := h.store.ListUploads(context.Background())
	require.NoError(t, err)
	var outcomes []string
	for _, u := range ups {
		outcomes = append(outcomes, u.Outcome)
	}
	assert.Equal(t, []string{storage.OutcomeTimeout, storage.OutcomeTimeout, storage.OutcomeOK}, outcomes)
}

// A download whose reader stops reading is cut at the idle timeout.
func TestStalledDownloadIsCut(t *testing.T) {
	l := unlimited()
	l.TransferIdleTimeout = 300 * time.Millisecond
	h := newHarness(t, harnessOpts{limits: &l})
	tok := h.admin()
	readAll(t, h.upload(tok, "big", "1", randomBytes(t, 32<<20), nil))

	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		// A small receive window, so the server's writes block soon.
		return rc.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	c, err := d.Dial("tcp", strings.TrimPrefix(h.srv.URL, "http://"))
	require.NoError(t, err)
	defer c.Close()
	_, err = io.WriteString(c, "GET /packages/big/1 HTTP/1.1\r\nHost: registry\r\nX-Authorization: "+tok+"\r\n\r\n")
	require.NoError(t, err)
	start := time.Now()
	require.Eventually(t, func() bool {
		recs, _ := h.store.ListDownloads(context.Background())
		return len(recs) == 1 && recs[0].Outcome == storage.OutcomeError
	}, 10*time.Second, 20*time.Millisecond, "the stalled download is given up")
	assert.Less(t, time.Since(start), 5*time.Second)
}

// Dot segments and empty segments get a plain JSON 400, never the mux's redirect.
func TestDotSegmentsAre400(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	tok := h.admin()
	for _, p := range []string{
		"/packages/lib/../other/1", "/packages/./lib/1", "/./health", "/packages/lib/1/..",
		"/packages/%2e%2e/1", "/packages/lib/%2E", "//packages", "/packages//1",
	} {
		t.Run(p, func(t *testing.T) {
			c := h.rawConn("GET " + p + " HTTP/1.1\r\nX-Authorization: " + tok)
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			require.NoError(t, err)
			assert.Empty(t, resp.Header.Get("Location"))
			assert.Contains(t, expectError(t, resp, 400), "segment")
		})
	}
	// Not canonical, but no dot segment: still never a redirect.
	resp := h.do(req{method: "GET", path: "/packages/", token: tok})
	assert.Empty(t, resp.Header.Get("Location"))
	expectError(t, resp, 404)
}

// The one rule for empty packages: refused with 400 on every upload path.
func TestEmptyPackageIsRefused(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	tok := h.admin()
	assert.Contains(t, expectError(t, h.upload(tok, "lib", "1", nil, nil), 400), "package is empty")
	expectError(t, h.do(req{method: "PUT", path: "/packages/lib/1", token: tok, body: io.MultiReader(), contentLength: -1}), 400)
	assert.Empty(t, h.blobFiles())
	expectError(t, h.do(req{method: "GET", path: "/packages/lib/1", token: tok}), 404)
	body := `{"sha256":"` + sha(nil) + `","size":0}`
	assert.Contains(t, expectError(t, h.do(req{method: "POST", path: "/packages/lib/1/upload-url", token: tok, body: strings.NewReader(body)}), 400), "package is empty")
}

func TestErrorMessagesReadAsWritten(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	tok := h.admin()
	assert.Equal(t, "package hello 7.7.7 not found", expectError(t, h.do(req{method: "GET", path: "/packages/hello/7.7.7", token: tok}), 404))
	assert.Equal(t, "package hello 7.7.7 not found", expectError(t, h.do(req{method: "DELETE", path: "/packages/hello/7.7.7", token: tok}), 404))
	assert.Equal(t, "user ghost not found", expectError(t, h.do(req{method: "DELETE", path: "/users/ghost", token: tok}), 404))

	resp := h.do(req{method: "GET", path: "/packages?name=a%26b%3C", token: tok})
	raw := readAll(t, resp)
	assert.Equal(t, 400, resp.StatusCode)
	assert.Contains(t, string(raw), `'&'`, "JSON is not HTML-escaped")
	assert.NotContains(t, string(raw), `\u0026`)
	var e errorBody
	require.NoError(t, json.Unmarshal(raw, &e))

	assert.Contains(t, expectError(t, h.do(req{method: "PUT", path: "/authenticate", body: loginBody("../admin", "x")}), 400), "user name")
}

// The pacer's budget: the idle timeout at most, less what the transfer is behind the
// minimum rate, never negative, and no overflow for huge transfers at tiny rates.
func TestPacerBudget(t *testing.T) {
	now := time.Unix(1000, 0)
	p := &pacer{idle: 30 * time.Second, minRate: 1000}
	assert.Equal(t, now.Add(30*time.Second), p.deadline(now), "the grace")
	p.waited = 20 * time.Second
	assert.Equal(t, now.Add(10*time.Second), p.deadline(now), "20 s spent, nothing sent")
	p.bytes = 5000
	assert.Equal(t, now.Add(15*time.Second), p.deadline(now), "5000 bytes earned 5 s")
	p.waited = time.Hour
	assert.Equal(t, now, p.deadline(now), "far behind: no time left")
	p.bytes, p.minRate = 1<<62, 1
	assert.Equal(t, now.Add(30*time.Second), p.deadline(now), "far ahead: the idle timeout")
	assert.Equal(t, now.Add(30*time.Second), (&pacer{idle: 30 * time.Second, waited: time.Hour}).deadline(now), "no minimum rate")
}
