package api

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/runtime/storage"
	"github.com/acme/module-registry/runtime/validator"
)

// onlyAlice allows the user alice and denies everybody else, by name.
const onlyAlice = `function validate(input) {
  if (input.user.name === "alice") return {allow: true, reason: "alice is trusted"};
  return {allow: false, reason: "only alice may download " + input.package.name};
}`

func (h *harness) putValidator(tok, name, version, src string, hdr map[string]string) *http.Response {
	h.t.Helper()
	return h.do(req{method: "PUT", path: "/packages/" + name + "/" + version + "/validator", token: tok, body: strings.NewReader(src), header: hdr})
}

// withValidator: alice uploads hello/1.0.0 and attaches src; bob may download.
func withValidator(t *testing.T, h *harness, src string) (alice, bob string) {
	t.Helper()
	alice = h.user("alice", storage.PermUpload, storage.PermDownload)
	bob = h.user("bob", storage.PermUpload, storage.PermDownload)
	resp := h.upload(alice, "hello", "1.0.0", []byte("hello bytes"), nil)
	body := readAll(t, resp)
	require.Equal(t, 201, resp.StatusCode, "%s", body)
	resp = h.putValidator(alice, "hello", "1.0.0", src, nil)
	body = readAll(t, resp)
	require.Equal(t, 200, resp.StatusCode, "%s", body)
	return alice, bob
}

// lastDownload is the download record written last. The harness's clock stands
// still, so "last" is the one no earlier call has returned.
func lastDownload(t *testing.T, h *harness) storage.TransferRecord {
	t.Helper()
	recs, err := h.store.ListDownloads(context.Background())
	require.NoError(t, err)
	seen := seenDownloads(h)
	var fresh []storage.TransferRecord
	for _, r := range recs {
		if !seen[r.ID] {
			fresh = append(fresh, r)
			seen[r.ID] = true
		}
	}
	require.Len(t, fresh, 1, "one new download record")
	return fresh[0]
}

var seenByHarness sync.Map // *harness -> map[string]bool

func seenDownloads(h *harness) map[string]bool {
	m, _ := seenByHarness.LoadOrStore(h, map[string]bool{})
	return m.(map[string]bool)
}

func TestValidatorLifecycle(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	alice, bob := withValidator(t, h, onlyAlice)
	sum := validator.Hash([]byte(onlyAlice))

	resp := h.do(req{method: "GET", path: "/packages/hello/1.0.0/validator", token: alice})
	body := readAll(t, resp)
	require.Equal(t, 200, resp.StatusCode, "%s", body)
	assert.Equal(t, onlyAlice, string(body))
	assert.Equal(t, sum, resp.Header.Get("X-Checksum-SHA256"))
	assert.Equal(t, FormatDigest(sum), resp.Header.Get("Repr-Digest"))
	assert.Equal(t, "alice", resp.Header.Get("X-Validator-Updated-By"))

	// Not the uploader, not an administrator: refused, whatever the method.
	for _, m := range []string{"GET", "PUT", "DELETE"} {
		msg := expectError(t, h.do(req{method: m, path: "/packages/hello/1.0.0/validator", token: bob, body: strings.NewReader(onlyAlice)}), 403)
		assert.Contains(t, msg, "only an administrator or alice")
	}
	expectError(t, h.do(req{method: "GET", path: "/packages/hello/1.0.0/validator", token: h.user("reader", storage.PermDownload)}), 403)
	expectError(t, h.do(req{method: "GET", path: "/packages/hello/1.0.0/validator"}), 403)

	// An administrator may replace it; the hash and the author follow.
	allowAll := `function validate() { return {allow: true} }`
	resp = h.putValidator(h.admin(), "hello", "1.0.0", allowAll, map[string]string{"X-Checksum-SHA256": validator.Hash([]byte(allowAll))})
	body = readAll(t, resp)
	require.Equal(t, 200, resp.StatusCode, "%s", body)
	var view validatorView
	require.NoError(t, json.Unmarshal(body, &view))
	assert.Equal(t, validatorView{Name: "hello", Version: "1.0.0", SHA256: validator.Hash([]byte(allowAll)), Size: int64(len(allowAll)),
		UpdatedAt: view.UpdatedAt, UpdatedBy: "admin"}, view)

	resp = h.do(req{method: "DELETE", path: "/packages/hello/1.0.0/validator", token: alice})
	require.Equal(t, 200, resp.StatusCode, "%s", readAll(t, resp))
	assert.Contains(t, expectError(t, h.do(req{method: "GET", path: "/packages/hello/1.0.0/validator", token: alice}), 404), "no validator is attached to hello/1.0.0")
	expectError(t, h.do(req{method: "DELETE", path: "/packages/hello/1.0.0/validator", token: alice}), 404)
	expectError(t, h.putValidator(alice, "nothing", "1.0.0", onlyAlice, nil), 404)
}

