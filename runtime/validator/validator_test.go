package validator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/acme/module-registry/runtime/contract"
)

// TestMain lets the test binary serve as the sandbox child: the pool re-executes it
// with ChildFlag, exactly as the registry binary is re-executed in production.
func TestMain(m *testing.M) {
	ChildMain()
	if len(os.Args) > 1 && os.Args[1] == floodFlag {
		floodStdout()
	}
	os.Exit(m.Run())
}

// floodFlag makes the test binary a child that writes to its stdout without end: a
// sandbox whose output the parent must cut off.
const floodFlag = "-flood-stdout"

func floodStdout() {
	line := []byte(strings.Repeat("x", 4095) + "\n")
	for {
		if _, err := os.Stdout.Write(line); err != nil {
			os.Exit(0)
		}
	}
}

func newPool(t testing.TB, cfg Config) *Pool {
	t.Helper()
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func sampleInput(user string) Input {
	at := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	return Input{
		Package: Package{Name: "hello", Version: "1.0.0", SHA256: strings.Repeat("ab", 32), Size: 15, Uploader: "alice", UploadedAt: at},
		User:    User{Name: user, Permissions: []string{"download"}},
		Request: Request{Kind: RequestDownload, Time: at.Add(time.Hour)},
	}
}

func run(t testing.TB, p *Pool, src string, in Input) Result {
	t.Helper()
	res, err := p.Run(context.Background(), []byte(src), in)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return res
}

const allowAlice = `
function validate(input) {
  if (input.user.name === "alice") return {allow: true, reason: "alice may"};
  return {allow: false, reason: "only alice may download " + input.package.name};
}`

func TestAllowAndDenyByUserName(t *testing.T) {
	p := newPool(t, Config{})
	res := run(t, p, allowAlice, sampleInput("alice"))
	if res.Outcome != OutcomeAllowed || res.Reason != "alice may" || !res.Allowed() {
		t.Fatalf("alice: %+v", res)
	}
	if res.SHA256 != Hash([]byte(allowAlice)) || res.Duration <= 0 {
		t.Fatalf("hash or duration missing: %+v", res)
	}
	res = run(t, p, allowAlice, sampleInput("bob"))
	if res.Outcome != OutcomeDenied || res.Reason != "only alice may download hello" || res.Allowed() {
		t.Fatalf("bob: %+v", res)
	}
}

func TestInputReachesTheScript(t *testing.T) {
	p := newPool(t, Config{})
	src := `function validate(i) {
	  return {allow: false, reason: [i.package.name, i.package.version, i.package.sha256.length, i.package.size,
	    i.package.uploader, i.package.uploaded_at, i.user.name, i.user.permissions.join("+"), i.request.kind, i.request.time].join("|")};
	}`
	res := run(t, p, src, sampleInput("bob"))
	want := "hello|1.0.0|64|15|alice|2026-11-30T12:00:00Z|bob|download|download|2026-11-30T13:00:00Z"
	if res.Outcome != OutcomeDenied || res.Reason != want {
		t.Fatalf("got %+v, want reason %q", res, want)
	}
	in := sampleInput("anonymous")
	in.User.Permissions = nil
	res = run(t, p, `function validate(i) { return {allow: Array.isArray(i.user.permissions) && i.user.permissions.length === 0} }`, in)
	if res.Outcome != OutcomeAllowed {
		t.Fatalf("nil permissions should arrive as []: %+v", res)
	}
}

// TestResultContract: only {allow: boolean, reason: string} counts; everything else
// fails closed as an error.
func TestResultContract(t *testing.T) {
	p := newPool(t, Config{})
	cases := map[string]struct {
		body string
		want Outcome
	}{
		"allow without reason":  {`return {allow: true}`, OutcomeAllowed},
		"let declaration":       {`return {allow: true, reason: "ok"}`, OutcomeAllowed},
		"deny without reason":   {`return {allow: false}`, OutcomeError},
		"deny empty reason":     {`return {allow: false, reason: ""}`, OutcomeError},
		"truthy allow":          {`return {allow: 1, reason: "x"}`, OutcomeError},
		"string allow":          {`return {allow: "true", reason: "x"}`, OutcomeError},
		"boxed boolean":         {`return {allow: new Boolean(true), reason: "x"}`, OutcomeError},
		"boxed string reason":   {`return {allow: false, reason: new String("x")}`, OutcomeError},
		"number reason":         {`return {allow: false, reason: 42}`, OutcomeError},
		"extra property":        {`return {allow: true, reason: "x", extra: 1}`, OutcomeError},
		"symbol property":       {`var o = {allow: true}; o[Symbol("s")] = 1; return o`, OutcomeError},
		"undefined":             {`return undefined`, OutcomeError},
		"null":                  {`return null`, OutcomeError},
		"bare true":             {`return true`, OutcomeError},
		"string":                {`return "allow"`, OutcomeError},
		"array":                 {`return [true, "x"]`, OutcomeError},
		"promise":               {`return Promise.resolve({allow: true})`, OutcomeError},
		"proxy":                 {`return new Proxy({allow: true}, {})`, OutcomeError},
		"class instance":        {`class R { constructor() { this.allow = true } }; return new R()`, OutcomeError},
		"null prototype":        {`var o = Object.create(null); o.allow = true; return o`, OutcomeError},
		"control char reason":   {`return {allow: false, reason: "a\nb"}`, OutcomeError},
		"lone surrogate reason": {`return {allow: false, reason: "\uD800"}`, OutcomeError},
		"reason too long":       {`return {allow: false, reason: "x".repeat(513)}`, OutcomeError},
		"reason at the limit":   {`return {allow: false, reason: "x".repeat(512)}`, OutcomeDenied},
		"throws":                {`throw new Error("nope")`, OutcomeError},
		"throws a string":       {`throw "nope"`, OutcomeError},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			src := "function validate(input) { " + c.body + " }"
			if name == "let declaration" {
				src = "let validate = (input) => { " + c.body + " }"
			}
			res := run(t, p, src, sampleInput("alice"))
			if res.Outcome != c.want {
				t.Fatalf("outcome %s (%s), want %s", res.Outcome, res.Reason, c.want)
			}
		})
	}
}

