package awsstore_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/runtime/storage"
	"github.com/acme/module-registry/runtime/storage/awsstore"
	"github.com/acme/module-registry/runtime/storage/awsstore/awsstoretest"
)

// op names the AWS operation of a request: "dynamodb:PutItem",
// "s3:UploadPart", "s3:CompleteMultipartUpload", ...
func op(r *http.Request) string {
	if t := r.Header.Get("X-Amz-Target"); t != "" {
		return "dynamodb:" + t[strings.LastIndex(t, ".")+1:]
	}
	q := r.URL.Query()
	switch {
	case r.Method == "PUT" && q.Has("partNumber"):
		return "s3:UploadPart"
	case r.Method == "POST" && q.Has("uploads"):
		return "s3:CreateMultipartUpload"
	case r.Method == "POST" && q.Has("uploadId"):
		return "s3:CompleteMultipartUpload"
	case r.Method == "DELETE" && q.Has("uploadId"):
		return "s3:AbortMultipartUpload"
	case r.Method == "PUT":
		return "s3:PutObject"
	case r.Method == "DELETE":
		return "s3:DeleteObject"
	}
	return "s3:" + r.Method
}

// bodyHas reports whether the request body contains s (restoring the body).
func bodyHas(r *http.Request, s string) bool {
	if r.Body == nil {
		return false
	}
	b, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(b))
	return bytes.Contains(b, []byte(s))
}

func serverError(r *http.Request) *http.Response {
	body := `<Error><Code>InternalError</Code><Message>injected</Message></Error>`
	ct := "application/xml"
	if r.Header.Get("X-Amz-Target") != "" {
		body, ct = `{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"injected"}`, "application/x-amz-json-1.0"
	}
	return &http.Response{StatusCode: 500, Status: "500 Internal Server Error", Header: http.Header{"Content-Type": {ct}},
		Body: io.NopCloser(strings.NewReader(body)), Request: r, ContentLength: int64(len(body)), ProtoMajor: 1, ProtoMinor: 1}
}

var errConnReset = errors.New("connection reset by peer (injected)")

func TestFaultsLeaveNothingBehind(t *testing.T) {
	content := randomBytes(t, 11<<20) // three 5 MiB parts
	cases := []struct {
		name string
		// fail returns a response or error to inject instead of sending r.
		fail func(r *http.Request, n *atomic.Int32) (*http.Response, error)
	}{
		{"second part gets 5xx", func(r *http.Request, n *atomic.Int32) (*http.Response, error) {
			if op(r) == "s3:UploadPart" && r.URL.Query().Get("partNumber") == "2" {
				return serverError(r), nil
			}
			return nil, nil
		}},
		{"connection drops on a part and on the first aborts", func(r *http.Request, n *atomic.Int32) (*http.Response, error) {
			switch op(r) {
			case "s3:UploadPart":
				if r.URL.Query().Get("partNumber") == "3" {
					return nil, errConnReset
				}
			case "s3:AbortMultipartUpload":
				if n.Add(1) <= 2 { // both SDK attempts of the transfer manager's own abort
					return nil, errConnReset
				}
			}
			return nil, nil
		}},
		{"complete fails", func(r *http.Request, n *atomic.Int32) (*http.Response, error) {
			if op(r) == "s3:CompleteMultipartUpload" {
				return nil, errConnReset
			}
			return nil, nil
		}},
		{"metadata write gets 5xx after the blob is stored", func(r *http.Request, n *atomic.Int32) (*http.Response, error) {
			if op(r) == "dynamodb:PutItem" && bodyHas(r, `"pkg_key"`) {
				return serverError(r), nil
			}
			return nil, nil
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var n atomic.Int32
			var armed atomic.Bool
			tr := &awsstoretest.FaultyTransport{Fail: func(r *http.Request) (*http.Response, error) {
				if !armed.Load() {
					return nil, nil
				}
				return tc.fail(r, &n)
			}}
			r := newFaultyRegistry(t, tr)
			armed.Store(true)
			code, body := r.do("PUT", "/packages/lib/1.0.0", bytes.NewReader(content), nil)
			armed.Store(false)
			assert.GreaterOrEqual(t, code, 500, "%s", body)
			_, err := r.st.GetPackage(context.Background(), "lib", "1.0.0")
			assert.ErrorIs(t, err, storage.ErrNotFound, "no metadata without a blob")
			assert.Empty(t, objectVersions(t, r.cfg.Bucket, "packages/"), "no orphaned blob")
			assert.Equal(t, 0, multipartUploads(t, r.cfg.Bucket), "no multipart upload left behind")

			// The service recovers: the same upload then succeeds.
			code, body = r.do("PUT", "/packages/lib/1.0.0", bytes.NewReader(content), nil)
			require.Equal(t, 201, code, "%s", body)
		})
	}
}

