// Package localenv runs the registry's local environment, the one `make up` gives: the
// AWS emulator, the whole stack deployed to it with the cdktf CLI, and the registry as a
// local process with the environment of the deployed ECS task definition, checked by the
// smoke sequence. `make down` takes it apart again, `make diff` plans against it, and
// `make up-check` runs up, diff and down in a directory of its own.
//
// The emulator and the registry run detached (their own session, output in a log file)
// so they outlive the command that started it; their process ids are kept in the run
// directory, and every wait for one of them ends as soon as it exits.
//
//	e := localenv.New(os.Stdout, os.Stderr)
//	err := e.Up(ctx)
package localenv

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/acme/module-registry/app/config"
)

// Defaults of Env.
const (
	DefaultRunDir       = ".run"
	DefaultOutDir       = "cdktf.out"
	DefaultRegistryAddr = "127.0.0.1:8080"
	// CDKTF is the project-local cdktf CLI that `make tools` installs.
	CDKTF = "tools/node_modules/.bin/cdktf"
	// Stack is the stack deployed.
	Stack = "registry"
)

// AddrVar names the variable that moves the registry to another address.
const AddrVar = "REGISTRY_ADDR"

// Files in the run directory.
const (
	emulatorStateFile = "emulator.json"
	emulatorLog       = "emulator.log"
	emulatorBinary    = "bin/emulator"
	registryBinary    = "bin/registry"
	registryPIDFile   = "registry.pid"
	registryLog       = "registry.log"
	outputsFile       = "outputs.json"
	terraformRC       = "terraform.rc"
	stateDir          = "state"
	imageDir          = "image"
	rotationZip       = "lambda/rotate-secret.zip"
)

// Env is one local environment. Paths are relative to the repository root, where the
// commands run.
type Env struct {
	// RunDir holds the emulator's state and log, the binaries, what synth builds (the
	// runtime image, the rotation function's zip), the registry's pid and log, Terraform
	// state and the stack's outputs. Default DefaultRunDir.
	RunDir string
	// OutDir receives the synthesized stacks. Default DefaultOutDir.
	OutDir string
	// RegistryAddr is the registry's listen address. Default $REGISTRY_ADDR, else
	// DefaultRegistryAddr.
	RegistryAddr string
	// Getenv reads the caller's environment (the ACME_* settings). Default os.Getenv.
	Getenv func(string) string
	// Stdout and Stderr receive progress and the output of every command run.
	Stdout, Stderr io.Writer

	// emulatorProgram and registryProgram, when set, return the executables to start
	// instead of building them; tests start fakes with them.
	emulatorProgram func(context.Context) (string, error)
	registryProgram func(context.Context) (string, error)
}

// New returns the default environment (.run, cdktf.out, $REGISTRY_ADDR) writing to
// stdout and stderr.
func New(stdout, stderr io.Writer) *Env {
	return (&Env{Stdout: stdout, Stderr: stderr}).withDefaults()
}

func (e *Env) withDefaults() *Env {
	if e.Getenv == nil {
		e.Getenv = os.Getenv
	}
	if e.RunDir == "" {
		e.RunDir = DefaultRunDir
	}
	if e.OutDir == "" {
		e.OutDir = DefaultOutDir
	}
	if e.RegistryAddr == "" {
		e.RegistryAddr = e.Getenv(AddrVar)
	}
	if e.RegistryAddr == "" {
		e.RegistryAddr = DefaultRegistryAddr
	}
	if e.Stdout == nil {
		e.Stdout = io.Discard
	}
	if e.Stderr == nil {
		e.Stderr = e.Stdout
	}
	return e
}

// path is name inside the run directory.
func (e *Env) path(name string) string { return filepath.Join(e.RunDir, filepath.FromSlash(name)) }

// abs makes path absolute; the executables are started, and recognised, by absolute path.
func (e *Env) abs(path string) string {
	if p, err := filepath.Abs(path); err == nil {
		return p
	}
	return path
}

