package validator

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// hostileDeadline keeps the suite short; TestInfiniteLoopAtDefaultDeadline covers 5 s.
var hostileDeadline = map[bool]time.Duration{false: 1500 * time.Millisecond, true: 4 * time.Second}[raceEnabled]

// slack is how long past the deadline a run may take to be killed and reaped.
const slack = 1500 * time.Millisecond

type hostile struct {
	name string
	src  string
	want Outcome
	// layer, when set, is a phrase of the reason that names the layer that stopped it.
	layer string
}

// fn wraps a body as the validate function.
func fn(body string) string { return "function validate(input) {\n" + body + "\n}" }

var hostiles = []hostile{
	{"infinite loop", fn(`for (;;) {}`), OutcomeTimeout, "ran past its deadline"},
	{"loop that swallows exceptions", fn(`for (;;) { try { for (;;) {} } catch (e) {} finally { continue } }`), OutcomeTimeout, ""},
	{"top-level infinite loop", `while (true) {}` + "\n" + fn(`return {allow: true}`), OutcomeTimeout, ""},
	// The backreference sends goja to its backtracking engine, which does not see
	// interrupts: only the parent's kill ends it.
	{"catastrophic regexp", fn(`return {allow: /^(x+x+)+\1y$/.test("x".repeat(64)), reason: "r"}`), OutcomeTimeout, "was killed"},
	{"promise job storm", `(function loop() { Promise.resolve().then(loop) })();` + "\n" + fn(`return {allow: true}`), OutcomeTimeout, ""},
	{"getter that never returns", fn(`return {get allow() { for (;;) {} }, reason: "x"}`), OutcomeTimeout, ""},
	{"growing array", fn(`var a = []; for (;;) a.push(new Array(1 << 20));`), OutcomeMemory, "of heap"},
	{"doubling string", fn(`var s = "xxxxxxxx"; for (;;) { s += s; s.charCodeAt(s.length - 1); }`), OutcomeMemory, ""},
	{"many strings", fn(`var a = []; for (var i = 0; ; i++) a.push("k".repeat(100000) + i);`), OutcomeMemory, ""},
	{"one huge string", fn(`return {allow: false, reason: "x".repeat(2 ** 30).slice(0, 3)}`), OutcomeMemory, "memory limit"},
	{"one huge array", fn(`var a = new Array(2 ** 28).fill(0); return {allow: true}`), OutcomeMemory, ""},
	{"deep recursion", fn(`function f(n) { return f(n + 1) + 1 } return f(0)`), OutcomeMemory, "call stack"},
	{"recursion that catches", fn(`function f() { try { return f() } catch (e) { return f() } } return f()`), OutcomeMemory, ""},
	{"console spam forever", fn(`for (;;) console.log("spam".repeat(1000))`), OutcomeTimeout, ""},
	{"giant reason", fn(`return {allow: false, reason: "x".repeat(10000000)}`), OutcomeError, ""},
	{"giant result", fn(`return {allow: true, junk: new Array(10000).fill("x")}`), OutcomeError, ""},
	{"require", fn(`var fs = require("fs"); return {allow: true}`), OutcomeError, ""},
	{"process", fn(`return {allow: process.env.HOME !== undefined}`), OutcomeError, ""},
	{"fetch", fn(`fetch("http://127.0.0.1:8080/"); return {allow: true}`), OutcomeError, ""},
	{"dynamic import", fn(`import("fs"); return {allow: true}`), OutcomeError, ""},
	{"timers", fn(`setTimeout(function () {}, 1); return {allow: true}`), OutcomeError, ""},
	{"host objects via Function", fn(`var g = Function("return this")(); return {allow: g.process !== undefined || g.require !== undefined, reason: "no host"}`), OutcomeDenied, ""},
	{"GoError is gone", fn(`return {allow: typeof GoError !== "undefined", reason: "no GoError"}`), OutcomeDenied, ""},
	{"garbage result", fn(`return {allow: "yes please"}`), OutcomeError, ""},
	{"throw", fn(`throw new Error("hostile")`), OutcomeError, ""},
	{"throw a non-error", fn(`throw {toString: function () { for (;;) {} }}`), OutcomeTimeout, ""},
}

