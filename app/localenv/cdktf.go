package localenv

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/acme/module-registry/app/config"
	"github.com/acme/module-registry/app/tfmirror"
	"github.com/acme/module-registry/stacks"
)

// synth synthesizes the stack for the emulator emu and returns the environment for the
// cdktf CLI's Terraform runs, which points the provider at emu (stacks.EmulatorEnv). It runs the app as `cdktf synth` does (see synthApp); the CLI
// then deploys, plans or destroys the synthesized stack with --skip-synth. Where the
// machine has a provider mirror (see app/tfmirror) Terraform is pointed at it and a
// missing provider lock file is written from it: the CLI's own first lock asks the
// registry even when a mirror is configured.
func (e *Env) synth(ctx context.Context, cfg config.Config, emu EmulatorState) ([]string, error) {
	vars := e.stackVars(emu.Endpoint)
	vars["ACME_ACCOUNT_ID"] = cfg.AccountID
	maps.Copy(vars, stacks.EmulatorEnv(emu.Endpoint))
	mirror := tfmirror.Detect()
	rc, err := tfmirror.WriteCLIConfigFor(mirror, e.path(terraformRC))
	if err != nil {
		return nil, fmt.Errorf("writing the Terraform CLI configuration: %w", err)
	}
	if rc != "" {
		vars["TF_CLI_CONFIG_FILE"] = rc
		// The mirror is a local copy already; the CLI's plugin cache would only add a
		// second copy for every init to install from and verify.
		vars["CDKTF_DISABLE_PLUGIN_CACHE_ENV"] = "true"
	}
	env := withEnv(os.Environ(), vars)
	if err := e.synthApp(ctx, env); err != nil {
		return nil, err
	}
	if err := tfmirror.LockProviders(mirror, filepath.Join(e.OutDir, "stacks", Stack)); err != nil {
		return nil, err
	}
	return env, nil
}

// cdktfJSON is the project's cdktf configuration.
const cdktfJSON = "cdktf.json"

// synthApp runs the app command of cdktf.json with env, as `cdktf synth --output OutDir`
// runs it: through a shell in the repository root, with CDKTF_OUTDIR and the CLI's
// context. Running it directly spares a second start of the CLI, which deploys
// afterwards anyway. Unlike the CLI it leaves CDKTF_CONTINUE_SYNTH_ON_ERROR_ANNOTATIONS
// unset, so the app itself fails listing every error annotation. It checks that the app
// synthesized the stack and says so.
func (e *Env) synthApp(ctx context.Context, env []string) error {
	command, err := appCommand(cdktfJSON)
	if err != nil {
		return err
	}
	vars := map[string]string{"CDKTF_OUTDIR": e.OutDir, "SYNTH_HCL_OUTPUT": "false"}
	for name, value := range map[string]string{ // the CLI's defaults for the app, unless set
		"CDKTF_CONTEXT_JSON": `{"cdktfRelativeModules":[]}`,
		"NODE_OPTIONS":       "--max-old-space-size=4096",
	} {
		if envValue(env, name) == "" {
			vars[name] = value
		}
	}
	filtered := withoutJSIIWaitRace(e.Stdout)
	synth := *e
	synth.Stdout, synth.Stderr = filtered, filtered // one writer: exec calls it from one goroutine
	manifest := filepath.Join(e.OutDir, "manifest.json")
	if err := os.Remove(manifest); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	e.printf("Synthesizing (%s)\n", command)
	err = synth.run(ctx, withEnv(env, vars), "sh", "-c", command)
	if err := errors.Join(err, filtered.Flush(nil)); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	stacks, err := synthesizedStacks(manifest)
	if err != nil {
		return err
	}
	if !slices.Contains(stacks, Stack) {
		return fmt.Errorf("synth: the app synthesized the stacks %v, not %q", stacks, Stack)
	}
	e.printf("Generated Terraform code for the stacks: %s\n", strings.Join(stacks, ", "))
	return nil
}

// appCommand reads the app command from the cdktf configuration at path.
func appCommand(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("reading the cdktf configuration: %w", err)
	}
	var c struct {
		App string `json:"app"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return "", fmt.Errorf("%s is not a cdktf configuration: %w", path, err)
	}
	if strings.TrimSpace(c.App) == "" {
		return "", fmt.Errorf("%s names no app command", path)
	}
	return c.App, nil
}

// synthesizedStacks returns the names of the stacks in a cdktf manifest, sorted.
func synthesizedStacks(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("synth: the app wrote no manifest (did it call Synth?): %w", err)
	}
	var m struct {
		Stacks map[string]json.RawMessage `json:"stacks"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("synth: %s is not a cdktf manifest: %w", path, err)
	}
	names := make([]string, 0, len(m.Stacks))
	for name := range m.Stacks {
		names = append(names, name)
	}
	sort.Strings(names)
	return names, nil
}

// envValue is the value of name in env, "" when unset.
func envValue(env []string, name string) string {
	v := ""
	for _, kv := range env {
		if k, val, _ := strings.Cut(kv, "="); k == name {
			v = val
		}
	}
	return v
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

// Flush writes what filter makes of the last line if it has no newline, and tail.
func (f *lineFilter) Flush(tail []byte) error {
	rest := f.partial
	f.partial = nil
	if len(rest) > 0 {
		rest = f.filter(rest)
	}
	rest = append(rest, tail...)
	if len(rest) == 0 {
		return nil
	}
	_, err := f.w.Write(rest)
	return err
}

var (
	ansiEscape = regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]`)
	ansiStyle  = regexp.MustCompile(`\x1b\[[0-9;]*m`)
	// jsiiWaitRace is a message of the Go jsii runtime (jsii-runtime-go v1.106.0), which
	// waits twice for its node process when the app closes it: the second wait finds the
	// process reaped. Synth has succeeded by then. The runtime writes it to stderr with
	// no newline; the cdktf CLI, when it runs the app, logs it as an error.
	jsiiWaitRace = regexp.MustCompile(`((\x1b\[[0-9;]*m)*\[[^]\n]*\] \[ERROR\] default - (\x1b\[[0-9;]*m)*)?Runtime process exited abnormally: waitid: no child processes`)
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
