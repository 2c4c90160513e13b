package validator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"
)

// Defaults and bounds of Config.
const (
	DefaultSize        = 4
	DefaultDeadline    = MaxDeadline
	DefaultMemoryBytes = 128 << 20
	MinMemoryBytes     = 16 << 20
	MaxMemoryBytes     = 2 << 30
	DefaultStackDepth  = 2000
	MaxStackDepth      = 100_000
	DefaultRetryAfter  = time.Second
	// MaxSize bounds the pool: every slot is a process with its own memory quota.
	MaxSize = 256
)

// Fixed quotas of a child.
const (
	// childOpenFiles: stdin, stdout, stderr and the runtime's poller, with room.
	childOpenFiles = 16
	// childProcesses is RLIMIT_NPROC: it counts every task (thread) of the user, so it
	// is a backstop against a fork storm; seccomp is what stops fork itself.
	childProcesses = 4096
	// maxStdout bounds a child's response: reason, logs (JSON-escaped) and the report.
	maxStdout = 64 << 10
	// maxStderr keeps enough of a crash to tell out-of-memory from other failures.
	maxStderr = 16 << 10
)

// Config configures a Pool. The zero value is the default sandbox.
type Config struct {
	// Size is how many validators may run at once; a run beyond it is refused with
	// ErrBusy. Default: DefaultSize; at most MaxSize.
	Size int
	// Deadline is a run's wall-clock limit, after which the child is killed.
	// Default: 5s, the most allowed.
	Deadline time.Duration
	// MemoryBytes is the data and address space a child may map beyond its start-up
	// footprint; half of it is the script's heap quota. Default: 128 MiB;
	// 16 MiB to 2 GiB.
	MemoryBytes int64
	// StackDepth is the deepest JavaScript call stack. Default: 2000.
	StackDepth int
	// RetryAfter is the wait ErrBusy advises. Default: 1s.
	RetryAfter time.Duration
	// Executable and Args start a child. Default: this process's executable with
	// ChildFlag; its main must call ChildMain first.
	Executable string
	Args       []string
}

// Pool runs validators in sandboxed child processes, at most Size at once.
type Pool struct {
	cfg Config
	sem chan struct{}
}

