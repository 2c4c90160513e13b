// Package client is a typed Go client for the ACME Trustworthy Module Registry API:
// log in, push packages with their SHA-256 declared, pull them verified while
// streaming (a mismatch leaves no file), presigned transfers, listing with paging,
// deletion, users and Terraform modules.
//
//	c, err := client.New("http://127.0.0.1:8080", nil)
//	if _, err := c.Login(ctx, "ci", password); err != nil { ... }
//	pkg, err := c.PushFile(ctx, "hello", "1.0.0", "hello.tgz", nil)
//	res, err := c.Pull(ctx, "hello", "1.0.0", "out/hello.tgz", &client.DownloadOptions{SHA256: pkg.SHA256})
//
// Errors of the registry are *APIError (errors.Is matches ErrNotFound, ErrForbidden,
// ErrConflict, ...); bytes that do not match their digest give *IntegrityError
// (ErrIntegrity). Metadata calls time out after Options.Timeout; transfers have no
// overall limit but fail when no byte moves for Options.StallTimeout. Answers 429
// and 503 with Retry-After are retried when the request can be sent again. The
// client logs nothing and never puts its token or a password in an error.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Defaults of Options.
const (
	DefaultTimeout      = 30 * time.Second
	DefaultStallTimeout = 2 * time.Minute
	DefaultMaxRetries   = 3
	// MaxRetryWait caps one wait for Retry-After; a registry asking for longer
	// gets its error returned instead.
	MaxRetryWait = 30 * time.Second
)

// Response size bounds: JSON answers are small, error bodies smaller.
const (
	maxJSONBytes  = 8 << 20
	maxErrorBytes = 64 << 10
)

// Options configures a Client. The zero value takes every default.
type Options struct {
	// Token is a token from an earlier Login ("bearer <jwt>" or the bare JWT).
	Token string
	// HTTPClient sends the requests. Default: a client with dial, TLS handshake
	// and idle timeouts and no overall timeout (transfers can be long). Its
	// redirect policy is replaced for API calls: the registry never redirects, so a
	// redirect (which could carry the token elsewhere) is an error.
	HTTPClient *http.Client
	// Timeout bounds each metadata request (login, list, users, URLs). Default
	// DefaultTimeout.
	Timeout time.Duration
	// StallTimeout aborts a transfer when no byte has moved for this long. Default
	// DefaultStallTimeout.
	StallTimeout time.Duration
	// MaxRetries is how often an answer 429 or 503 with Retry-After is retried.
	// Default DefaultMaxRetries; negative: never.
	MaxRetries int
	// UserAgent is sent as User-Agent. Default "acme-registry-client".
	UserAgent string
}

// Client talks to one registry. It is safe for concurrent use.
type Client struct {
	base *url.URL
	api  *http.Client // no redirects
	raw  *http.Client // presigned URLs: the caller's redirect policy, no credentials
	opts Options

	mu    sync.RWMutex
	token string
}

// New returns a client of the registry at baseURL (http or https, such as
// http://127.0.0.1:8080 or https://registry.acme.internal/prefix).
func New(baseURL string, opts *Options) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	switch {
	case err != nil:
		return nil, fmt.Errorf("registry URL %q: %v", baseURL, err)
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("registry URL %q must start with http:// or https://", baseURL)
	case u.Host == "":
		return nil, fmt.Errorf("registry URL %q has no host", baseURL)
	case u.User != nil:
		return nil, fmt.Errorf("registry URL must not carry credentials; log in instead")
	case u.RawQuery != "" || u.Fragment != "":
		return nil, fmt.Errorf("registry URL %q must not have a query or fragment", baseURL)
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.StallTimeout <= 0 {
		o.StallTimeout = DefaultStallTimeout
	}
	if o.MaxRetries == 0 {
		o.MaxRetries = DefaultMaxRetries
	}
	if o.UserAgent == "" {
		o.UserAgent = "acme-registry-client"
	}
	raw := o.HTTPClient
	if raw == nil {
		raw = &http.Client{Transport: defaultTransport()}
	}
	api := *raw
	api.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c := &Client{base: u, api: &api, raw: raw, opts: o}
	c.SetToken(o.Token)
	return c, nil
}

func defaultTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = 10 * time.Second
	t.IdleConnTimeout = 90 * time.Second
	t.ExpectContinueTimeout = 5 * time.Second
	t.MaxIdleConnsPerHost = 16
	return t
}