func TestThrowReasonIsReported(t *testing.T) {
	p := newPool(t, Config{})
	res := run(t, p, `function validate() { throw new TypeError("bad input") }`, sampleInput("alice"))
	if res.Outcome != OutcomeError || !strings.Contains(res.Reason, "TypeError: bad input") {
		t.Fatalf("%+v", res)
	}
}

func TestNoValidateFunction(t *testing.T) {
	p := newPool(t, Config{})
	for _, src := range []string{`var validate = 3`, `function check() { return {allow: true} }`} {
		res := run(t, p, src, sampleInput("alice"))
		if res.Outcome != OutcomeError || !strings.Contains(res.Reason, "validate") {
			t.Fatalf("%q: %+v", src, res)
		}
	}
}

func TestConsoleIsBounded(t *testing.T) {
	p := newPool(t, Config{})
	res := run(t, p, `function validate(i) { console.log("user", i.user.name); console.warn({a: 1}); return {allow: true} }`, sampleInput("alice"))
	if res.Outcome != OutcomeAllowed || res.Logs != "user alice\n[object Object]\n" {
		t.Fatalf("%+v", res)
	}
}

func TestCheck(t *testing.T) {
	p := newPool(t, Config{})
	ctx := context.Background()
	if err := p.Check(ctx, []byte(allowAlice)); err != nil {
		t.Fatalf("valid source refused: %v", err)
	}
	for src, want := range map[string]string{
		"function validate(input) { return {allow: true ": "SyntaxError: " + scriptName + ": Line 1:48 Unexpected end of input",
		"function other() {}":                             "must declare a top-level function validate",
		"if (true) { function validate() {} }":            "must declare a top-level function validate",
		"":                                                "is empty",
		strings.Repeat(" ", MaxSourceBytes+1):             "at most 65536",
		"function validate() {}\xff":                      "not UTF-8",
	} {
		err := p.Check(ctx, []byte(src))
		var se *SourceError
		if !errors.As(err, &se) || !strings.Contains(se.Msg, want) {
			t.Errorf("Check(%.40q) = %v, want a SourceError containing %q", src, err, want)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	_, err := New(Config{Size: -1, Deadline: 6 * time.Second, MemoryBytes: 1, StackDepth: -3, RetryAfter: -time.Second})
	if err == nil {
		t.Fatal("invalid config accepted")
	}
	for _, want := range []string{"pool size -1", "deadline 6s", "memory 1 bytes", "stack depth -3", "retry-after -1s"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	p := newPool(t, Config{})
	c := p.Config()
	if c.Size != DefaultSize || c.Deadline != 5*time.Second || c.MemoryBytes != DefaultMemoryBytes || c.StackDepth != DefaultStackDepth {
		t.Fatalf("defaults: %+v", c)
	}
}

// TestEnvironmentIsEmpty: the registry's secrets never reach a validator's process.
func TestEnvironmentIsEmpty(t *testing.T) {
	t.Setenv("AWS_SECRET_ACCESS_KEY", "not-for-validators")
	t.Setenv("JWT_SECRET", "not-for-validators-either")
	p := newPool(t, Config{})
	res := run(t, p, allowAlice, sampleInput("alice"))
	if res.Sandbox.Env != 0 {
		t.Fatalf("the child saw %d environment variables", res.Sandbox.Env)
	}
}

// TestSandboxProbe: after each layer the child tries what that layer forbids.
func TestSandboxProbe(t *testing.T) {
	p := newPool(t, Config{})
	sb, probes, err := p.Probe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("sandbox: %+v", sb)
	for _, pr := range probes {
		t.Logf("%-8s %-40s blocked=%-5v %s", pr.Layer, pr.Attempt, pr.Blocked, pr.Detail)
	}
	if !sb.Rlimits || !sb.Seccomp {
		t.Fatalf("rlimits and seccomp must hold on this machine: %+v", sb)
	}
	for _, pr := range probes {
		if pr.Layer == "landlock" && sb.LandlockABI == 0 {
			continue // the kernel has none; reported in Notes
		}
		if pr.Layer == "landlock" && strings.HasPrefix(pr.Attempt, "connect") && sb.LandlockABI < 4 {
			continue // TCP rules came with ABI 4
		}
		if !pr.Blocked {
			t.Errorf("%s: %q was not blocked: %s", pr.Layer, pr.Attempt, pr.Detail)
		}
	}
	if len(probes) < 9 {
		t.Fatalf("only %d probes ran", len(probes))
	}
}

func TestBusyWhenFull(t *testing.T) {
	p := newPool(t, Config{Size: 1, Deadline: 2 * time.Second})
	started := make(chan struct{})
	done := make(chan Result)
	go func() {
		close(started)
		res, _ := p.Run(context.Background(), []byte(`function validate() { for(;;){} }`), sampleInput("alice"))
		done <- res
	}()
	<-started
	// Wait until the slot is taken.
	for deadline := time.Now().Add(2 * time.Second); len(p.sem) == 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	_, err := p.Run(context.Background(), []byte(allowAlice), sampleInput("alice"))
	var be *BusyError
	if !errors.Is(err, ErrBusy) || !errors.As(err, &be) || be.RetryAfter() != time.Second {
		t.Fatalf("full pool: err = %v", err)
	}
	if err := p.Check(context.Background(), []byte(allowAlice)); !errors.Is(err, ErrBusy) {
		t.Fatalf("full pool, Check: err = %v", err)
	}
	if res := <-done; res.Outcome != OutcomeTimeout {
		t.Fatalf("loop: %+v", res)
	}
}

func TestCanceledRequestKillsTheChild(t *testing.T) {
	p := newPool(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	res, err := p.Run(ctx, []byte(`function validate() { for(;;){} }`), sampleInput("alice"))
	if err != nil || res.Outcome != OutcomeError || time.Since(start) > 2*time.Second {
		t.Fatalf("res %+v err %v after %s", res, err, time.Since(start))
	}
}

// TestMetricNamesMatchTheContract: the alarms the stack creates select these names.
func TestMetricNamesMatchTheContract(t *testing.T) {
	if OutcomeMetric(OutcomeTimeout) != contract.MetricValidatorTimeouts || OutcomeMetric(OutcomeError) != contract.MetricValidatorErrors {
		t.Fatalf("metric names %s, %s differ from the contract's", OutcomeMetric(OutcomeTimeout), OutcomeMetric(OutcomeError))
	}
}

func TestLogLineCarriesEMF(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	m := Metrics{Namespace: "ACME/Registry", Service: "registry"}
	m.Log(context.Background(), log, Result{Outcome: OutcomeTimeout, Reason: "ran past", Duration: 1500 * time.Millisecond, SHA256: "abc"},
		slog.String("package", "hello"))
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("%v: %s", err, buf.String())
	}
	if line["level"] != "WARN" || line["validator_outcome"] != "timeout" || line["validator_sha256"] != "abc" || line["package"] != "hello" {
		t.Fatalf("fields: %s", buf.String())
	}
	if line["ValidatorTimeout"] != 1.0 || line["ValidatorAllowed"] != 0.0 || line["ValidatorRuns"] != 1.0 || line["ValidatorDuration"] != 1500.0 || line["Service"] != "registry" {
		t.Fatalf("metric members: %s", buf.String())
	}
	aws, _ := line["_aws"].(map[string]any)
	dirs, _ := aws["CloudWatchMetrics"].([]any)
	if _, ok := aws["Timestamp"].(float64); !ok || len(dirs) != 1 {
		t.Fatalf("_aws block: %s", buf.String())
	}
	dir := dirs[0].(map[string]any)
	if dir["Namespace"] != "ACME/Registry" {
		t.Fatalf("namespace: %s", buf.String())
	}
	// Every metric named in the directive is a root member, and so is every dimension.
	for _, mm := range dir["Metrics"].([]any) {
		name := mm.(map[string]any)["Name"].(string)
		if _, ok := line[name]; !ok {
			t.Errorf("metric %s is not a root member", name)
		}
	}
	for _, set := range dir["Dimensions"].([]any) {
		for _, d := range set.([]any) {
			if _, ok := line[d.(string)]; !ok {
				t.Errorf("dimension %s is not a root member", d)
			}
		}
	}
	if n := len(dir["Metrics"].([]any)); n != len(Outcomes)+2 {
		t.Fatalf("%d metrics, want runs + %d outcomes + duration", n, len(Outcomes))
	}
}