// TestHostileValidators: each hostile script ends within the deadline with the right
// outcome, and none is ever allowed.
func TestHostileValidators(t *testing.T) {
	// Scripts that must time out run against a short deadline; the others get the
	// full one, so that a slow machine cannot turn a memory bomb into a timeout.
	// Memory bombs get the smallest quota: the less they must allocate to reach it, the
	// less CPU they need before the deadline on a machine busy with other work.
	short := newPool(t, Config{Size: 16, Deadline: hostileDeadline, MemoryBytes: 64 << 20})
	full := newPool(t, Config{Size: 16, Deadline: MaxDeadline, MemoryBytes: 64 << 20})
	small := newPool(t, Config{Size: 16, Deadline: MaxDeadline, MemoryBytes: MinMemoryBytes})
	for _, h := range hostiles {
		t.Run(h.name, func(t *testing.T) {
			p := full
			switch h.want {
			case OutcomeTimeout:
				p = short
				// Wall-clock bound whatever the CPU contention: run these side by side.
				t.Parallel()
			case OutcomeMemory:
				p = small
			}
			deadline := p.Config().Deadline
			start := time.Now()
			res := run(t, p, h.src, sampleInput("alice"))
			took := time.Since(start)
			t.Logf("%-8s in %6.0f ms: %s", res.Outcome, float64(took.Microseconds())/1000, res.Reason)
			layer := h.layer
			if raceEnabled && layer == "of heap" {
				// The race detector's shadow memory counts against RLIMIT_DATA too, so the
				// OS limit may stop the script before the engine's heap watchdog does.
				layer = ""
			}
			if res.Outcome != h.want || !strings.Contains(res.Reason, layer) {
				t.Errorf("outcome %s (%s), want %s (%s)", res.Outcome, res.Reason, h.want, layer)
			}
			if took > deadline+slack {
				t.Errorf("took %s, deadline %s", took, deadline)
			}
			if len(res.Logs) > MaxLogBytes+64 {
				t.Errorf("logs of %d bytes kept", len(res.Logs))
			}
		})
	}
}

// TestNoHostHooks: the global scope holds the language's built-ins and console,
// nothing of Node, a browser or the Go host.
func TestNoHostHooks(t *testing.T) {
	p := newPool(t, Config{})
	res := run(t, p, fn(`
	  var names = ["require", "process", "fetch", "XMLHttpRequest", "WebSocket", "setTimeout", "setInterval",
	    "setImmediate", "queueMicrotask", "module", "exports", "__dirname", "Deno", "Bun", "GoError", "global",
	    "Buffer", "importScripts", "navigator", "location", "SharedArrayBuffer", "Atomics", "WebAssembly"];
	  var present = names.filter(function (n) { return typeof globalThis[n] !== "undefined" });
	  return {allow: false, reason: "present: [" + present.join(",") + "]"};`), sampleInput("alice"))
	if res.Outcome != OutcomeDenied || res.Reason != "present: []" {
		t.Fatalf("%+v", res)
	}
}

func TestInfiniteLoopAtDefaultDeadline(t *testing.T) {
	p := newPool(t, Config{})
	start := time.Now()
	res := run(t, p, fn(`for (;;) {}`), sampleInput("alice"))
	took := time.Since(start)
	t.Logf("%s after %s: %s", res.Outcome, took, res.Reason)
	if res.Outcome != OutcomeTimeout || took > MaxDeadline+slack {
		t.Fatalf("%+v after %s", res, took)
	}
}

// TestParserBomb: deeply nested brackets cost the parser seconds and a huge stack;
// they are checked in a child, which is stopped, and the registry stays flat.
func TestParserBomb(t *testing.T) {
	p := newPool(t, Config{Deadline: hostileDeadline})
	src := strings.Repeat("{", 30000) + strings.Repeat("}", 30000) + "\nfunction validate() { return {allow: true} }"
	start := time.Now()
	err := p.Check(context.Background(), []byte(src))
	if err == nil || time.Since(start) > hostileDeadline+slack {
		t.Fatalf("Check = %v after %s", err, time.Since(start))
	}
	t.Logf("Check after %s: %v", time.Since(start), err)
	res := run(t, p, src, sampleInput("alice"))
	if res.Allowed() {
		t.Fatalf("%+v", res)
	}
}

