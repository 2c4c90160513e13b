package api

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/runtime/storage"
)

const vpcPackage = "tfmodule.acme.vpc.aws"

func TestTerraformServiceDiscovery(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	resp := h.do(req{method: "GET", path: "/.well-known/terraform.json"})
	assert.Equal(t, 200, resp.StatusCode)
	assert.JSONEq(t, `{"modules.v1":"/v1/modules/"}`, string(readAll(t, resp)))
}

func moduleVersionsOf(t *testing.T, h *harness, path, token string) []string {
	t.Helper()
	resp := h.do(req{method: "GET", path: path, token: token})
	body := readAll(t, resp)
	require.Equal(t, 200, resp.StatusCode, "%s", body)
	var v struct {
		Modules []struct {
			Source   string `json:"source"`
			Versions []struct {
				Version string `json:"version"`
			} `json:"versions"`
		} `json:"modules"`
	}
	require.NoError(t, json.Unmarshal(body, &v))
	require.Len(t, v.Modules, 1)
	assert.Equal(t, "acme/vpc/aws", v.Modules[0].Source)
	var out []string
	for _, x := range v.Modules[0].Versions {
		out = append(out, x.Version)
	}
	return out
}

func TestModuleVersions(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	tok := h.admin()
	for _, v := range []string{"1.0.0", "1.1.0", "2.0.0-rc.1", "latest", "v3.0.0"} {
		readAll(t, h.upload(tok, vpcPackage, v, []byte("module "+v), nil))
	}
	readAll(t, h.upload(tok, "tfmodule.acme.vpc.azurerm", "9.9.9", []byte("other system"), nil))

	// Only semantic versions are module versions; case does not matter.
	want := []string{"1.0.0", "1.1.0", "2.0.0-rc.1"}
	assert.ElementsMatch(t, want, moduleVersionsOf(t, h, "/v1/modules/acme/vpc/aws/versions", tok))
	assert.ElementsMatch(t, want, moduleVersionsOf(t, h, "/v1/modules/ACME/Vpc/aws/versions", tok))

	// Terraform sends its credentials as Authorization: Bearer <jwt>.
	resp := h.do(req{method: "GET", path: "/v1/modules/acme/vpc/aws/versions",
		header: map[string]string{"Authorization": "Bearer " + strings.TrimPrefix(tok, "bearer ")}})
	assert.Equal(t, 200, resp.StatusCode)
	readAll(t, resp)

	// A search-only or download-only user may list; others may not.
	assert.ElementsMatch(t, want, moduleVersionsOf(t, h, "/v1/modules/acme/vpc/aws/versions", h.user("finder", storage.PermSearch)))
	assert.ElementsMatch(t, want, moduleVersionsOf(t, h, "/v1/modules/acme/vpc/aws/versions", h.user("getter", storage.PermDownload)))
	expectError(t, h.do(req{method: "GET", path: "/v1/modules/acme/vpc/aws/versions", token: h.user("pusher", storage.PermUpload)}), 403)
	expectError(t, h.do(req{method: "GET", path: "/v1/modules/acme/vpc/aws/versions"}), 403)

	msg := expectError(t, h.do(req{method: "GET", path: "/v1/modules/acme/nothing/aws/versions", token: tok}), 404)
	assert.Contains(t, msg, "tfmodule.acme.nothing.aws")
	for _, bad := range []string{"/v1/modules/-acme/vpc/aws/versions", "/v1/modules/acme/vpc/a-b/versions", "/v1/modules/acme/v.pc/aws/versions"} {
		expectError(t, h.do(req{method: "GET", path: bad, token: tok}), 400)
	}
}

// download asks for a module version's location and returns X-Terraform-Get.
func (h *harness) moduleLocation(path, token string) string {
	h.t.Helper()
	resp := h.do(req{method: "GET", path: path, token: token})
	body := readAll(h.t, resp)
	require.Equal(h.t, 204, resp.StatusCode, "%s", body)
	assert.Equal(h.t, "no-store", resp.Header.Get("Cache-Control"))
	loc := resp.Header.Get("X-Terraform-Get")
	require.NotEmpty(h.t, loc)
	return loc
}

// fetch GETs a location relative to the server, as Terraform resolves it, with no token.
func (h *harness) fetch(location string) *http.Response {
	h.t.Helper()
	u, err := url.Parse(h.srv.URL)
	require.NoError(h.t, err)
	ref, err := url.Parse(location)
	require.NoError(h.t, err)
	resp, err := h.client.Get(u.ResolveReference(ref).String())
	require.NoError(h.t, err)
	return resp
}

