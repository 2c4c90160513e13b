// Package policy proves the registry's least privilege by evaluation, not by the shape of
// its JSON: it records every AWS call the runtime makes (a recording proxy in front of the
// emulator), turns each into the IAM request AWS would authorize - principal, action,
// resource ARN and the context keys AWS sets, plus the KMS calls S3, DynamoDB and Secrets
// Manager make on the caller's behalf - and evaluates them, with the calls AWS services
// make for the stack and a matrix of calls that must be refused, against the identity,
// key, bucket and trust policies read back from the deployment, with
// @cloud-copilot/iam-simulate (tools/iam-simulate.mjs).
package policy

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// maxRecordedBody bounds what the recorder keeps of a request body: only JSON-protocol
// bodies (DynamoDB, Secrets Manager) name resources, and they are small.
const maxRecordedBody = 1 << 20

// Request is one recorded HTTP request to AWS.
type Request struct {
	Method string
	URL    *url.URL
	Header http.Header
	// Body is the request body of JSON-protocol calls (empty for S3).
	Body []byte
}

// Service is the SigV4 signing name of the request ("s3", "dynamodb", "secretsmanager",
// ...), from its Authorization header or, for a presigned URL, its X-Amz-Credential.
func (r Request) Service() string {
	cred := r.URL.Query().Get("X-Amz-Credential")
	if auth := r.Header.Get("Authorization"); cred == "" && auth != "" {
		if _, after, ok := strings.Cut(auth, "Credential="); ok {
			cred, _, _ = strings.Cut(after, ",")
		}
	}
	// <access key>/<date>/<region>/<service>/aws4_request
	parts := strings.Split(cred, "/")
	if len(parts) != 5 {
		return ""
	}
	return parts[3]
}

// Presigned reports whether the request was sent to a presigned URL.
func (r Request) Presigned() bool { return r.URL.Query().Has("X-Amz-Signature") }

// Recorder is a reverse proxy in front of the emulator that keeps every request it
// forwards.
type Recorder struct {
	server *httptest.Server
	mu     sync.Mutex
	reqs   []Request
}

// Record starts a recorder forwarding to target (the emulator's endpoint) and stops it
// when the test ends.
func Record(t testing.TB, target string) *Recorder {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatalf("policy.Record: %v", err)
	}
	rec := &Recorder{}
	proxy := httputil.NewSingleHostReverseProxy(u)
	rec.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		kept := Request{Method: r.Method, URL: cloneURL(r.URL), Header: r.Header.Clone()}
		if isJSONProtocol(r) {
			body, err := io.ReadAll(io.LimitReader(r.Body, maxRecordedBody))
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			kept.Body = body
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, kept)
		rec.mu.Unlock()
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(rec.server.Close)
	return rec
}

// Endpoint is the recorder's URL, to give the runtime as its AWS endpoint.
func (r *Recorder) Endpoint() string { return r.server.URL }

// Requests returns the requests recorded so far.
func (r *Recorder) Requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Request(nil), r.reqs...)
}

func isJSONProtocol(r *http.Request) bool {
	return r.Header.Get("X-Amz-Target") != "" || strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-amz-json")
}

func cloneURL(u *url.URL) *url.URL {
	c := *u
	return &c
}