func TestValidatorUploadIsChecked(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	alice, _ := withValidator(t, h, onlyAlice)
	msg := expectError(t, h.putValidator(alice, "hello", "1.0.0", "function validate(input) { return {allow: true ", nil), 400)
	assert.Contains(t, msg, "SyntaxError: validator.js: Line 1:")
	msg = expectError(t, h.putValidator(alice, "hello", "1.0.0", "function check() {}", nil), 400)
	assert.Contains(t, msg, "must declare a top-level function validate")
	expectError(t, h.putValidator(alice, "hello", "1.0.0", "", nil), 400)
	expectError(t, h.putValidator(alice, "hello", "1.0.0", "\xff\xfe", nil), 400)
	msg = expectError(t, h.putValidator(alice, "hello", "1.0.0", strings.Repeat(" ", validator.MaxSourceBytes+1), nil), 413)
	assert.Contains(t, msg, "65536")
	expectError(t, h.putValidator(alice, "hello", "1.0.0", onlyAlice, map[string]string{"X-Checksum-SHA256": validator.Hash([]byte("other"))}), 422)
	// Refusals changed nothing: the first validator is still attached.
	resp := h.do(req{method: "GET", path: "/packages/hello/1.0.0/validator", token: alice})
	assert.Equal(t, onlyAlice, string(readAll(t, resp)))
}

// validatorLines returns the "validator run" log lines.
func validatorLines(t *testing.T, h *harness) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(h.logs.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil && m["msg"] == "validator run" {
			out = append(out, m)
		}
	}
	return out
}

func TestValidatorGatesDownloads(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	alice, bob := withValidator(t, h, onlyAlice)
	sum := validator.Hash([]byte(onlyAlice))

	resp := h.do(req{method: "GET", path: "/packages/hello/1.0.0", token: alice})
	assert.Equal(t, "hello bytes", string(readAll(t, resp)))
	require.Equal(t, 200, resp.StatusCode)
	rec := lastDownload(t, h)
	assert.Equal(t, storage.OutcomeOK, rec.Outcome)
	assert.Equal(t, "allowed", rec.ValidatorOutcome)
	assert.Equal(t, sum, rec.ValidatorSHA256)

	msg := expectError(t, h.do(req{method: "GET", path: "/packages/hello/1.0.0", token: bob}), 403)
	assert.Equal(t, "the package's validator denied the download: only alice may download hello", msg)
	rec = lastDownload(t, h)
	assert.Equal(t, "bob", rec.User)
	assert.Equal(t, storage.OutcomeValidatorDenied, rec.Outcome)
	assert.Equal(t, "denied", rec.ValidatorOutcome)
	assert.Equal(t, sum, rec.ValidatorSHA256)

	lines := validatorLines(t, h)
	require.Len(t, lines, 2)
	assert.Equal(t, "denied", lines[1]["validator_outcome"])
	assert.Equal(t, "hello/1.0.0", lines[1]["package"])
	assert.Equal(t, "bob", lines[1]["user"])
	assert.Equal(t, 1.0, lines[1]["ValidatorDenied"])
	assert.NotNil(t, lines[1]["_aws"], "the line carries the EMF block")
	assert.NotEmpty(t, lines[1]["request_id"])

	// A version without a validator is not gated.
	readAll(t, h.upload(alice, "plain", "1.0.0", []byte("plain"), nil))
	resp = h.do(req{method: "GET", path: "/packages/plain/1.0.0", token: bob})
	assert.Equal(t, 200, resp.StatusCode)
	readAll(t, resp)
	assert.Empty(t, lastDownload(t, h).ValidatorOutcome)
}

