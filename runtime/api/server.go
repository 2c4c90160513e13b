// Package api is the registry's HTTP interface: routing, authentication
// middleware and the package, user and service endpoints. Errors from every
// handler go through writeError, the one mapping from errors to statuses.
package api

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/acme/module-registry/runtime/auth"
	"github.com/acme/module-registry/runtime/contract"
	"github.com/acme/module-registry/runtime/storage"
	"github.com/acme/module-registry/runtime/validator"
)

// DefaultMaxUploadBytes is the default upload size limit (5 GiB).
const DefaultMaxUploadBytes int64 = 5 << 30

//go:embed openapi.yaml
var openAPIDoc []byte

// OpenAPI returns the OpenAPI 3 document describing the API.
func OpenAPI() []byte { return openAPIDoc }

// Config wires a Server.
type Config struct {
	Backend storage.Backend
	// Auth authenticates users and tokens. Nil means authentication is not
	// configured: /authenticate and all protected endpoints answer 501.
	Auth *auth.Service
	// Logger receives JSON request logs. Default slog.Default().
	Logger *slog.Logger
	// MaxUploadBytes caps a package body. Default DefaultMaxUploadBytes.
	MaxUploadBytes int64
	// Now is the clock for records. Default time.Now.
	Now func() time.Time
	// PresignTTL is the lifetime of presigned URLs. Default and maximum
	// MaxPresignTTL.
	PresignTTL time.Duration
	// Limits are the deadlines and throttles (limits.go); zero fields take defaults.
	Limits
	// Validators runs the validators attached to package versions. Nil: the validator
	// routes answer 501, and a download of a version that has one is refused.
	Validators *validator.Pool
	// ValidatorMetrics names the namespace and Service dimension of the validator runs'
	// metrics. Default contract.MetricsNamespace and contract.DefaultServiceName.
	ValidatorMetrics validator.Metrics
}

// MaxPresignTTL caps the lifetime of presigned URLs (5 minutes).
const MaxPresignTTL = 300 * time.Second

// Server serves the registry API.
type Server struct {
	cfg     Config
	mux     *http.ServeMux
	handler http.Handler
	guards  *guards
}

// Route is one registered method + path pattern.
type Route struct {
	Method, Path string
	h            http.HandlerFunc
}

// New builds a Server.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxUploadBytes <= 0 {
		cfg.MaxUploadBytes = DefaultMaxUploadBytes
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.PresignTTL <= 0 || cfg.PresignTTL > MaxPresignTTL {
		cfg.PresignTTL = MaxPresignTTL
	}
	cfg.Limits = cfg.Limits.withDefaults()
	if cfg.ValidatorMetrics.Namespace == "" {
		cfg.ValidatorMetrics.Namespace = contract.MetricsNamespace
	}
	if cfg.ValidatorMetrics.Service == "" {
		cfg.ValidatorMetrics.Service = contract.DefaultServiceName
	}
	s := &Server{cfg: cfg, mux: http.NewServeMux(), guards: newGuards(cfg.Limits, cfg.Now)}
	for _, rt := range s.Routes() {
		s.mux.HandleFunc(rt.Method+" "+rt.Path, rt.h)
	}
	s.handler = s.withRequestContext(http.HandlerFunc(s.dispatch))
	return s
}

