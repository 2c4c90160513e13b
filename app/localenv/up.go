package localenv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/acme/module-registry/app/config"
	"github.com/acme/module-registry/app/smoke"
)

// Up is `make up`: it starts the emulator, synthesizes the stack while it starts (synth
// builds the runtime image) and deploys it with the cdktf CLI (deploy pushes the image),
// restarts the registry, the image's binary, from the deployed task definition, runs the
// smoke sequence and prints the outputs and how to log in. Everything that can be
// checked up front (the settings, the tools, the registry's address) is checked before
// anything starts.
func (e *Env) Up(ctx context.Context) error {
	cfg, err := e.preflight()
	if err != nil {
		return err
	}
	// The old registry goes first so that its address counts as free.
	if err := e.StopRegistry(); err != nil {
		return err
	}
	if err := CheckAddrFree(e.RegistryAddr); err != nil {
		return err
	}
	emu, env, err := e.startEmulatorAndSynth(ctx, cfg)
	if err != nil {
		return err
	}
	filtered := newOutputsFilter(e.Stdout)
	deploy := *e
	deploy.Stdout = filtered
	err = deploy.cdktf(ctx, env, "deploy", "--auto-approve", "--outputs-file", e.path(outputsFile),
		"--outputs-file-include-sensitive-outputs=false")
	if err := errors.Join(err, filtered.Flush()); err != nil {
		return err
	}
	outputs, err := ReadOutputs(e.path(outputsFile))
	if err != nil {
		return err
	}
	taskDef, err := outputs.String("task_definition_arn")
	if err != nil {
		return err
	}
	secret, err := outputs.String("admin_password_secret")
	if err != nil {
		return err
	}
	if err := e.StartRegistry(ctx, emu, taskDef); err != nil {
		return err
	}
	e.printf("\n")
	if err := e.smoke(ctx, emu, secret); err != nil {
		return err
	}
	url := URL(e.RegistryAddr)
	e.printf("\nDeployed to the emulator at %s:\n", emu.Endpoint)
	outputs.Print(e.Stdout)
	e.printf("\nThe registry is serving at %s (log: %s).\n", url, e.path(registryLog))
	e.printf("Log in as admin (the password is in Secrets Manager, secret %s) and list the packages:\n", secret)
	e.printf("%s", loginSteps(url, e.invocation("admin-password")))
	return nil
}

// startEmulatorAndSynth starts the emulator and synthesizes the stack for it while it
// starts: synth needs only its endpoint, known at once. It returns once both are done;
// an emulator that fails to start ends the synth too.
func (e *Env) startEmulatorAndSynth(ctx context.Context, cfg config.Config) (EmulatorState, []string, error) {
	pending, err := e.startEmulator(ctx, cfg)
	if err != nil {
		return EmulatorState{}, nil, err
	}
	if pending.started {
		e.printf("emulator starting at %s\n", pending.Endpoint)
	}
	synthCtx, cancelSynth := context.WithCancel(ctx)
	defer cancelSynth()
	type ready struct {
		state EmulatorState
		err   error
	}
	started := make(chan ready, 1)
	go func() {
		s, err := pending.wait(ctx)
		if err != nil {
			cancelSynth()
		}
		started <- ready{s, err}
	}()
	env, synthErr := e.synth(synthCtx, cfg, EmulatorState{Endpoint: pending.Endpoint})
	emu := <-started
	if emu.err != nil {
		return EmulatorState{}, nil, emu.err
	}
	if pending.started {
		e.printf("emulator running at %s\n", emu.state.Endpoint)
	}
	return emu.state, env, synthErr
}

// loginSteps are shell lines that log in to the registry at url with the admin password
// printed by passwordCommand and list the packages with the token; they work as pasted.
func loginSteps(url, passwordCommand string) string {
	return fmt.Sprintf(`  PASSWORD=$(%[1]s)
  TOKEN=$(curl -fsS -X PUT %[2]s/authenticate -H 'Content-Type: application/json' \
    -d '{"user":{"name":"admin"},"secret":{"password":"'"$PASSWORD"'"}}' | tr -d '"')
  curl -fsS -H "X-Authorization: $TOKEN" %[2]s/packages
`, passwordCommand, url)
}

