package localenv

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/acme/module-registry/app/config"
	"github.com/acme/module-registry/app/tfmirror"
)

// synth synthesizes the stack with the cdktf CLI for the emulator emu and returns the
// environment for the CLI's Terraform runs. Where the machine has a provider mirror (see
// app/tfmirror) Terraform is pointed at it and a missing provider lock file is written
// from it: the CLI's own first lock asks the registry even when a mirror is configured.
func (e *Env) synth(ctx context.Context, cfg config.Config, emu EmulatorState) ([]string, error) {
	vars := e.stackVars(emu.Endpoint)
	vars["ACME_ACCOUNT_ID"] = cfg.AccountID
	mirror := tfmirror.Detect()
	rc, err := tfmirror.WriteCLIConfigFor(mirror, e.path(terraformRC))
	if err != nil {
		return nil, fmt.Errorf("writing the Terraform CLI configuration: %w", err)
	}
	if rc != "" {
		vars["TF_CLI_CONFIG_FILE"] = rc
	}
	env := withEnv(os.Environ(), vars)
	filtered := withoutJSIIWaitRace(e.Stdout) // the CLI writes the app's messages to stdout
	synth := *e
	synth.Stdout = filtered
	err = synth.run(ctx, env, CDKTF, "synth", "--output", e.OutDir)
	if err := errors.Join(err, filtered.Flush(nil)); err != nil {
		return nil, err
	}
	if err := tfmirror.LockProviders(mirror, filepath.Join(e.OutDir, "stacks", Stack)); err != nil {
		return nil, err
	}
	return env, nil
}

// cdktf runs one cdktf CLI command on the synthesized stack.
func (e *Env) cdktf(ctx context.Context, env []string, command string, args ...string) error {
	return e.run(ctx, env, CDKTF, append([]string{command, Stack, "--skip-synth", "--output", e.OutDir}, args...)...)
}

// Outputs are the stack's outputs as cdktf deploy writes them.
type Outputs map[string]any

// ReadOutputs reads the stack's outputs from a cdktf --outputs-file.
func ReadOutputs(path string) (Outputs, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the stack's outputs: %w", err)
	}
	var all map[string]Outputs
	if err := json.Unmarshal(b, &all); err != nil {
		return nil, fmt.Errorf("%s is not a cdktf outputs file: %w", path, err)
	}
	out, ok := all[Stack]
	if !ok {
		return nil, fmt.Errorf("%s holds no outputs of the stack %q", path, Stack)
	}
	return out, nil
}

// String returns the output name as text; it fails naming the output when it is missing
// or not a string.
func (o Outputs) String(name string) (string, error) {
	v, ok := o[name].(string)
	if !ok || v == "" {
		return "", fmt.Errorf("the stack has no output %q", name)
	}
	return v, nil
}

// Print writes one "  name = value" line per output, sorted by name; values that are
// not text are written as JSON.
func (o Outputs) Print(w io.Writer) {
	names := make([]string, 0, len(o))
	for k := range o {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, k := range names {
		v, ok := o[k].(string)
		if !ok {
			j, _ := json.Marshal(o[k])
			v = string(j)
		}
		fmt.Fprintf(&b, "  %s = %s\n", k, v)
	}
	_, _ = io.WriteString(w, b.String())
}

// lineFilter writes what filter makes of each line (nil drops it) to w. Lines are passed
// whole, the newline included; Flush writes a last unterminated one.
type lineFilter struct {
	w       io.Writer
	filter  func(line []byte) []byte
	partial []byte
}

func (f *lineFilter) Write(p []byte) (int, error) {
	f.partial = append(f.partial, p...)
	for {
		i := bytes.IndexByte(f.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		if out := f.filter(f.partial[:i+1]); len(out) > 0 {
			if _, err := f.w.Write(out); err != nil {
				return 0, err
			}
		}
		f.partial = f.partial[i+1:]
	}
}

// Flush writes the last line if it has no newline, and tail.
func (f *lineFilter) Flush(tail []byte) error {
	rest := append(f.partial, tail...)
	f.partial = nil
	if len(rest) == 0 {
		return nil
	}
	_, err := f.w.Write(rest)
	return err
}

var (
	ansiEscape = regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]`)
	ansiStyle  = regexp.MustCompile(`\x1b\[[0-9;]*m`)
	// jsiiWaitRace is what the cdktf CLI makes of a message of the Go jsii runtime
	// (jsii-runtime-go v1.106.0) that waits twice for its node process when the app
	// closes it: the second wait finds the process reaped. Synth has succeeded by then.
	jsiiWaitRace = regexp.MustCompile(`(\x1b\[[0-9;]*m)*\[[^]\n]*\] \[ERROR\] default - (\x1b\[[0-9;]*m)*Runtime process exited abnormally: waitid: no child processes`)
)

// withoutJSIIWaitRace filters synth's output: it drops the misleading jsiiWaitRace message.
func withoutJSIIWaitRace(w io.Writer) *lineFilter {
	return &lineFilter{w: w, filter: func(line []byte) []byte {
		if !jsiiWaitRace.Match(line) {
			return line
		}
		if rest := jsiiWaitRace.ReplaceAll(line, nil); len(bytes.TrimSpace(ansiEscape.ReplaceAll(rest, nil))) > 0 {
			return rest
		}
		return nil
	}}
}

// outputsFilter filters cdktf deploy's output: it drops the two listings of the stack's
// outputs printed after apply, Terraform's "Outputs:" block and cdktf's own summary,
// wrapped mid-value to the terminal's width, so that Up prints them once, sorted and
// unwrapped. The listings run from Terraform's "Outputs:" line to cdktf's "The outputs
// have been written to ..." (kept).
type outputsFilter struct {
	*lineFilter
	skip   bool
	styles []byte // colour codes of the dropped lines, replayed so the terminal's state is as cdktf left it
}

func newOutputsFilter(w io.Writer) *outputsFilter {
	f := &outputsFilter{}
	f.lineFilter = &lineFilter{w: w, filter: f.line}
	return f
}

func (f *outputsFilter) line(line []byte) []byte {
	text := strings.TrimSpace(ansiEscape.ReplaceAllString(string(line), ""))
	text = strings.TrimSpace(strings.TrimPrefix(text, Stack)) // Terraform's lines carry the stack's name
	switch {
	case !f.skip && text == "Outputs:":
		f.skip = true
	case f.skip && strings.HasPrefix(text, "The outputs have been written to"):
		f.skip = false
		line = append(f.styles, line...)
		f.styles = nil
	}
	if f.skip {
		f.styles = append(f.styles, bytes.Join(ansiStyle.FindAll(line, -1), nil)...)
		return nil
	}
	return line
}

// Flush writes what is left, including the styles of a listing that did not end.
func (f *outputsFilter) Flush() error {
	styles := f.styles
	f.styles = nil
	return f.lineFilter.Flush(styles)
}