// New checks cfg, fills in its defaults and returns a Pool.
func New(cfg Config) (*Pool, error) {
	var errs []error
	if cfg.Size == 0 {
		cfg.Size = DefaultSize
	}
	if cfg.Size < 1 || cfg.Size > MaxSize {
		errs = append(errs, fmt.Errorf("validator pool size %d: must be 1-%d", cfg.Size, MaxSize))
	}
	if cfg.Deadline == 0 {
		cfg.Deadline = DefaultDeadline
	}
	if cfg.Deadline < 10*time.Millisecond || cfg.Deadline > MaxDeadline {
		errs = append(errs, fmt.Errorf("validator deadline %s: must be 10ms-%s", cfg.Deadline, MaxDeadline))
	}
	if cfg.MemoryBytes == 0 {
		cfg.MemoryBytes = DefaultMemoryBytes
	}
	if cfg.MemoryBytes < MinMemoryBytes || cfg.MemoryBytes > MaxMemoryBytes {
		errs = append(errs, fmt.Errorf("validator memory %d bytes: must be %d MiB-%d MiB", cfg.MemoryBytes, MinMemoryBytes>>20, MaxMemoryBytes>>20))
	}
	if cfg.StackDepth == 0 {
		cfg.StackDepth = DefaultStackDepth
	}
	if cfg.StackDepth < 1 || cfg.StackDepth > MaxStackDepth {
		errs = append(errs, fmt.Errorf("validator stack depth %d: must be 1-%d", cfg.StackDepth, MaxStackDepth))
	}
	if cfg.RetryAfter == 0 {
		cfg.RetryAfter = DefaultRetryAfter
	}
	if cfg.RetryAfter < 0 {
		errs = append(errs, fmt.Errorf("validator retry-after %s: must be positive", cfg.RetryAfter))
	}
	if cfg.Executable == "" {
		exe, err := os.Executable()
		if err != nil {
			errs = append(errs, fmt.Errorf("finding this executable for the validator sandbox: %w", err))
		}
		cfg.Executable = exe
		if cfg.Args == nil {
			cfg.Args = []string{ChildFlag}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &Pool{cfg: cfg, sem: make(chan struct{}, cfg.Size)}, nil
}

// Config returns the pool's configuration with its defaults filled in.
func (p *Pool) Config() Config { return p.cfg }

// Run runs the validator src on in and returns how it ended. The only errors are
// ErrBusy (every slot taken: nothing ran) and ctx's own; every failure of the script
// or the sandbox is a Result whose outcome is not OutcomeAllowed.
func (p *Pool) Run(ctx context.Context, src []byte, in Input) (Result, error) {
	res := Result{SHA256: Hash(src)}
	if err := sourceProblem(src); err != nil {
		res.Outcome, res.Reason = OutcomeError, err.Error()
		return res, nil
	}
	if in.User.Permissions == nil {
		in.User.Permissions = []string{}
	}
	input, err := json.Marshal(in)
	if err != nil {
		res.Outcome, res.Reason = OutcomeError, "encoding the input: "+err.Error()
		return res, nil
	}
	out, err := p.spawn(ctx, childRequest{Mode: modeRun, Source: string(src), Input: input})
	if err != nil {
		return res, err
	}
	res.Outcome, res.Reason, res.Logs, res.Sandbox, res.Duration = out.Outcome, out.Reason, out.Logs, out.Sandbox, out.duration
	return res, nil
}

// Check refuses, with a *SourceError, a source that is too large, not UTF-8, does
// not parse or does not declare validate. The parse runs in a sandboxed child too: a
// crafted source can make the parser spend seconds and hundreds of MiB. It returns
// ErrBusy when every slot is taken.
func (p *Pool) Check(ctx context.Context, src []byte) error {
	if err := sourceProblem(src); err != nil {
		return err
	}
	out, err := p.spawn(ctx, childRequest{Mode: modeCheck, Source: string(src)})
	if err != nil {
		return err
	}
	switch out.Outcome {
	case OutcomeAllowed:
		return nil
	case OutcomeError:
		if out.crashed == "" {
			return &SourceError{Msg: out.Reason}
		}
	}
	return &SourceError{Msg: "the validator could not be checked: " + out.Reason}
}

// Probe starts a child that applies the sandbox and then tries what it forbids:
// reading and writing files, TCP, sockets, fork and exec, raising its limits. It
// reports the layers in force and each attempt.
func (p *Pool) Probe(ctx context.Context) (Sandbox, []Probe, error) {
	out, err := p.spawn(ctx, childRequest{Mode: modeProbe})
	if err != nil {
		return Sandbox{}, nil, err
	}
	if out.Outcome != OutcomeAllowed {
		return out.Sandbox, out.Probe, errors.New("sandbox probe failed: " + out.Reason)
	}
	return out.Sandbox, out.Probe, nil
}

// sourceProblem is the refusal of a source that cannot be a validator at all.
func sourceProblem(src []byte) error {
	switch {
	case len(src) == 0:
		return &SourceError{Msg: "the validator is empty"}
	case len(src) > MaxSourceBytes:
		return &SourceError{Msg: fmt.Sprintf("the validator is %d bytes; at most %d are accepted", len(src), MaxSourceBytes)}
	case !utf8.Valid(src):
		return &SourceError{Msg: "the validator is not UTF-8 text"}
	}
	return nil
}

// outcome is a child's answer as the parent saw it.
type outcome struct {
	childResponse
	duration time.Duration
	// crashed is set when the parent, not the child's response, decided the outcome.
	crashed string
}

// spawn runs one child for req and classifies how it ended.
func (p *Pool) spawn(ctx context.Context, req childRequest) (outcome, error) {
	select {
	case p.sem <- struct{}{}:
	default:
		return outcome{}, &BusyError{Size: p.cfg.Size, After: p.cfg.RetryAfter}
	}
	defer func() { <-p.sem }()
	if err := ctx.Err(); err != nil {
		return outcome{}, err
	}
	if !sandboxSupported {
		return failed(OutcomeError, "the validator sandbox needs Linux"), nil
	}

	d := p.cfg.Deadline
	// The child stops the script itself a fifth of the deadline early, so that even a
	// starved child answers "timeout" before the kill; the kill is the backstop.
	req.BudgetMillis = (d - max(d/5, 10*time.Millisecond)).Milliseconds()
	req.Limits = limits{
		MemoryBytes: p.cfg.MemoryBytes,
		StackDepth:  p.cfg.StackDepth,
		CPUSeconds:  int(math.Ceil(d.Seconds())) + 1,
		OpenFiles:   childOpenFiles,
		Processes:   childProcesses,
	}
	body, err := json.Marshal(req)
	if err != nil {
		return failed(OutcomeError, "encoding the sandbox request: "+err.Error()), nil
	}

	runCtx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	cmd := exec.CommandContext(runCtx, p.cfg.Executable, p.cfg.Args...)
	// Not nil: a nil Env would hand the child this process's environment, secrets
	// and AWS credentials included.
	cmd.Env = []string{}
	cmd.Dir = "/"
	cmd.Stdin = bytes.NewReader(body)
	var killOnce sync.Once
	kill := func() {
		killOnce.Do(func() {
			if cmd.Process != nil {
				killGroup(cmd.Process.Pid)
				_ = cmd.Process.Kill()
			}
		})
	}
	stdout := &capped{max: maxStdout, onOver: kill}
	stderr := &capped{max: maxStderr, onOver: func() {}}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.SysProcAttr = childAttr()
	cmd.Cancel = func() error { kill(); return nil }
	// After a kill, stop waiting for the output pipes soon.
	cmd.WaitDelay = 500 * time.Millisecond

	start := time.Now()
	if err := cmd.Start(); err != nil {
		return failed(OutcomeError, "starting the validator sandbox: "+err.Error()), nil
	}
	waitErr := cmd.Wait()
	out := classify(cmd.ProcessState, waitErr, stdout, stderr, runCtx, ctx, d, p.cfg.MemoryBytes)
	out.duration = time.Since(start)
	return out, nil
}

func failed(o Outcome, reason string) outcome {
	return outcome{childResponse: childResponse{Outcome: o, Reason: reason}, crashed: reason}
}

// classify turns a finished child into an outcome. Anything but a well-formed
// response from a child that exited 0 in time is a failure.
func classify(ps *os.ProcessState, waitErr error, stdout, stderr *capped, runCtx, ctx context.Context, d time.Duration, memoryBytes int64) outcome {
	errText := stderr.String()
	switch {
	case ctx.Err() != nil:
		return failed(OutcomeError, "the request was canceled while the validator ran")
	case errors.Is(runCtx.Err(), context.DeadlineExceeded):
		return failed(OutcomeTimeout, fmt.Sprintf("the validator ran past its %s deadline and was killed", d))
	case stdout.overflow():
		return failed(OutcomeError, fmt.Sprintf("the validator sandbox wrote more than %d bytes", maxStdout))
	case ps == nil:
		return failed(OutcomeError, "the validator sandbox did not run: "+fmt.Sprint(waitErr))
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		switch ws.Signal() {
		case syscall.SIGXCPU, syscall.SIGKILL:
			return failed(OutcomeTimeout, "the validator used up its CPU-time limit")
		case syscall.SIGSYS:
			return failed(OutcomeError, "the validator sandbox made a forbidden system call")
		default:
			return failed(OutcomeError, "the validator sandbox was killed by "+ws.Signal().String())
		}
	}
	if code := ps.ExitCode(); code != 0 {
		// The Go runtime dies in more than one way when its rlimits refuse it memory
		// (a fatal "out of memory", or a fault inside the collector); a child that
		// crashed after touching more than its heap quota died of memory either way.
		if outOfMemory(errText) || peakRSS(ps) > memoryBytes/2 {
			return failed(OutcomeMemory, "the validator exceeded its memory limit")
		}
		return failed(OutcomeError, fmt.Sprintf("the validator sandbox failed (exit %d): %s", code, clip(firstLine(strings.TrimSpace(errText)))))
	}
	var resp childResponse
	dec := json.NewDecoder(bytes.NewReader(stdout.Bytes()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&resp); err != nil || dec.More() {
		return failed(OutcomeError, "the validator sandbox answered malformed output")
	}
	if !resp.Outcome.valid() || len(resp.Reason) > MaxReasonBytes || len(resp.Logs) > 2*MaxLogBytes {
		return failed(OutcomeError, "the validator sandbox answered out of contract")
	}
	return outcome{childResponse: resp}
}

// outOfMemory recognises the Go runtime's death when the rlimits refuse it memory or
// its stack limit is reached.
func outOfMemory(stderr string) bool {
	for _, s := range []string{"out of memory", "cannot allocate memory", "failed to allocate", "stack exceeds", "stack overflow"} {
		if strings.Contains(stderr, s) {
			return true
		}
	}
	return false
}

// capped keeps the first max bytes written to it and calls onOver once when more
// arrive. It reports every write as complete so the child never blocks on a full pipe.
type capped struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	max    int
	over   bool
	onOver func()
}

func (c *capped) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if room := c.max - c.buf.Len(); len(b) > room {
		c.buf.Write(b[:max(room, 0)])
		if !c.over {
			c.over = true
			go c.onOver()
		}
		return len(b), nil
	}
	c.buf.Write(b)
	return len(b), nil
}

func (c *capped) overflow() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.over
}

func (c *capped) Bytes() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.buf.Bytes())
}

func (c *capped) String() string { return string(c.Bytes()) }