// A module's archive URL is the download: issuing it runs the validator.
func TestValidatorGatesModuleDownloads(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	alice := h.user("alice", storage.PermUpload, storage.PermDownload)
	bob := h.user("bob", storage.PermDownload)
	readAll(t, h.upload(alice, vpcPackage, "1.0.0", []byte("module"), nil))
	resp := h.putValidator(alice, vpcPackage, "1.0.0", onlyAlice, nil)
	require.Equal(t, 200, resp.StatusCode, "%s", readAll(t, resp))
	assert.NotEmpty(t, h.moduleLocation("/v1/modules/acme/vpc/aws/1.0.0/download", alice))
	assert.Equal(t, "allowed", lastDownload(t, h).ValidatorOutcome)
	msg := expectError(t, h.do(req{method: "GET", path: "/v1/modules/acme/vpc/aws/1.0.0/download", token: bob}), 403)
	assert.Contains(t, msg, "only alice may download")
	assert.Equal(t, storage.OutcomeValidatorDenied, lastDownload(t, h).Outcome)
}

// TestHostileValidatorsFailClosed: whatever a validator does, the download gets a 403
// with a distinct audit outcome, within the deadline; never a 5xx, never the bytes;
// and the registry's own memory stays flat while the bombs run in its children.
func TestHostileValidatorsFailClosed(t *testing.T) {
	short := 2 * time.Second
	if raceEnabled {
		short = 5 * time.Second
	}
	// Scripts that must time out run against a short deadline; the others against the
	// full one, so that a slow machine cannot turn a memory bomb into a timeout.
	// Memory bombs get the smallest quota: the less they must allocate to reach it, the
	// less CPU they need before the deadline on a busy machine.
	harnesses := map[validator.Outcome]*harness{
		validator.OutcomeTimeout: newHarness(t, harnessOpts{validators: &validator.Config{Deadline: short, MemoryBytes: 64 << 20}}),
		validator.OutcomeMemory:  newHarness(t, harnessOpts{validators: &validator.Config{Deadline: validator.MaxDeadline, MemoryBytes: validator.MinMemoryBytes}}),
		validator.OutcomeError:   newHarness(t, harnessOpts{validators: &validator.Config{Deadline: validator.MaxDeadline, MemoryBytes: 64 << 20}}),
	}
	users := map[*harness][2]string{}
	for _, h := range harnesses {
		alice, bob := withValidator(t, h, onlyAlice)
		users[h] = [2]string{alice, bob}
	}
	resetPeakRSS := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
	before := statusKB(t, "VmRSS")
	for _, c := range []struct {
		name, body string
		want       validator.Outcome
	}{
		{"infinite loop", `for (;;) {}`, validator.OutcomeTimeout},
		{"growing array", `var a = []; for (;;) a.push(new Array(1 << 20));`, validator.OutcomeMemory},
		{"doubling string", `var s = "xxxxxxxx"; for (;;) { s += s; s.charCodeAt(s.length - 1); }`, validator.OutcomeMemory},
		{"one huge string", `return {allow: true, reason: "x".repeat(2 ** 30)}`, validator.OutcomeMemory},
		{"deep recursion", `function f() { return f() + 1 } return f()`, validator.OutcomeMemory},
		{"console spam", `for (;;) console.log("spam".repeat(1000))`, validator.OutcomeTimeout},
		{"huge result", `return {allow: false, reason: "x".repeat(1 << 20)}`, validator.OutcomeError},
		{"require", `return {allow: require("fs") !== undefined}`, validator.OutcomeError},
		{"process", `return {allow: process.env.AWS_SECRET_ACCESS_KEY !== undefined}`, validator.OutcomeError},
		{"fetch", `fetch("http://127.0.0.1/"); return {allow: true}`, validator.OutcomeError},
		{"filesystem", `var passwd = readFileSync("/etc/passwd"); return {allow: passwd.length > 0}`, validator.OutcomeError},
		{"environment", `return {allow: globalThis.process.env.JWT_SECRET !== undefined}`, validator.OutcomeError},
		{"garbage", `return "yes"`, validator.OutcomeError},
		{"truthy but not true", `return {allow: 1}`, validator.OutcomeError},
		{"throw", `throw new Error("boom")`, validator.OutcomeError},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := harnesses[c.want]
			deadline := short
			if c.want != validator.OutcomeTimeout {
				deadline = validator.MaxDeadline
			}
			alice, bob := users[h][0], users[h][1]
			src := "function validate(input) {\n" + c.body + "\n}"
			resp := h.putValidator(alice, "hello", "1.0.0", src, nil)
			body := readAll(t, resp)
			require.Equal(t, 200, resp.StatusCode, "%s", body)
			for _, tok := range []string{alice, bob} {
				start := time.Now()
				resp := h.do(req{method: "GET", path: "/packages/hello/1.0.0", token: tok})
				took := time.Since(start)
				msg := expectError(t, resp, 403)
				assert.Contains(t, msg, "did not allow the download ("+string(c.want)+")")
				rec := lastDownload(t, h)
				assert.Equal(t, storage.OutcomeValidatorFailed, rec.Outcome)
				assert.Equal(t, string(c.want), rec.ValidatorOutcome)
				assert.Equal(t, validator.Hash([]byte(src)), rec.ValidatorSHA256)
				assert.Less(t, took, deadline+2*time.Second)
				t.Logf("%-7s 403 in %5.0f ms: %s", rec.ValidatorOutcome, float64(took.Microseconds())/1000, msg)
			}
		})
	}
	if resetPeakRSS {
		peak := statusKB(t, "VmHWM")
		t.Logf("registry RSS %d KiB before, peak %d KiB while the hostile validators ran (+%d KiB)", before, peak, peak-before)
		// The bombs asked for gigabytes; the registry only buffers their small answers.
		assert.Less(t, peak-before, int64(32<<10), "the registry's peak RSS grew")
	}
}