func TestModuleDownloadPointsAtAVerifiedArchive(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	tok := h.admin()
	archive := randomBytes(t, 3*copyBufSize+11)
	readAll(t, h.upload(tok, vpcPackage, "1.2.0", archive, nil))

	reader := h.user("reader", storage.PermDownload)
	loc := h.moduleLocation("/v1/modules/acme/vpc/aws/1.2.0/download", reader)
	u, err := url.Parse(loc)
	require.NoError(t, err)
	assert.Equal(t, "", u.Host, "relative, resolved by Terraform against the registry it asked")
	assert.Equal(t, "/v1/modules/acme/vpc/aws/1.2.0/archive.tar.gz", u.Path)
	assert.Equal(t, "tar.gz", u.Query().Get("archive"))
	assert.Equal(t, "sha256:"+sha(archive), u.Query().Get("checksum"), "Terraform verifies the archive against the recorded digest")
	assert.Equal(t, "reader", u.Query().Get("user"))

	// No token needed: the URL carries its authority.
	resp := h.fetch(loc)
	assert.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, sha(archive), resp.Header.Get("X-Checksum-SHA256"))
	assert.Equal(t, sha(archive), sha(readAll(t, resp)))

	recs, err := h.store.ListDownloads(context.Background())
	require.NoError(t, err)
	var details []string
	for _, r := range recs {
		assert.Equal(t, vpcPackage, r.Name)
		assert.Equal(t, "1.2.0", r.Version)
		assert.Equal(t, "reader", r.User, "both the URL and the archive fetch name the user")
		assert.Equal(t, storage.OutcomeOK, r.Outcome)
		details = append(details, r.Detail)
	}
	assert.ElementsMatch(t, []string{"module archive url", "module archive"}, details)

	// Errors of the download endpoint.
	expectError(t, h.do(req{method: "GET", path: "/v1/modules/acme/vpc/aws/1.2.0/download"}), 403)
	expectError(t, h.do(req{method: "GET", path: "/v1/modules/acme/vpc/aws/1.2.0/download", token: h.user("lister", storage.PermSearch)}), 403)
	msg := expectError(t, h.do(req{method: "GET", path: "/v1/modules/acme/vpc/aws/9.0.0/download", token: tok}), 404)
	assert.Contains(t, msg, "acme/vpc/aws has no version 9.0.0")
	expectError(t, h.do(req{method: "GET", path: "/v1/modules/acme/vpc/aws/latest/download", token: tok}), 400)
}

func TestModuleArchiveURLIsBoundAndShortLived(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	tok := h.admin()
	readAll(t, h.upload(tok, vpcPackage, "1.0.0", []byte("one"), nil))
	readAll(t, h.upload(tok, vpcPackage, "2.0.0", []byte("two"), nil))
	loc := h.moduleLocation("/v1/modules/acme/vpc/aws/1.0.0/download", h.user("reader", storage.PermDownload))
	u, err := url.Parse(loc)
	require.NoError(t, err)
	with := func(edit func(q url.Values)) string {
		q := u.Query()
		edit(q)
		return u.Path + "?" + q.Encode()
	}
	refused := func(location string) string {
		t.Helper()
		return expectError(t, h.fetch(location), 403)
	}

	assert.Contains(t, refused(strings.Replace(loc, "1.0.0", "2.0.0", 1)), "signature")
	assert.Contains(t, refused(with(func(q url.Values) { q.Set("user", "admin") })), "signature")
	assert.Contains(t, refused(with(func(q url.Values) { q.Set("account", "x") })), "signature")
	assert.Contains(t, refused(with(func(q url.Values) { q.Set("signature", q.Get("signature")[1:]) })), "signature")
	exp := u.Query().Get("expires")
	assert.Contains(t, refused(with(func(q url.Values) { q.Set("expires", exp+"0") })), "signature")
	assert.Contains(t, refused(with(func(q url.Values) { q.Del("signature") })), "lacks")

	resp := h.fetch(loc)
	assert.Equal(t, "one", string(readAll(t, resp)), "the URL works while it is valid")

	// The version deleted and published again with other bytes: the old URL is void.
	resp = h.do(req{method: "DELETE", path: "/packages/" + vpcPackage + "/1.0.0", token: tok})
	readAll(t, resp)
	assert.Contains(t, refused(loc), "removed", "a 403 like a bad signature, not a 404 that tells what exists")
	readAll(t, h.upload(tok, vpcPackage, "1.0.0", []byte("replaced"), nil))
	assert.Contains(t, refused(loc), "replaced")

	// The user removed or stripped of the permission.
	loc = h.moduleLocation("/v1/modules/acme/vpc/aws/2.0.0/download", h.user("leaver", storage.PermDownload))
	u2, err := h.store.GetUser(context.Background(), "leaver")
	require.NoError(t, err)
	u2.Permissions = []string{storage.PermSearch}
	require.NoError(t, h.store.PutUser(context.Background(), u2))
	assert.Contains(t, refused(loc), "permission")
	require.NoError(t, h.store.DeleteUser(context.Background(), "leaver"))
	assert.Contains(t, refused(loc), "no longer exists")
	// ... also when an account of the same name is created again.
	h.user("leaver", storage.PermDownload)
	assert.Contains(t, refused(loc), "no longer exists")

	// Expired: valid for PresignTTL only.
	loc = h.moduleLocation("/v1/modules/acme/vpc/aws/2.0.0/download", tok)
	h.clock.Advance(MaxPresignTTL + time.Second)
	assert.Contains(t, refused(loc), "expired")

	recs, err := h.store.ListDownloads(context.Background())
	require.NoError(t, err)
	denied := 0
	for _, r := range recs {
		if r.Outcome == storage.OutcomeDenied {
			denied++
		}
	}
	assert.Equal(t, 12, denied, "every refused archive fetch is recorded")
}

