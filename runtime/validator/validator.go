// Package validator runs the JavaScript validators attached to package versions:
// before a download starts, the version's validator decides, from a description of
// the package, the caller and the request, whether the download may go ahead.
//
// A validator is untrusted code, so it never runs in the registry's process. Each
// run re-executes the registry binary in its -validate mode (see [ChildMain]) as a
// child process that, before it reads a line of the script, lowers its own resource
// limits (CPU seconds, data and address space, open files, processes, file size),
// confines itself with Landlock (no filesystem, no TCP) where the kernel has it, and
// installs a seccomp allow-list filter (no open, socket, fork, exec, setrlimit). The
// parent gives it an empty environment and capped stdout/stderr, and kills its
// process group at the wall-clock deadline. Inside, the script runs on goja, an
// ECMAScript engine in Go, with no host bindings at all: no require, no process, no
// filesystem, no network, no timers; only the language's own built-ins and a console
// whose output is kept, bounded, for the audit log.
//
// Every failure fails closed: a validator that runs out of time or memory, throws,
// or returns anything but the result contract yields an outcome other than
// [OutcomeAllowed], and only that outcome lets a download proceed.
//
// The contract: the script declares a top-level function validate(input). input is
//
//	{package: {name, version, sha256, size, uploader, uploaded_at},
//	 user:    {name, permissions},
//	 request: {kind, time}}
//
// (times as RFC 3339 strings, kind "download" or "download_url"), and validate
// returns synchronously a plain object {allow: true|false, reason: "..."}: allow a
// boolean; reason a string of at most [MaxReasonBytes] bytes with no control
// characters, required and non-empty when allow is false, optional when it is true;
// no other own properties.
package validator

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// Limits of the contract.
const (
	// MaxSourceBytes is the largest validator source accepted.
	MaxSourceBytes = 64 << 10
	// MaxReasonBytes is the longest reason a validator may return.
	MaxReasonBytes = 512
	// MaxLogBytes is how much console output of one run is kept.
	MaxLogBytes = 4 << 10
	// MaxDeadline is the longest wall-clock time a run may take.
	MaxDeadline = 5 * time.Second
)

// Request kinds: what the caller asked for when the validator ran.
const (
	RequestDownload    = "download"
	RequestDownloadURL = "download_url"
)

// Outcome is how a run ended. Only OutcomeAllowed lets a download proceed.
type Outcome string

// The outcomes, as recorded in the audit trail and counted in the metrics.
const (
	OutcomeAllowed Outcome = "allowed"
	OutcomeDenied  Outcome = "denied"
	// OutcomeTimeout: the wall-clock deadline or the CPU-seconds limit was reached.
	OutcomeTimeout Outcome = "timeout"
	// OutcomeMemory: the heap, data or call-stack quota was exceeded.
	OutcomeMemory Outcome = "memory"
	// OutcomeError: the script threw, returned something outside the contract, did
	// not declare validate, or the sandbox could not run it.
	OutcomeError Outcome = "error"
)

// Outcomes lists every outcome, allowed first.
var Outcomes = []Outcome{OutcomeAllowed, OutcomeDenied, OutcomeTimeout, OutcomeMemory, OutcomeError}

func (o Outcome) valid() bool {
	for _, k := range Outcomes {
		if o == k {
			return true
		}
	}
	return false
}

// Input is what a validator is told about the download it decides on.
type Input struct {
	Package Package `json:"package"`
	User    User    `json:"user"`
	Request Request `json:"request"`
}

// Package describes the package version being downloaded.
type Package struct {
	Name       string    `json:"name"`
	Version    string    `json:"version"`
	SHA256     string    `json:"sha256"`
	Size       int64     `json:"size"`
	Uploader   string    `json:"uploader"`
	UploadedAt time.Time `json:"uploaded_at"`
}

// User is the caller.
type User struct {
	Name        string   `json:"name"`
	Permissions []string `json:"permissions"`
}

// Request is the request the validator gates.
type Request struct {
	// Kind is RequestDownload or RequestDownloadURL.
	Kind string    `json:"kind"`
	Time time.Time `json:"time"`
}

// Result is the outcome of one run.
type Result struct {
	Outcome Outcome
	// Reason is the validator's own reason for OutcomeAllowed and OutcomeDenied, and
	// what went wrong for the other outcomes.
	Reason string
	// Duration is the run's wall-clock time, process start to exit.
	Duration time.Duration
	// SHA256 is the hex SHA-256 of the validator source that ran.
	SHA256 string
	// Logs is the script's console output, at most MaxLogBytes.
	Logs string
	// Sandbox says which confinement layers were in force in the child.
	Sandbox Sandbox
}

// Allowed reports whether the download may proceed.
func (r Result) Allowed() bool { return r.Outcome == OutcomeAllowed }

// Sandbox is what the child applied to itself before running a script.
type Sandbox struct {
	// Rlimits: the CPU, data, address-space, file, process and size limits were set.
	Rlimits bool `json:"rlimits"`
	// Seccomp: the system-call allow-list is installed (with no_new_privs).
	Seccomp bool `json:"seccomp"`
	// LandlockABI is the Landlock ABI version enforced, 0 when the kernel has none.
	LandlockABI int `json:"landlock_abi"`
	// Env is the number of environment variables the child saw; always 0.
	Env int `json:"env"`
	// Notes says why a layer is missing, empty when all are in force.
	Notes []string `json:"notes,omitempty"`
}

// ErrBusy is matched (errors.Is) by the error Run and Check return when every
// sandbox slot is taken; the error also carries RetryAfter.
var ErrBusy = errors.New("validator sandbox busy")

// BusyError is the refusal when the pool is full: the caller should answer 503
// with Retry-After rather than queue without bound.
type BusyError struct {
	Size  int
	After time.Duration
}

func (e *BusyError) Error() string {
	return fmt.Sprintf("all %d validator sandboxes are busy; retry later", e.Size)
}

// Is makes errors.Is(err, ErrBusy) hold.
func (e *BusyError) Is(target error) bool { return target == ErrBusy }

// RetryAfter is how long the caller should wait before retrying.
func (e *BusyError) RetryAfter() time.Duration { return e.After }

// SourceError says why a validator source is refused: too large, not UTF-8, a
// syntax error (with line and column), or no validate function.
type SourceError struct {
	Msg string
}

func (e *SourceError) Error() string { return e.Msg }

// Hash is the hex SHA-256 of a validator source.
func Hash(src []byte) string {
	sum := sha256.Sum256(src)
	return hex.EncodeToString(sum[:])
}