func (e *Env) printf(format string, a ...any) { fmt.Fprintf(e.Stdout, format, a...) }

// Config validates the local stack's configuration before anything starts, so a bad
// setting is reported naming its variable instead of making the emulator or synth fail
// later. An exported ACME_ENV other than local is refused rather than overridden.
func (e *Env) Config() (config.Config, error) {
	if v := strings.TrimSpace(e.Getenv("ACME_ENV")); v != "" && v != string(config.Local) {
		return config.Config{}, fmt.Errorf("ACME_ENV=%s is set, but make up, diff and down work on the local stack on the emulator only: "+
			"unset ACME_ENV (deploying to a real account is described in README.md, Deploying to a real account)", v)
	}
	local := e.stackVars("")
	cfg, err := config.Load(func(name string) string {
		if v, ok := local[name]; ok {
			return v
		}
		return e.Getenv(name)
	})
	if err != nil {
		return cfg, fmt.Errorf("the local stack's configuration is invalid:\n%w", err)
	}
	return cfg, nil
}

// stackVars are the settings of the local stack on the emulator at endpoint; "" leaves
// the endpoint unset (its default), for validating before the emulator runs.
func (e *Env) stackVars(endpoint string) map[string]string {
	return map[string]string{
		"ACME_ENV":          string(config.Local),
		"ACME_STATE_DIR":    e.path(stateDir),
		"ACME_IMAGE_LAYOUT": e.path(imageDir),
		"ACME_ROTATION_ZIP": e.path(rotationZip),
		"ACME_AWS_ENDPOINT": endpoint,
		// jsii prints an end-of-life banner on every synth under Node 20.
		"JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
		"CHECKPOINT_DISABLE":                            "1",
	}
}

// preflight is Config and requireTools: what a command that synthesizes checks first.
func (e *Env) preflight() (config.Config, error) {
	cfg, err := e.Config()
	if err == nil {
		err = e.requireTools()
	}
	return cfg, err
}

// requireTools reports a missing cdktf CLI or Terraform with what installs it.
func (e *Env) requireTools() error {
	if _, err := os.Stat(CDKTF); err != nil {
		return fmt.Errorf("the cdktf CLI is not installed at %s: run make tools (npm ci in tools/)", CDKTF)
	}
	if _, err := exec.LookPath("terraform"); err != nil {
		return fmt.Errorf("terraform is not on PATH: install Terraform >= 1.10 (https://developer.hashicorp.com/terraform/install)")
	}
	return nil
}

// run runs a command to completion with env and the Env's output. Cancelling ctx
// interrupts it as Ctrl-C would, so Terraform can release its state.
func (e *Env) run(ctx context.Context, env []string, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = e.Stdout, e.Stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = time.Minute
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w", strings.Join(append([]string{name}, args...), " "), err)
	}
	return nil
}

// withEnv returns env with each of vars set, replacing earlier values.
func withEnv(env []string, vars map[string]string) []string {
	out := make([]string, 0, len(env)+len(vars))
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if _, replaced := vars[k]; !replaced {
			out = append(out, kv)
		}
	}
	for k, v := range vars {
		out = append(out, k+"="+v)
	}
	return out
}

// InstallCDKTF installs the project-local cdktf CLI with npm from tools/package-lock.json.
func (e *Env) InstallCDKTF(ctx context.Context) error {
	if _, err := exec.LookPath("npm"); err != nil {
		return fmt.Errorf("npm not found: install Node.js 20 or newer (it ships npm)")
	}
	if err := e.run(ctx, os.Environ(), "npm", "ci", "--prefix", "tools", "--no-audit", "--no-fund", "--loglevel=error"); err != nil {
		return err
	}
	// make compares the CLI's time with the lock file's: npm keeps the package's own.
	now := time.Now()
	return os.Chtimes(CDKTF, now, now)
}