func TestModuleArchiveWithTamperedBytesIsRefused(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	tok := h.admin()
	readAll(t, h.upload(tok, vpcPackage, "1.0.0", []byte("the real module archive"), nil))
	p, err := h.store.GetPackage(context.Background(), vpcPackage, "1.0.0")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(h.store.BlobPath(p.BlobKey), []byte("an evil module archive!"), 0o600))

	loc := h.moduleLocation("/v1/modules/acme/vpc/aws/1.0.0/download", tok)
	expectError(t, h.fetch(loc), 500)
	assert.Contains(t, h.logs.String(), `"event":"integrity_failure"`)
	recs, err := h.store.ListDownloads(context.Background())
	require.NoError(t, err)
	outcomes := map[string]int{}
	for _, r := range recs {
		outcomes[r.Outcome]++
	}
	assert.Equal(t, map[string]int{storage.OutcomeOK: 1, storage.OutcomeIntegrityFailure: 1}, outcomes, "the URL handed out, the archive refused")
}

// fakePresigner stands in for S3: a presigned URL and a stored checksum.
type fakePresigner struct {
	storage.Presigner
	checksum string
}

func (f *fakePresigner) PresignDownload(_ context.Context, ref string, ttl time.Duration) (storage.PresignedRequest, error) {
	return storage.PresignedRequest{Method: "GET", URL: "https://bucket.s3.example/" + ref + "?X-Amz-Signature=abc%2Fdef", ExpiresAt: time.Now().Add(ttl)}, nil
}

func (f *fakePresigner) StatBlob(_ context.Context, ref string) (storage.BlobStat, error) {
	return storage.BlobStat{Ref: ref, Size: 3, Checksum: f.checksum}, nil
}

func (f *fakePresigner) ChecksumOf(sha256Hex string) (string, error) {
	return "sum-of-" + sha256Hex, nil
}

func TestModuleDownloadPresignedOnTheAWSBackend(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	tok := h.admin()
	readAll(t, h.upload(tok, vpcPackage, "1.0.0", []byte("abc"), nil))
	ps := &fakePresigner{checksum: "sum-of-" + sha([]byte("abc"))}
	backend := h.store.Backend()
	backend.Presign = ps
	srv := httptest.NewServer(New(Config{Backend: backend, Auth: h.auth, Now: h.clock.Now, Logger: slog.New(slog.NewJSONHandler(h.logs, nil))}).Handler())
	defer srv.Close()
	get := func() *http.Response {
		r, err := http.NewRequest("GET", srv.URL+"/v1/modules/acme/vpc/aws/1.0.0/download", nil)
		require.NoError(t, err)
		r.Header.Set("X-Authorization", tok)
		resp, err := h.client.Do(r)
		require.NoError(t, err)
		return resp
	}

	resp := get()
	readAll(t, resp)
	require.Equal(t, 204, resp.StatusCode)
	p, err := h.store.GetPackage(context.Background(), vpcPackage, "1.0.0")
	require.NoError(t, err)
	assert.Equal(t, "https://bucket.s3.example/"+p.BlobKey+"?X-Amz-Signature=abc%2Fdef&archive=tar.gz&checksum=sha256:"+sha([]byte("abc")),
		resp.Header.Get("X-Terraform-Get"), "the presigned URL is kept byte for byte, the checksum appended")

	ps.checksum = "something else"
	expectError(t, get(), 422)
}
