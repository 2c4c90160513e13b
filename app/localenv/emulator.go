package localenv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/acme/module-registry/app/config"
)

// emulatorReadyTimeout bounds the emulator's start-up: moto binds and answers within its
// own 30 s limit, plus the launcher's start on a loaded machine.
var emulatorReadyTimeout = 90 * time.Second

// EmulatorState is what the emulator command (test/emulator/cmd/emulator) writes to its
// state file while it serves, and removes when it stops.
type EmulatorState struct {
	Endpoint  string `json:"endpoint"`
	Region    string `json:"region"`
	AccountID string `json:"account_id"`
	// PID is the emulator command's: SIGTERM to it stops moto too.
	PID int `json:"pid"`
	// MotoPID is the server's, for diagnostics.
	MotoPID int `json:"moto_pid"`
}

// ReadEmulatorState parses an emulator state file. A missing file is reported as an
// error wrapping fs.ErrNotExist.
func ReadEmulatorState(path string) (EmulatorState, error) {
	var s EmulatorState
	b, err := os.ReadFile(path)
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("%s is not an emulator state file: %w", path, err)
	}
	if s.Endpoint == "" || s.PID <= 0 {
		return s, fmt.Errorf("%s is not an emulator state file: it names no endpoint or pid", path)
	}
	return s, nil
}

// AWSConfig is an SDK configuration for the emulator: its endpoint and region and fake
// credentials, never the caller's own AWS profile.
func (s EmulatorState) AWSConfig() aws.Config {
	return aws.Config{
		Region:       s.Region,
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint: aws.String(s.Endpoint),
	}
}

// awsEnv is the environment that points an AWS SDK at the emulator, standing in for a
// task role's credentials.
func (s EmulatorState) awsEnv() map[string]string {
	return map[string]string{"AWS_ENDPOINT_URL": s.Endpoint, "AWS_REGION": s.Region,
		"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
}

// RunningEmulator returns the state of this run directory's emulator and whether it is
// running.
func (e *Env) RunningEmulator() (EmulatorState, bool) {
	s, err := ReadEmulatorState(e.path(emulatorStateFile))
	return s, err == nil && running(s.PID, e.abs(e.path(emulatorBinary)))
}

// requireEmulator is RunningEmulator for commands that need one.
func (e *Env) requireEmulator() (EmulatorState, error) {
	s, ok := e.RunningEmulator()
	if !ok {
		return s, fmt.Errorf("the emulator of %s is not running: run make up first", e.RunDir)
	}
	return s, nil
}

// StartEmulator starts this run directory's emulator, detached, unless it is already
// running, and returns its state once it serves. It fails as soon as the emulator exits,
// quoting its log.
func (e *Env) StartEmulator(ctx context.Context, cfg config.Config) (EmulatorState, error) {
	p, err := e.startEmulator(ctx, cfg)
	if err != nil {
		return EmulatorState{}, err
	}
	s, err := p.wait(ctx)
	if err == nil && p.started {
		e.printf("emulator running at %s\n", s.Endpoint)
	}
	return s, err
}

// pendingEmulator is an emulator that startEmulator started or found running.
type pendingEmulator struct {
	// Endpoint is where it serves, known before it does.
	Endpoint string
	// started is false for an emulator that was running already.
	started bool
	// wait starts it unless it was running and returns its state once it serves; call
	// it once. It fails as soon as the emulator exits, quoting its log, and stops it when
	// it does not become ready or ctx ends first.
	wait func(ctx context.Context) (EmulatorState, error)
}

// startEmulator binds the socket this run directory's emulator is to serve on and returns
// its endpoint at once; wait builds and starts the emulator, detached, handing it the
// socket, and waits for it to serve. So the endpoint is known (synth needs it) while the
// emulator is still built and started, and nothing else can take the port meanwhile:
// connections wait in the socket's backlog. An emulator already running is returned as
// it is.
func (e *Env) startEmulator(ctx context.Context, cfg config.Config) (pendingEmulator, error) {
	if s, ok := e.RunningEmulator(); ok {
		e.printf("emulator already running at %s\n", s.Endpoint)
		return pendingEmulator{Endpoint: s.Endpoint, wait: func(context.Context) (EmulatorState, error) { return s, nil }}, nil
	}
	stateFile := e.path(emulatorStateFile)
	if err := os.Remove(stateFile); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return pendingEmulator{}, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return pendingEmulator{}, fmt.Errorf("binding the emulator's socket: %w", err)
	}
	endpoint := "http://" + l.Addr().String()
	socket, err := l.(*net.TCPListener).File() // a copy: the listener can close
	l.Close()
	if err != nil {
		return pendingEmulator{}, fmt.Errorf("binding the emulator's socket: %w", err)
	}
	wait := func(ctx context.Context) (EmulatorState, error) {
		defer socket.Close() // the emulator has its own copy once started
		build := e.buildEmulator
		if e.emulatorProgram != nil {
			build = e.emulatorProgram
		}
		program, err := build(ctx)
		if err != nil {
			return EmulatorState{}, err
		}
		logFile := e.path(emulatorLog)
		child, err := startDetached("the emulator", []string{program,
			"-state-file", stateFile, "-log-file", logFile, "-account-id", cfg.AccountID, "-region", cfg.Region,
			"-listen-fd", "3",
		}, os.Environ(), logFile, "", socket)
		if err != nil {
			return EmulatorState{}, err
		}
		var state EmulatorState
		err = child.waitReady(ctx, emulatorReadyTimeout, func(context.Context) bool {
			s, err := ReadEmulatorState(stateFile) // written once moto answers
			state = s
			return err == nil
		})
		if err != nil {
			return EmulatorState{}, err
		}
		if state.Endpoint != endpoint {
			_ = stopProcess(child.pid(), program)
			return EmulatorState{}, fmt.Errorf("the emulator serves at %s, not on the socket it was given (%s); %s ends with:\n%s",
				state.Endpoint, endpoint, logFile, tailFile(logFile, logTailLines))
		}
		return state, nil
	}
	return pendingEmulator{Endpoint: endpoint, started: true, wait: wait}, nil
}

// StopEmulator stops this run directory's emulator if it runs and removes its state file.
func (e *Env) StopEmulator() error {
	stateFile := e.path(emulatorStateFile)
	s, err := ReadEmulatorState(stateFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return e.stopRecorded("emulator", s.PID, err, e.path(emulatorBinary), stateFile)
}

// buildEmulator builds the emulator command into the run directory.
func (e *Env) buildEmulator(ctx context.Context) (string, error) {
	return e.goBuild(ctx, "./test/emulator/cmd/emulator", emulatorBinary)
}

// goBuild builds pkg into the run directory's bin/ as name and returns its absolute path.
func (e *Env) goBuild(ctx context.Context, pkg, name string) (string, error) {
	out := e.abs(e.path(name))
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return "", err
	}
	return out, e.run(ctx, os.Environ(), "go", "build", "-o", out, pkg)
}
