package awsstore_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// errorOf decodes an error body.
func errorOf(t *testing.T, body []byte) string {
	t.Helper()
	var e struct {
		Error string `json:"error"`
	}
	require.NoError(t, json.Unmarshal(body, &e), "%s", body)
	return e.Error
}

// login exchanges a password for a token through the API.
func (r *registry) login(name, pw string) string {
	r.t.Helper()
	req, _ := http.NewRequest("PUT", r.srv.URL+"/authenticate", strings.NewReader(`{"user":{"name":"`+name+`"},"secret":{"password":"`+pw+`"}}`))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(r.t, err)
	defer resp.Body.Close()
	require.Equal(r.t, 200, resp.StatusCode)
	var tok string
	require.NoError(r.t, json.NewDecoder(resp.Body).Decode(&tok))
	return tok
}

// as runs f with the registry's requests carrying tok.
func (r *registry) as(tok string, f func()) {
	saved := r.token
	r.token = tok
	defer func() { r.token = saved }()
	f()
}

// On DynamoDB too a token dies with its account, a re-created account of the same
// name inherits nothing, and a permission change applies to the next request.
func TestTokensAreBoundToAccounts(t *testing.T) {
	r := newRegistry(t, nil)
	code, body := r.do("POST", "/users", strings.NewReader(`{"name":"u","password":"a-long-password","permissions":["search"]}`), nil)
	require.Equal(t, 201, code, "%s", body)
	tok := r.login("u", "a-long-password")

	code, body = r.do("PATCH", "/users/u", strings.NewReader(`{"permissions":["download"]}`), nil)
	require.Equal(t, 200, code, "%s", body)
	r.as(tok, func() {
		code, _ = r.do("GET", "/packages", nil, nil)
		assert.Equal(t, 403, code, "search was taken away")
		code, _ = r.do("GET", "/packages/none/1", nil, nil)
		assert.Equal(t, 404, code, "download was given")
	})

	code, _ = r.do("DELETE", "/users/u", nil, nil)
	require.Equal(t, 204, code)
	code, body = r.do("POST", "/users", strings.NewReader(`{"name":"u","password":"another-long-password","permissions":["admin"]}`), nil)
	require.Equal(t, 201, code, "%s", body)
	r.as(tok, func() {
		code, body = r.do("GET", "/users", nil, nil)
		assert.Equal(t, 403, code)
		assert.Contains(t, errorOf(t, body), "no longer exists")
	})
	r.as(r.login("u", "another-long-password"), func() {
		code, _ = r.do("GET", "/users", nil, nil)
		assert.Equal(t, 200, code)
	})
}

// Empty packages are refused on both upload paths; nothing is stored.
func TestEmptyPackagesAreRefused(t *testing.T) {
	r := newRegistry(t, nil)
	code, body := r.do("PUT", "/packages/empty/1.0.0", bytes.NewReader(nil), nil)
	assert.Equal(t, 400, code)
	assert.Contains(t, errorOf(t, body), "package is empty")
	code, body = r.do("POST", "/packages/empty/1.0.0/upload-url", strings.NewReader(`{"sha256":"`+hexSum(nil)+`","size":0}`), nil)
	assert.Equal(t, 400, code)
	assert.Contains(t, errorOf(t, body), "package is empty")
	assert.Empty(t, objectVersions(t, r.cfg.Bucket, "packages/empty/"))
	code, _ = r.do("GET", "/packages/empty/1.0.0", nil, nil)
	assert.Equal(t, 404, code)
}

// Messages and URLs read as written: the not-found message names the package, not
// the table, and presigned URLs are not HTML-escaped.
func TestMessagesAndURLsReadAsWritten(t *testing.T) {
	r := newRegistry(t, nil)
	for _, path := range []string{"/packages/hello/7.7.7", "/packages/hello/7.7.7/download-url"} {
		code, body := r.do("GET", path, nil, nil)
		assert.Equal(t, 404, code)
		assert.Equal(t, "package hello 7.7.7 not found", errorOf(t, body), path)
	}
	code, body := r.do("PUT", "/packages/hello/1.0.0", strings.NewReader("hello"), nil)
	require.Equal(t, 201, code, "%s", body)
	code, body = r.do("GET", "/packages/hello/1.0.0/download-url", nil, nil)
	require.Equal(t, 200, code, "%s", body)
	assert.NotContains(t, string(body), `\u0026`)
	var d presignResp
	require.NoError(t, json.Unmarshal(body, &d))
	assert.Contains(t, d.URL, "&", "the URL's query has several parameters")
	assert.Contains(t, string(body), d.URL, "the URL appears verbatim")
	code, body = r.do("POST", "/packages/hello/2.0.0/upload-url", strings.NewReader(`{"sha256":"`+hexSum([]byte("x"))+`","size":1}`), nil)
	require.Equal(t, 200, code, "%s", body)
	assert.NotContains(t, string(body), `\u0026`)
}