// Routes lists every endpoint (the OpenAPI document must match it).
func (s *Server) Routes() []Route {
	return []Route{
		{"GET", contract.HealthPath, s.handleHealth},
		{"GET", "/tracks", s.handleTracks},
		{"GET", "/openapi.yaml", s.handleOpenAPI},
		{"PUT", "/authenticate", s.handleAuthenticate},
		{"GET", "/packages", s.handleListPackages},
		{"PUT", "/packages/{name}/{version}", s.handleUpload},
		{"GET", "/packages/{name}/{version}", s.handleDownload},
		{"DELETE", "/packages/{name}/{version}", s.handleDeletePackage},
		{"GET", "/packages/{name}/{version}/download-url", s.handleDownloadURL},
		{"POST", "/packages/{name}/{version}/upload-url", s.handleUploadURL},
		{"POST", "/packages/{name}/{version}/commit", s.handleCommitUpload},
		{"PUT", "/packages/{name}/{version}/validator", s.handlePutValidator},
		{"GET", "/packages/{name}/{version}/validator", s.handleGetValidator},
		{"DELETE", "/packages/{name}/{version}/validator", s.handleDeleteValidator},
		{"GET", "/users", s.handleListUsers},
		{"POST", "/users", s.handleCreateUser},
		{"DELETE", "/users/{name}", s.handleDeleteUser},
		{"PATCH", "/users/{name}", s.handleUpdateUser},
		{"GET", "/.well-known/terraform.json", s.handleTerraformDiscovery},
		{"GET", ModulesPath + "{namespace}/{name}/{system}/versions", s.handleModuleVersions},
		{"GET", ModulesPath + "{namespace}/{name}/{system}/{version}/download", s.handleModuleDownload},
		{"GET", ModulesPath + "{namespace}/{name}/{system}/{version}/archive.tar.gz", s.handleModuleArchive},
	}
}

// Handler returns the root handler with logging and request IDs.
func (s *Server) Handler() http.Handler { return s.handler }

// dispatch routes the request; the mux's own plain-text 404/405 answers are
// replaced by the JSON error body, and so are its redirects (to a cleaned path):
// a path with "." or ".." segments is refused rather than resolved.
func (s *Server) dispatch(w http.ResponseWriter, r *http.Request) {
	if err := checkSegments(r.URL.EscapedPath()); err != nil {
		writeError(w, r, err)
		return
	}
	h, pattern := s.mux.Handler(r)
	if pattern != "" {
		s.mux.ServeHTTP(w, r)
		return
	}
	sc := &statusCapture{header: w.Header()}
	h.ServeHTTP(sc, r)
	status := sc.status
	if status != http.StatusMethodNotAllowed {
		status = http.StatusNotFound
	}
	msg := "no such endpoint"
	if status == http.StatusMethodNotAllowed {
		msg = "method " + r.Method + " not allowed on " + r.URL.Path
	}
	writeError(w, r, errorf(status, "%s", msg))
}

// checkSegments refuses a path with "." or ".." segments (also percent-encoded) or
// empty ones: the mux would answer those with a redirect to another path.
func checkSegments(escaped string) error {
	segs := strings.Split(escaped, "/")
	for i, seg := range segs[1:] {
		dec, err := url.PathUnescape(seg)
		if err != nil {
			return errorf(http.StatusBadRequest, "path %q is not validly escaped", escaped)
		}
		switch {
		case dec == "." || dec == "..":
			return errorf(http.StatusBadRequest, "path %q has a %q segment; dot segments are not resolved", escaped, dec)
		case dec == "" && i+2 < len(segs):
			return errorf(http.StatusBadRequest, "path %q has an empty segment", escaped)
		}
	}
	return nil
}

type statusCapture struct {
	header http.Header
	status int
}

func (c *statusCapture) Header() http.Header         { return c.header }
func (c *statusCapture) Write(p []byte) (int, error) { return len(p), nil }
func (c *statusCapture) WriteHeader(code int)        { c.status = code }

// ---- request context: IDs, logging, caller identity ----

type ctxKey int

const (
	keyLogger ctxKey = iota
	keyInfo
)

type reqInfo struct {
	user    string
	client  netip.Addr // the client's address (clientAddress)
	conn    conn       // the request's connection deadlines
	maxJSON int64      // Limits.MaxJSONBytes
}

func loggerFrom(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(keyLogger).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}

func infoFrom(ctx context.Context) *reqInfo {
	if i, ok := ctx.Value(keyInfo).(*reqInfo); ok {
		return i
	}
	return &reqInfo{}
}

var requestIDRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

func newID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// withRequestContext assigns a request ID (an incoming X-Request-ID if it is
// well-formed), echoes it, puts a logger carrying it into the context and
// writes one access log line per request. Credentials are never logged.
func (s *Server) withRequestContext(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-ID")
		if !requestIDRE.MatchString(id) {
			id = newID()
		}
		w.Header().Set("X-Request-ID", id)
		log := s.cfg.Logger.With("request_id", id)
		info := &reqInfo{client: clientAddress(r, s.cfg.TrustedProxies), conn: conn{rc: http.NewResponseController(w)}, maxJSON: s.cfg.MaxJSONBytes}
		r = r.WithContext(context.WithValue(context.WithValue(r.Context(), keyLogger, log), keyInfo, info))
		s.startDeadlines(r, info.conn)
		sw := &statusWriter{ResponseWriter: w}
		aborted := true
		defer func() {
			if !log.Enabled(r.Context(), slog.LevelInfo) {
				return // not written: not worth building
			}
			attrs := []any{
				"method", r.Method, "path", r.URL.Path, "status", sw.status,
				"bytes", sw.bytes, "duration_ms", float64(time.Since(start).Microseconds()) / 1000,
				"remote", clientIP(r),
			}
			if info.user != "" {
				attrs = append(attrs, "user", info.user)
			}
			if aborted {
				attrs = append(attrs, "aborted", true)
			}
			log.Info("request", attrs...)
		}()
		if r.URL.Path != contract.HealthPath { // the load balancer's probe is never refused
			if err := s.guards.addresses.Allow(throttleKey(info.client)); err != nil {
				writeError(sw, r, err)
				aborted = false
				return
			}
		}
		next.ServeHTTP(sw, r)
		aborted = false
	})
}

// startDeadlines gives the request's body BodyTimeout to arrive and its response
// ResponseTimeout to be written; transfers replace them (deadline.go).
func (s *Server) startDeadlines(r *http.Request, c conn) {
	now := time.Now()
	c.writeBy(now.Add(s.cfg.ResponseTimeout))
	if r.Body == nil || r.Body == http.NoBody {
		// Nothing to wait for. The server is already reading ahead on the connection
		// (to notice a client going away); a read deadline set now would cancel the
		// request's context when it expired.
		return
	}
	c.readBy(now.Add(s.cfg.BodyTimeout))
	r.Body = &timedBody{ReadCloser: r.Body, conn: c, within: s.cfg.BodyTimeout}
}

// clientIP is the client's address as logged and recorded.
func clientIP(r *http.Request) string {
	if a := infoFrom(r.Context()).client; a.IsValid() {
		return a.String()
	}
	return r.RemoteAddr
}

// authenticate resolves the caller from X-Authorization (or Authorization)
// and consumes one token use.
func (s *Server) authenticate(r *http.Request) (auth.Principal, error) {
	if s.cfg.Auth == nil {
		return auth.Principal{}, errNotConfigured
	}
	h := r.Header.Get("X-Authorization")
	if h == "" {
		h = r.Header.Get("Authorization")
	}
	claims, err := s.cfg.Auth.Parse(r.Context(), h)
	if err != nil {
		return auth.Principal{}, err
	}
	// Throttled before the use is counted: a refused request costs no use.
	if err := s.guards.tokens.Allow(claims.ID); err != nil {
		return auth.Principal{}, err
	}
	p, err := s.cfg.Auth.Use(r.Context(), claims)
	if err == nil {
		infoFrom(r.Context()).user = p.User.Name
	}
	return p, err
}

// authorize authenticates and checks perm.
func (s *Server) authorize(r *http.Request, perm string) (auth.Principal, error) {
	p, err := s.authenticate(r)
	if err != nil {
		return p, err
	}
	return p, p.Require(perm)
}