// BaseURL is the registry's URL as given to New, without a trailing slash.
func (c *Client) BaseURL() string { return c.base.String() }

// String describes the client without its token.
func (c *Client) String() string { return "registry client for " + c.base.String() }

// GoString keeps the token out of %#v.
func (c *Client) GoString() string { return c.String() }

// Token is the current token, "bearer <jwt>", or "" before Login.
func (c *Client) Token() string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.token
}

// SetToken replaces the token (a bare JWT gets the "bearer " scheme).
func (c *Client) SetToken(token string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.token = NormalizeToken(token)
}

// NormalizeToken returns token as "bearer <jwt>", whether or not it carried the
// scheme; "" stays "".
func NormalizeToken(token string) string {
	token = strings.TrimSpace(token)
	if token == "" {
		return ""
	}
	if scheme, rest, ok := strings.Cut(token, " "); ok && strings.EqualFold(scheme, "bearer") {
		return "bearer " + strings.TrimSpace(rest)
	}
	return "bearer " + token
}

// request is one API call.
type request struct {
	method, path string
	query        url.Values
	header       http.Header
	json         any  // marshalled as the body when non-nil
	auth         bool // sends the token; fails with ErrNotLoggedIn without one
	want         int  // the success status
	// body streams the request body; rewind (nil: none) makes it sendable again for
	// a retry. size < 0 is unknown (chunked).
	body   io.Reader
	size   int64
	rewind func() error
	// transfer: bounded by StallTimeout (with progress) instead of Timeout.
	transfer bool
	// target, when set, is a URL outside the API (a presigned URL): it is sent
	// without the token, following the HTTP client's redirect policy, and errors
	// name it without its query.
	target *url.URL
}

// do sends req, retrying 429/503 answers with Retry-After, and returns the response
// of status req.want (the caller closes its body, then calls the returned cancel)
// or an error.
func (c *Client) do(ctx context.Context, req request) (*http.Response, context.CancelFunc, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	var payload []byte
	if req.json != nil {
		b, err := json.Marshal(req.json)
		if err != nil {
			return nil, nil, err
		}
		payload = b
	}
	token := ""
	if req.auth {
		if token = c.Token(); token == "" {
			return nil, nil, fmt.Errorf("%s %s: %w: log in first", req.method, req.path, ErrNotLoggedIn)
		}
	}
	u, httpc := *c.base, c.api
	if req.target != nil {
		u, httpc = *req.target, c.raw
		req.path = (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
	} else {
		u.Path = c.base.Path + req.path
		u.RawPath = ""
		u.RawQuery = req.query.Encode()
	}
	for attempt := 0; ; attempt++ {
		actx, cancel, watchdog := c.attemptContext(ctx, req.transfer)
		var body io.Reader
		switch {
		case payload != nil:
			body = bytes.NewReader(payload)
		case req.body != nil:
			body = req.body
			if watchdog != nil {
				body = &progressReader{r: req.body, touch: watchdog.touch}
			}
		}
		hr, err := http.NewRequestWithContext(actx, req.method, u.String(), body)
		if err != nil {
			cancel()
			return nil, nil, err
		}
		if req.body != nil && payload == nil {
			hr.ContentLength = req.size
			if req.size == 0 {
				hr.Body = http.NoBody
			}
		}
		for k, vs := range req.header {
			hr.Header[k] = vs
		}
		if payload != nil {
			hr.Header.Set("Content-Type", "application/json")
		}
		hr.Header.Set("User-Agent", c.opts.UserAgent)
		if token != "" {
			hr.Header.Set("X-Authorization", token)
		}
		resp, err := httpc.Do(hr)
		if err != nil {
			cancel()
			return nil, nil, transportError(req.method, req.path, err, watchdog)
		}
		if resp.StatusCode == req.want {
			if watchdog != nil {
				resp.Body = &progressReader{r: resp.Body, touch: watchdog.touch, closer: resp.Body}
			}
			return resp, cancel, nil
		}
		apiErr := readAPIError(req.method, req.path, resp)
		cancel()
		retryable := (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) &&
			apiErr.RetryAfter > 0 && apiErr.RetryAfter <= MaxRetryWait && attempt < c.opts.MaxRetries
		if retryable && req.body != nil && payload == nil {
			retryable = req.rewind != nil && req.rewind() == nil
		}
		if !retryable {
			return nil, nil, apiErr
		}
		t := time.NewTimer(apiErr.RetryAfter)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, nil, ctx.Err()
		case <-t.C:
		}
	}
}