// invocation is the command line that runs the localenv command name on this Env.
func (e *Env) invocation(name string) string {
	if e.RunDir == DefaultRunDir {
		return "make -s " + name
	}
	return fmt.Sprintf("go run ./app/cmd/localenv -run-dir %s %s", e.RunDir, name)
}

// smoke runs the smoke sequence as admin, the password read from Secrets Manager.
func (e *Env) smoke(ctx context.Context, emu EmulatorState, secret string) error {
	password, err := readPassword(ctx, emu.AWSConfig(), secret)
	if err != nil {
		return err
	}
	url := URL(e.RegistryAddr)
	e.printf("Smoke test against %s:\n", url)
	rep, err := smoke.Run(ctx, url, "admin", password)
	for _, s := range rep.Steps {
		e.printf("  ok  %s\n", s)
	}
	if err != nil {
		return fmt.Errorf("smoke test failed: %w (registry log: %s)", err, e.path(registryLog))
	}
	return nil
}

// AdminPassword returns the deployed admin password, for logging in by hand.
func (e *Env) AdminPassword(ctx context.Context) (string, error) {
	emu, secret, err := e.deployed()
	if err != nil {
		return "", err
	}
	return readPassword(ctx, emu.AWSConfig(), secret)
}

// Smoke runs the smoke sequence again against the running registry.
func (e *Env) Smoke(ctx context.Context) error {
	emu, secret, err := e.deployed()
	if err != nil {
		return err
	}
	return e.smoke(ctx, emu, secret)
}

// deployed returns the running emulator and the admin password's secret of a stack
// deployed by Up.
func (e *Env) deployed() (EmulatorState, string, error) {
	emu, err := e.requireEmulator()
	if err != nil {
		return emu, "", err
	}
	outputs, err := ReadOutputs(e.path(outputsFile))
	if err != nil {
		return emu, "", fmt.Errorf("%w: run make up first", err)
	}
	secret, err := outputs.String("admin_password_secret")
	return emu, secret, err
}

// readPassword reads the field "password" of a Secrets Manager secret.
func readPassword(ctx context.Context, cfg aws.Config, secret string) (string, error) {
	out, err := secretsmanager.NewFromConfig(cfg).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(secret)})
	if err != nil {
		return "", fmt.Errorf("reading the admin password from the secret %s: %w", secret, err)
	}
	var v struct {
		Password string `json:"password"`
	}
	if err := json.Unmarshal([]byte(aws.ToString(out.SecretString)), &v); err != nil || v.Password == "" {
		return "", fmt.Errorf("the secret %s holds no JSON field \"password\"", secret)
	}
	return v.Password, nil
}

// Diff is `make diff`: it synthesizes the stack and plans it against the running emulator.
func (e *Env) Diff(ctx context.Context) error {
	emu, err := e.requireEmulator()
	if err != nil {
		return err
	}
	return e.synthAndRun(ctx, emu, "diff")
}

// Down is `make down`: it stops the registry, destroys the stack if the emulator runs,
// stops the emulator and removes the local state. The emulator is stopped and the state
// removed even when the settings are invalid or synth or destroy fail: the emulator keeps
// everything in memory, so stopping it removes what was deployed either way.
func (e *Env) Down(ctx context.Context) error {
	errs := []error{e.StopRegistry()}
	if emu, ok := e.RunningEmulator(); ok {
		errs = append(errs, e.synthAndRun(ctx, emu, "destroy", "--auto-approve"))
	}
	errs = append(errs, e.StopEmulator(), os.RemoveAll(e.path(stateDir)))
	if err := os.Remove(e.path(outputsFile)); !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// synthAndRun synthesizes the stack for the emulator emu and runs a cdktf CLI command on it.
func (e *Env) synthAndRun(ctx context.Context, emu EmulatorState, command string, args ...string) error {
	cfg, err := e.preflight()
	if err != nil {
		return err
	}
	env, err := e.synth(ctx, cfg, emu)
	if err != nil {
		return err
	}
	return e.cdktf(ctx, env, command, args...)
}