func TestMetadataOutageOnDownloadGives5xx(t *testing.T) {
	var down atomic.Bool
	tr := &awsstoretest.FaultyTransport{Fail: func(r *http.Request) (*http.Response, error) {
		if down.Load() && op(r) == "dynamodb:GetItem" && bodyHas(r, `"pkg_key"`) {
			return serverError(r), nil
		}
		return nil, nil
	}}
	r := newFaultyRegistry(t, tr)
	code, _ := r.do("PUT", "/packages/lib/1.0.0", strings.NewReader("x"), nil)
	require.Equal(t, 201, code)
	down.Store(true)
	code, body := r.do("GET", "/packages/lib/1.0.0", nil, nil)
	assert.Equal(t, 500, code, "%s", body)
	code, body = r.do("GET", "/packages/lib/1.0.0/download-url", nil, nil)
	assert.Equal(t, 500, code, "%s", body)
}

// newFaultyRegistry is newRegistry with 5 MiB parts and two attempts per
// call, so injected faults surface quickly.
func newFaultyRegistry(t *testing.T, tr http.RoundTripper) *registry {
	t.Helper()
	r := newRegistry(t, &http.Client{Transport: tr})
	cfg := env.AWS.Copy()
	cfg.HTTPClient = &http.Client{Transport: tr}
	cfg.RetryMaxAttempts = 2
	st, err := awsstore.New(cfg, awsstore.Config{Bucket: r.cfg.Bucket, KMSKeyID: r.cfg.KMSKeyID, Tables: r.cfg.Tables, PartSize: 5 << 20, Concurrency: 1})
	require.NoError(t, err)
	*r.st = *st
	return r
}

// A client that hangs up mid-upload cancels the request context, and with
// it the transfer manager's own abort; the store still aborts the
// multipart upload.
func TestClientHangupMidMultipartUpload(t *testing.T) {
	var parts atomic.Int32
	gotPart := make(chan struct{}, 8)
	tr := &awsstoretest.FaultyTransport{Fail: func(r *http.Request) (*http.Response, error) {
		if op(r) == "s3:UploadPart" && parts.Add(1) == 1 {
			gotPart <- struct{}{}
		}
		return nil, nil
	}}
	r := newFaultyRegistry(t, tr)
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	go func() {
		_, _ = pw.Write(randomBytes(t, 6<<20)) // more than one part
		<-gotPart                              // the multipart upload has started
		cancel()
		pw.CloseWithError(errors.New("client gone"))
	}()
	req, err := http.NewRequestWithContext(ctx, "PUT", r.srv.URL+"/packages/gone/1.0.0", pr)
	require.NoError(t, err)
	req.Header.Set("X-Authorization", r.token)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
	require.Eventually(t, func() bool { return multipartUploads(t, r.cfg.Bucket) == 0 && parts.Load() > 0 }, 10*time.Second, 50*time.Millisecond,
		"the multipart upload of an abandoned request is aborted")
	assert.Empty(t, objectVersions(t, r.cfg.Bucket, "packages/"))
	require.Eventually(t, func() bool {
		ups, err := r.st.ListUploads(context.Background())
		return err == nil && len(ups) == 1 && ups[0].Outcome != storage.OutcomeOK
	}, 10*time.Second, 50*time.Millisecond, "the abandoned upload is recorded")
}

func TestHealthReportsAnUnreachableBackend(t *testing.T) {
	var down atomic.Bool
	tr := &awsstoretest.FaultyTransport{Fail: func(r *http.Request) (*http.Response, error) {
		if down.Load() {
			return nil, errConnReset
		}
		return nil, nil
	}}
	r := newFaultyRegistry(t, tr)
	code, body := r.do("GET", "/health", nil, nil)
	require.Equal(t, 200, code, "%s", body)
	down.Store(true)
	code, body = r.do("GET", "/health", nil, nil)
	assert.Equal(t, 503, code, "%s", body)
}
