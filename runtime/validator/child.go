package validator

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"syscall"
	"time"
)

// ChildFlag is the first argument that puts the registry binary in its sandbox mode.
const ChildFlag = "-validate"

// Modes of a child run.
const (
	modeRun   = "run"
	modeCheck = "check"
	modeProbe = "probe"
)

// maxRequestBytes bounds what a child reads from its stdin: the source, the input
// and the limits.
const maxRequestBytes = 2*MaxSourceBytes + 64<<10

// childRequest is what the parent writes to a child's stdin.
type childRequest struct {
	Mode   string          `json:"mode"`
	Source string          `json:"source,omitempty"`
	Input  json.RawMessage `json:"input,omitempty"`
	// BudgetMillis is how long after its start the child interrupts the script; the
	// parent kills it a little later.
	BudgetMillis int64  `json:"budget_ms"`
	Limits       limits `json:"limits"`
}

// limits are the quotas the child sets on itself.
type limits struct {
	// MemoryBytes is how much data and address space the child may add to what it
	// had mapped when it started; the script's heap may use half of it.
	MemoryBytes int64 `json:"memory_bytes"`
	StackDepth  int   `json:"stack_depth"`
	CPUSeconds  int   `json:"cpu_seconds"`
	OpenFiles   int   `json:"open_files"`
	Processes   int   `json:"processes"`
}

// childResponse is what a child writes to its stdout, once, before it exits 0.
type childResponse struct {
	Outcome Outcome `json:"outcome"`
	Reason  string  `json:"reason"`
	Logs    string  `json:"logs,omitempty"`
	Sandbox Sandbox `json:"sandbox"`
	Probe   []Probe `json:"probe,omitempty"`
}

// Probe is one attempt the sandbox probe made after a confinement layer was applied.
type Probe struct {
	// Layer is the layer in force when the attempt was made: rlimits, landlock, seccomp.
	Layer string `json:"layer"`
	// Attempt names what was tried.
	Attempt string `json:"attempt"`
	// Blocked reports whether it failed.
	Blocked bool `json:"blocked"`
	// Detail is the error (or what succeeded).
	Detail string `json:"detail"`
}

// ChildMain runs the validator sandbox when the process was started with ChildFlag
// as its first argument, and never returns then; otherwise it returns at once. Call
// it first thing in main (and in TestMain of tests that run validators), before
// anything reads the environment, opens files or starts goroutines.
func ChildMain() {
	if len(os.Args) < 2 || os.Args[1] != ChildFlag {
		return
	}
	code := childRun(os.Stdin, os.Stdout)
	// Nothing is buffered (the response went out in one write), so the exit hooks
	// have nothing to flush; skipping them spares race-detector builds a 1 s pause.
	syscall.Exit(code)
}

// childRun reads one request, confines the process and answers. It returns the exit
// code: 0 whenever it wrote a response.
func childRun(stdin io.Reader, stdout io.Writer) int {
	start := time.Now()
	// One thread runs JavaScript; more Ps would only spend the CPU quota on GC.
	runtime.GOMAXPROCS(1)
	// A goroutine stack this deep is a runaway recursion in Go code; fail fast.
	debug.SetMaxStack(64 << 20)
	answer := func(r childResponse) int {
		b, err := json.Marshal(r)
		if err != nil {
			return 3
		}
		if _, err := stdout.Write(b); err != nil {
			return 3
		}
		return 0
	}
	raw, err := io.ReadAll(io.LimitReader(stdin, maxRequestBytes+1))
	if err != nil || len(raw) > maxRequestBytes {
		return answer(childResponse{Outcome: OutcomeError, Reason: "sandbox request unreadable or too large"})
	}
	var req childRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		return answer(childResponse{Outcome: OutcomeError, Reason: "sandbox request malformed"})
	}
	if err := req.Limits.valid(); err != nil {
		return answer(childResponse{Outcome: OutcomeError, Reason: "sandbox request: " + err.Error()})
	}
	heap := uint64(req.Limits.MemoryBytes / 2)
	debug.SetMemoryLimit(int64(heap))

	sb, probes, err := confine(req.Limits, req.Mode == modeProbe)
	sb.Env = len(os.Environ())
	if err != nil {
		return answer(childResponse{Outcome: OutcomeError, Reason: "sandbox setup failed: " + err.Error(), Sandbox: sb, Probe: probes})
	}
	switch req.Mode {
	case modeProbe:
		return answer(childResponse{Outcome: OutcomeAllowed, Reason: "probe", Sandbox: sb, Probe: probes})
	case modeCheck:
		if err := checkSource(req.Source); err != nil {
			return answer(childResponse{Outcome: OutcomeError, Reason: clip(err.Error()), Sandbox: sb})
		}
		return answer(childResponse{Outcome: OutcomeAllowed, Reason: "ok", Sandbox: sb})
	case modeRun:
		v := evaluate(req.Source, req.Input, engineLimits{
			Deadline:   start.Add(time.Duration(req.BudgetMillis) * time.Millisecond),
			HeapBytes:  heap,
			StackDepth: req.Limits.StackDepth,
		})
		return answer(childResponse{Outcome: v.Outcome, Reason: v.Reason, Logs: v.Logs, Sandbox: sb})
	default:
		return answer(childResponse{Outcome: OutcomeError, Reason: fmt.Sprintf("unknown sandbox mode %q", req.Mode), Sandbox: sb})
	}
}

func (l limits) valid() error {
	switch {
	case l.MemoryBytes < 8<<20:
		return fmt.Errorf("memory_bytes %d below 8 MiB", l.MemoryBytes)
	case l.StackDepth < 1:
		return fmt.Errorf("stack_depth %d below 1", l.StackDepth)
	case l.CPUSeconds < 1:
		return fmt.Errorf("cpu_seconds %d below 1", l.CPUSeconds)
	case l.OpenFiles < 4:
		return fmt.Errorf("open_files %d below 4", l.OpenFiles)
	case l.Processes < 1:
		return fmt.Errorf("processes %d below 1", l.Processes)
	}
	return nil
}