// attemptContext bounds one attempt: by Timeout, or for transfers by a watchdog
// that cancels when no byte moved for StallTimeout.
func (c *Client) attemptContext(ctx context.Context, transfer bool) (context.Context, context.CancelFunc, *watchdog) {
	if !transfer {
		actx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
		return actx, cancel, nil
	}
	actx, cancel := context.WithCancel(ctx)
	w := &watchdog{stall: c.opts.StallTimeout}
	w.timer = time.AfterFunc(w.stall, func() { w.fired.Store(true); cancel() })
	return actx, func() { w.timer.Stop(); cancel() }, w
}

// doJSON sends req and decodes the answer into out (nil: discard).
func (c *Client) doJSON(ctx context.Context, req request, out any) error {
	resp, cancel, err := c.do(ctx, req)
	if err != nil {
		return err
	}
	defer cancel()
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxJSONBytes))
		return nil
	}
	dec := json.NewDecoder(io.LimitReader(resp.Body, maxJSONBytes))
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("%s %s: reading the answer: %w", req.method, req.path, err)
	}
	return nil
}

// readAPIError turns an error answer into an *APIError, reading at most
// maxErrorBytes of its body.
func readAPIError(method, path string, resp *http.Response) *APIError {
	defer resp.Body.Close()
	e := &APIError{Method: method, Path: path, Status: resp.StatusCode, RequestID: resp.Header.Get("X-Request-ID"),
		RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBytes))
	var body struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(b, &body) == nil && body.Error != "" {
		e.Message = body.Error
	} else {
		e.Message = strings.TrimSpace(string(b))
		if len(e.Message) > 200 {
			e.Message = e.Message[:200] + "..."
		}
	}
	return e
}

// parseRetryAfter reads delay-seconds or an HTTP date; 0 when absent or invalid.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil {
		if n < 0 {
			return 0
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now).Round(time.Second)
	}
	return 0
}

// transportError describes a failed exchange without the URL's query (presigned
// URLs carry signatures there) and says when the stall watchdog ended it.
func transportError(method, path string, err error, w *watchdog) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if w != nil && w.fired.Load() {
		return fmt.Errorf("%s %s: no data moved for %s: %w", method, path, w.stall, context.DeadlineExceeded)
	}
	return fmt.Errorf("%s %s: %w", method, path, err)
}

// pathOf escapes each segment.
func pathOf(segments ...string) string {
	var b strings.Builder
	for _, s := range segments {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	return b.String()
}

// required fails when any value is empty, naming it.
func required(pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if strings.TrimSpace(pairs[i+1]) == "" {
			return fmt.Errorf("%s must not be empty", pairs[i])
		}
	}
	return nil
}

// Health is the registry's /health answer.
type Health struct {
	Status     string                       `json:"status"`
	Components map[string]map[string]string `json:"components"`
}

// Health reads the registry's component status; a degraded registry (503) is an
// *APIError.
func (c *Client) Health(ctx context.Context) (Health, error) {
	var h Health
	err := c.doJSON(ctx, request{method: http.MethodGet, path: "/health", want: http.StatusOK}, &h)
	return h, err
}

type loginBody struct {
	User struct {
		Name string `json:"name"`
	} `json:"user"`
	Secret struct {
		Password string `json:"password"`
	} `json:"secret"`
}

// Login exchanges a user's password for a token, which the client then uses, and
// returns it ("bearer <jwt>"). Wrong credentials are ErrUnauthorized.
func (c *Client) Login(ctx context.Context, user, password string) (string, error) {
	if err := required("user name", user, "password", password); err != nil {
		return "", err
	}
	var body loginBody
	body.User.Name, body.Secret.Password = user, password
	var token string
	if err := c.doJSON(ctx, request{method: http.MethodPut, path: "/authenticate", json: body, want: http.StatusOK}, &token); err != nil {
		return "", err
	}
	if token == "" {
		return "", fmt.Errorf("PUT /authenticate: the registry answered no token")
	}
	c.SetToken(token)
	return c.Token(), nil
}