// TestParentMemoryStaysFlat: memory bombs grow the child, never the registry. The
// peak RSS (VmHWM, reset first) of this process is the measure.
func TestParentMemoryStaysFlat(t *testing.T) {
	p := newPool(t, Config{Deadline: MaxDeadline, MemoryBytes: 64 << 20})
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Skipf("cannot reset the peak RSS: %v", err)
	}
	before := procStatusKB(t, "VmRSS")
	for _, h := range hostiles {
		if h.want == OutcomeMemory {
			res := run(t, p, h.src, sampleInput("alice"))
			// The race detector slows the engine so much that a slow-growing bomb may
			// reach the deadline first; the child grew either way, which is the point.
			if res.Outcome != OutcomeMemory && !(raceEnabled && res.Outcome == OutcomeTimeout) {
				t.Fatalf("%s: %+v", h.name, res)
			}
		}
	}
	peak := procStatusKB(t, "VmHWM")
	grew := peak - before
	t.Logf("registry RSS %d KiB before, peak %d KiB while memory bombs ran in children (+%d KiB)", before, peak, grew)
	// The bombs asked for gigabytes; the parent only buffers their small answers.
	if grew > 32<<10 {
		t.Fatalf("the parent grew by %d KiB", grew)
	}
}

// TestOthersKeepRunningDuringHostiles: while hostile validators hold slots, trivial
// ones in the remaining slot keep completing, each well within its deadline.
func TestOthersKeepRunningDuringHostiles(t *testing.T) {
	const hostileRuns = 3
	hostileFor, loopFor, maxSlowest, minRuns := 3*time.Second, 2*time.Second, time.Second, 5
	if raceEnabled {
		// Race-detector children start and run several times slower.
		hostileFor, loopFor, maxSlowest, minRuns = MaxDeadline, 3*time.Second, 2500*time.Millisecond, 3
	}
	p := newPool(t, Config{Size: hostileRuns + 1, Deadline: hostileFor, MemoryBytes: 64 << 20})
	var wg sync.WaitGroup
	hostileDone := make(chan Outcome, hostileRuns)
	for _, src := range []string{fn(`for (;;) {}`), fn(`for (;;) { var a = new Array(1000).fill(1) }`), fn(`for (;;) console.log("x")`)} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := p.Run(context.Background(), []byte(src), sampleInput("alice"))
			if err != nil {
				t.Error(err)
			}
			hostileDone <- res.Outcome
		}()
	}
	for deadline := time.Now().Add(2 * time.Second); len(p.sem) < hostileRuns && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	var slowest time.Duration
	n := 0
	for time.Since(start) < loopFor {
		t0 := time.Now()
		res, err := p.Run(context.Background(), []byte(allowAlice), sampleInput("alice"))
		if err != nil || res.Outcome != OutcomeAllowed {
			t.Fatalf("trivial validation during hostiles: %+v %v", res, err)
		}
		slowest = max(slowest, time.Since(t0))
		n++
	}
	if len(hostileDone) != 0 {
		t.Fatalf("a hostile validator ended early; the trivial runs did not overlap it")
	}
	wg.Wait()
	close(hostileDone)
	for o := range hostileDone {
		if o != OutcomeTimeout {
			t.Errorf("hostile outcome %s", o)
		}
	}
	t.Logf("%d trivial validations completed while %d hostile ones ran; slowest %s", n, hostileRuns, slowest)
	if n < minRuns || slowest > maxSlowest {
		t.Fatalf("only %d trivial validations, slowest %s", n, slowest)
	}
}

func procStatusKB(t *testing.T, key string) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && k == key {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("%s missing from /proc/self/status", key)
	return 0
}

// TestHugeOutputIsCutOff: a child that writes without end is killed once it passes
// the stdout cap, long before the deadline, and the run fails closed.
func TestHugeOutputIsCutOff(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p := newPool(t, Config{Deadline: MaxDeadline, Executable: exe, Args: []string{floodFlag}})
	start := time.Now()
	res := run(t, p, allowAlice, sampleInput("alice"))
	took := time.Since(start)
	t.Logf("%s in %s: %s", res.Outcome, took, res.Reason)
	if res.Outcome != OutcomeError || !strings.Contains(res.Reason, "wrote more than") {
		t.Fatalf("%+v", res)
	}
	if took > MaxDeadline/2 {
		t.Fatalf("took %s: the flood was not cut off at the cap", took)
	}
}