// statusKB reads a kB field of /proc/self/status.
func statusKB(t *testing.T, key string) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && k == key {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			require.NoError(t, err)
			return n
		}
	}
	t.Fatalf("%s missing from /proc/self/status", key)
	return 0
}

func TestValidatorPoolFullIs503(t *testing.T) {
	h := newHarness(t, harnessOpts{validators: &validator.Config{Size: 1, Deadline: 2 * time.Second}})
	alice, _ := withValidator(t, h, `function validate() { for (;;) {} }`)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		resp := h.do(req{method: "GET", path: "/packages/hello/1.0.0", token: alice})
		assert.Equal(t, 403, resp.StatusCode)
		readAll(t, resp)
	}()
	time.Sleep(300 * time.Millisecond) // the first download holds the only slot
	resp := h.do(req{method: "GET", path: "/packages/hello/1.0.0", token: alice})
	assert.Equal(t, "1", resp.Header.Get("Retry-After"))
	assert.Contains(t, expectError(t, resp, 503), "validator sandboxes are busy")
	assert.Equal(t, storage.OutcomeThrottled, lastDownload(t, h).Outcome)
	wg.Wait()
}

// TestServedWhileValidatorsMisbehave: with every sandbox slot but one held by hostile
// validators, health checks and other downloads keep being answered.
func TestServedWhileValidatorsMisbehave(t *testing.T) {
	h := newHarness(t, harnessOpts{validators: &validator.Config{Size: 3, Deadline: 3 * time.Second}})
	alice, _ := withValidator(t, h, `function validate() { for (;;) {} }`)
	readAll(t, h.upload(alice, "plain", "1.0.0", []byte("plain"), nil))
	readAll(t, h.upload(alice, "gated", "1.0.0", []byte("gated"), nil))
	resp := h.putValidator(alice, "gated", "1.0.0", onlyAlice, nil)
	require.Equal(t, 200, resp.StatusCode, "%s", readAll(t, resp))
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			readAll(t, h.do(req{method: "GET", path: "/packages/hello/1.0.0", token: alice}))
		}()
	}
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	n := 0
	for time.Since(start) < 2*time.Second {
		for _, path := range []string{"/health", "/packages/plain/1.0.0", "/packages/gated/1.0.0"} {
			t0 := time.Now()
			resp := h.do(req{method: "GET", path: path, token: alice})
			readAll(t, resp)
			require.Equal(t, 200, resp.StatusCode, path)
			require.Less(t, time.Since(t0), time.Second, path)
			n++
		}
	}
	wg.Wait()
	t.Logf("%d requests answered while two hostile validators ran", n)
}

