package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/runtime/auth"
	"github.com/acme/module-registry/runtime/internal/syncbuf"
	"github.com/acme/module-registry/runtime/secrets"
	"github.com/acme/module-registry/runtime/storage"
	"github.com/acme/module-registry/runtime/storage/embedded"
	"github.com/acme/module-registry/runtime/throttle"
	"github.com/acme/module-registry/runtime/validator"
)

var (
	fastArgon2 = auth.Argon2Params{Time: 1, MemKiB: 64, Threads: 1}
	testKey    = []byte(strings.Repeat("k", 32))
)

const adminPW = "admin-password-123"

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type harness struct {
	t      *testing.T
	dir    string
	store  *embedded.Store
	auth   *auth.Service
	srv    *httptest.Server
	logs   *syncbuf.Buffer
	clock  *clock
	client *http.Client
	opts   harnessOpts
}

type harnessOpts struct {
	maxUses   int
	maxUpload int64
	noAuth    bool
	dir       string
	// limits replaces the harness's limits: unlimited request rates (so the tests of
	// other properties never meet a 429) and the defaults for everything else.
	limits *Limits
	// passwordChecks replaces the password-check gate.
	passwordChecks *throttle.Gate
	// wrapMeta and wrapBlobs, when set, wrap the stores the server uses.
	wrapMeta  func(storage.MetadataStore) storage.MetadataStore
	wrapBlobs func(storage.BlobStore) storage.BlobStore
	// validators configures the validator sandbox (default: validator.Config{});
	// noValidators runs the server without one.
	validators   *validator.Config
	noValidators bool
}

func newHarness(t *testing.T, o harnessOpts) *harness {
	t.Helper()
	h := &harness{t: t, dir: o.dir, logs: &syncbuf.Buffer{}, clock: &clock{t: time.Now()}, opts: o}
	if h.dir == "" {
		h.dir = t.TempDir()
	}
	h.start()
	t.Cleanup(h.stop)
	return h
}

func (h *harness) start() {
	t := h.t
	st, err := embedded.Open(h.dir)
	require.NoError(t, err)
	h.store = st
	cfg := Config{
		Backend:        st.Backend(),
		Logger:         slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		MaxUploadBytes: h.opts.maxUpload,
		Now:            h.clock.Now,
		Limits:         Limits{TokenRate: throttle.Unlimited, AddressRate: throttle.Unlimited},
	}
	if h.opts.limits != nil {
		cfg.Limits = *h.opts.limits
	}
	if h.opts.wrapMeta != nil {
		cfg.Backend.Meta = h.opts.wrapMeta(st)
	}
	if h.opts.wrapBlobs != nil {
		cfg.Backend.Blobs = h.opts.wrapBlobs(st)
	}
	if !h.opts.noValidators {
		vc := validator.Config{}
		if h.opts.validators != nil {
			vc = *h.opts.validators
		}
		pool, err := validator.New(vc)
		require.NoError(t, err)
		cfg.Validators = pool
	}
	if !h.opts.noAuth {
		svc, err := auth.New(st, secrets.Static{Current: testKey}, auth.Options{MaxUses: h.opts.maxUses, Argon2: fastArgon2, Now: h.clock.Now,
			PasswordChecks: h.opts.passwordChecks})
		require.NoError(t, err)
		h.auth = svc
		cfg.Auth = svc
		hash, err := svc.HashPassword(adminPW)
		require.NoError(t, err)
		// Created once: a restart keeps the account, and so its tokens.
		if err := st.CreateUser(context.Background(), storage.User{Name: "admin", PasswordHash: hash, Permissions: []string{storage.PermAdmin}}); !errors.Is(err, storage.ErrExists) {
			require.NoError(t, err)
		}
	}
	srv := New(cfg)
	h.srv = httptest.NewUnstartedServer(srv.Handler())
	// As the registry command configures its server: starting values the handler
	// replaces per request.
	h.srv.Config.ReadTimeout, h.srv.Config.WriteTimeout = srv.cfg.BodyTimeout, srv.cfg.ResponseTimeout
	h.srv.Start()
	h.client = &http.Client{Transport: &http.Transport{ExpectContinueTimeout: 30 * time.Second, MaxIdleConnsPerHost: 100}}
}

func (h *harness) stop() {
	if h.srv != nil {
		h.srv.Close()
		h.srv = nil
		if h.auth != nil {
			// As the registry does on shutdown: unused leased uses go back.
			require.NoError(h.t, h.auth.ReleaseLeases(context.Background()))
		}
		h.store.Close()
	}
}

// restart simulates a process restart on the same data directory.
func (h *harness) restart() {
	h.stop()
	h.start()
}

type req struct {
	method, path, token string
	body                io.Reader
	header              map[string]string
	contentLength       int64
}

func (h *harness) do(r req) *http.Response {
	h.t.Helper()
	hr, err := http.NewRequest(r.method, h.srv.URL+r.path, r.body)
	require.NoError(h.t, err)
	if r.token != "" {
		hr.Header.Set("X-Authorization", r.token)
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	if r.contentLength != 0 {
		hr.ContentLength = r.contentLength
	}
	resp, err := h.client.Do(hr)
	require.NoError(h.t, err)
	return resp
}

func readAll(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return b
}

// expectError asserts status and the {"error","status"} body.
func expectError(t *testing.T, resp *http.Response, status int) string {
	t.Helper()
	body := readAll(t, resp)
	require.Equal(t, status, resp.StatusCode, "body: %s", body)
	var e struct {
		Error  string `json:"error"`
		Status int    `json:"status"`
	}
	require.NoError(t, json.Unmarshal(body, &e), "error body must be JSON: %s", body)
	require.Equal(t, status, e.Status)
	require.NotEmpty(t, e.Error)
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	return e.Error
}

func (h *harness) login(name, pw string) string {
	h.t.Helper()
	body := `{"user":{"name":` + jsonStr(name) + `,"is_admin":false},"secret":{"password":` + jsonStr(pw) + `}}`
	resp := h.do(req{method: "PUT", path: "/authenticate", body: strings.NewReader(body)})
	b := readAll(h.t, resp)
	require.Equal(h.t, 200, resp.StatusCode, "%s", b)
	var tok string
	require.NoError(h.t, json.Unmarshal(b, &tok))
	return tok
}

func jsonStr(s string) string { b, _ := json.Marshal(s); return string(b) }

func (h *harness) admin() string { return h.login("admin", adminPW) }

// user creates a user with perms through the API and returns its token.
func (h *harness) user(name string, perms ...string) string {
	h.t.Helper()
	pw := "password-of-" + name
	b, _ := json.Marshal(map[string]any{"name": name, "password": pw, "permissions": perms})
	resp := h.do(req{method: "POST", path: "/users", token: h.admin(), body: bytes.NewReader(b)})
	body := readAll(h.t, resp)
	require.Equal(h.t, 201, resp.StatusCode, "%s", body)
	return h.login(name, pw)
}

func (h *harness) upload(tok, name, version string, content []byte, hdr map[string]string) *http.Response {
	h.t.Helper()
	return h.do(req{method: "PUT", path: "/packages/" + name + "/" + version, token: tok, body: bytes.NewReader(content), header: hdr})
}

func (h *harness) blobFiles() []string {
	h.t.Helper()
	var out []string
	for _, sub := range []string{"blobs", "tmp"} {
		entries, err := os.ReadDir(filepath.Join(h.dir, sub))
		require.NoError(h.t, err)
		for _, e := range entries {
			out = append(out, sub+"/"+e.Name())
		}
	}
	return out
}