func TestDeletingAPackageRemovesItsValidator(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	alice, bob := withValidator(t, h, onlyAlice)
	resp := h.do(req{method: "DELETE", path: "/packages/hello/1.0.0", token: h.admin()})
	require.Equal(t, 200, resp.StatusCode, "%s", readAll(t, resp))
	readAll(t, h.upload(alice, "hello", "1.0.0", []byte("again"), nil))
	expectError(t, h.do(req{method: "GET", path: "/packages/hello/1.0.0/validator", token: alice}), 404)
	resp = h.do(req{method: "GET", path: "/packages/hello/1.0.0", token: bob})
	assert.Equal(t, 200, resp.StatusCode)
	readAll(t, resp)
}

// Without a sandbox the routes answer 501 and a stored validator still fails closed.
func TestNoSandboxFailsClosed(t *testing.T) {
	h := newHarness(t, harnessOpts{noValidators: true})
	alice := h.user("alice", storage.PermUpload, storage.PermDownload)
	readAll(t, h.upload(alice, "hello", "1.0.0", []byte("hello bytes"), nil))
	expectError(t, h.putValidator(alice, "hello", "1.0.0", onlyAlice, nil), 501)
	require.NoError(t, h.store.PutValidator(context.Background(), storage.Validator{Name: "hello", Version: "1.0.0",
		SHA256: validator.Hash([]byte(onlyAlice)), Size: int64(len(onlyAlice)), Source: []byte(onlyAlice)}))
	msg := expectError(t, h.do(req{method: "GET", path: "/packages/hello/1.0.0", token: alice}), 403)
	assert.Contains(t, msg, "runs no validator sandbox")
	assert.Equal(t, storage.OutcomeValidatorFailed, lastDownload(t, h).Outcome)
}

// A stored script that no longer matches its recorded SHA-256 is not run.
func TestTamperedValidatorFailsClosed(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	alice, _ := withValidator(t, h, onlyAlice)
	v, err := h.store.GetValidator(context.Background(), "hello", "1.0.0")
	require.NoError(t, err)
	v.Source = []byte(`function validate() { return {allow: true} }`)
	require.NoError(t, h.store.PutValidator(context.Background(), v))
	msg := expectError(t, h.do(req{method: "GET", path: "/packages/hello/1.0.0", token: alice}), 403)
	assert.Contains(t, msg, "does not match its recorded SHA-256")
}
