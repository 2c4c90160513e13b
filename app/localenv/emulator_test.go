package localenv

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/app/config"
)

func localConfig(t *testing.T, e *Env) config.Config {
	t.Helper()
	cfg, err := e.Config()
	require.NoError(t, err)
	return cfg
}

func TestStartEmulatorFailsPromptlyWhenItExits(t *testing.T) {
	t.Setenv(fakeVar, "exit")
	e, _ := testEnv(t, nil)
	start := time.Now()
	_, err := e.StartEmulator(context.Background(), localConfig(t, e))
	require.Error(t, err)
	assert.Less(t, time.Since(start), emulatorReadyTimeout/4, "reported when the emulator exits, not at the timeout")
	assert.Contains(t, err.Error(), "the emulator exited during start-up (exit status 3)")
	assert.Contains(t, err.Error(), e.path(emulatorLog)+" ends with:")
	assert.Contains(t, err.Error(), "the flux capacitor is missing", "the log's tail is quoted")
}

func TestStartEmulatorTimesOutAndStopsIt(t *testing.T) {
	t.Setenv(fakeVar, "hang") // runs, but never writes a state file
	e, _ := testEnv(t, nil)
	defer func(d time.Duration) { emulatorReadyTimeout = d }(emulatorReadyTimeout)
	emulatorReadyTimeout = time.Second
	_, err := e.StartEmulator(context.Background(), localConfig(t, e))
	require.ErrorContains(t, err, "the emulator did not become ready within 1s")
	assert.Zero(t, runningProcess(t, e.abs(e.path(emulatorBinary))), "the half-started emulator was stopped")
}

func TestStartAndStopEmulator(t *testing.T) {
	t.Setenv(fakeVar, "emulator")
	e, out := testEnv(t, map[string]string{"ACME_ACCOUNT_ID": "111122223333"})
	s, err := e.StartEmulator(context.Background(), localConfig(t, e))
	require.NoError(t, err)
	assert.Equal(t, "111122223333", s.AccountID, "ACME_ACCOUNT_ID reaches the emulator")
	assert.Equal(t, config.DefaultRegion, s.Region)
	assert.Contains(t, out.String(), "emulator running at "+s.Endpoint+"\n")

	running, ok := e.RunningEmulator()
	require.True(t, ok)
	assert.Equal(t, s, running)
	_, err = e.StartEmulator(context.Background(), localConfig(t, e))
	require.NoError(t, err)
	assert.Contains(t, out.String(), "emulator already running at "+s.Endpoint+"\n", "a running emulator is kept")

	require.NoError(t, e.StopEmulator())
	assert.Contains(t, out.String(), "emulator stopped\n")
	assert.False(t, emulatorAlive(s.PID, e), "the process is gone")
	_, err = os.Stat(e.path(emulatorStateFile))
	assert.ErrorIs(t, err, fs.ErrNotExist)
	_, ok = e.RunningEmulator()
	assert.False(t, ok)
}

// The endpoint is known before the emulator serves: synth runs meanwhile.
func TestStartEmulatorKnowsTheEndpointBeforeItServes(t *testing.T) {
	t.Setenv(fakeVar, "emulator")
	e, out := testEnv(t, nil)
	p, err := e.startEmulator(context.Background(), localConfig(t, e))
	require.NoError(t, err)
	require.True(t, p.started)
	require.True(t, strings.HasPrefix(p.Endpoint, "http://127.0.0.1:"), p.Endpoint)
	type started struct {
		s   EmulatorState
		err error
	}
	done := make(chan started, 1)
	go func() {
		s, err := p.wait(context.Background()) // builds and starts it
		done <- started{s, err}
	}()
	resp, err := http.Get(p.Endpoint + "/") // waits in the socket's backlog until the emulator serves
	require.NoError(t, err)
	resp.Body.Close()
	r := <-done
	require.NoError(t, r.err)
	s := r.s
	assert.Equal(t, p.Endpoint, s.Endpoint, "it serves on the socket it was given")
	assert.Empty(t, out.String(), "startEmulator says nothing; its callers do")

	again, err := e.startEmulator(context.Background(), localConfig(t, e))
	require.NoError(t, err)
	assert.False(t, again.started)
	assert.Equal(t, s.Endpoint, again.Endpoint)
	got, err := again.wait(context.Background())
	require.NoError(t, err)
	assert.Equal(t, s, got)
}

func TestStartEmulatorRefusesOneThatIgnoresItsSocket(t *testing.T) {
	t.Setenv(fakeVar, "emulator-own-port")
	e, _ := testEnv(t, nil)
	p, err := e.startEmulator(context.Background(), localConfig(t, e))
	require.NoError(t, err)
	_, err = p.wait(context.Background())
	require.ErrorContains(t, err, "not on the socket it was given ("+p.Endpoint+")")
	assert.Zero(t, runningProcess(t, e.abs(e.path(emulatorBinary))), "it is stopped: the stack was synthesized for another endpoint")
}

// emulatorAlive reports whether pid is the run directory's emulator.
func emulatorAlive(pid int, e *Env) bool { return running(pid, e.abs(e.path(emulatorBinary))) }

func TestStopEmulatorLeavesAReusedPIDAlone(t *testing.T) {
	e, out := testEnv(t, nil)
	// A stale state file whose pid now belongs to another program: this test.
	b := []byte(`{"endpoint":"http://127.0.0.1:1","pid":` + strconv.Itoa(os.Getpid()) + `}`)
	require.NoError(t, os.WriteFile(e.path(emulatorStateFile), b, 0o644))
	_, ok := e.RunningEmulator()
	assert.False(t, ok, "another program's pid is not the emulator")
	require.NoError(t, e.StopEmulator()) // a wrong signal would end this test here
	assert.NotContains(t, out.String(), "emulator stopped")
	_, err := os.Stat(e.path(emulatorStateFile))
	assert.ErrorIs(t, err, fs.ErrNotExist, "the stale state file is removed")
}

func TestReadEmulatorState(t *testing.T) {
	dir := t.TempDir()
	write := func(s string) string {
		p := filepath.Join(dir, "emulator.json")
		require.NoError(t, os.WriteFile(p, []byte(s), 0o644))
		return p
	}
	s, err := ReadEmulatorState(write(`{"endpoint":"http://127.0.0.1:4566","region":"us-east-1","account_id":"838693051036","pid":42,"moto_pid":43}`))
	require.NoError(t, err)
	assert.Equal(t, EmulatorState{Endpoint: "http://127.0.0.1:4566", Region: "us-east-1", AccountID: "838693051036", PID: 42, MotoPID: 43}, s)

	_, err = ReadEmulatorState(filepath.Join(dir, "missing.json"))
	assert.ErrorIs(t, err, fs.ErrNotExist)
	_, err = ReadEmulatorState(write(`{"endpoint":`))
	assert.ErrorContains(t, err, "is not an emulator state file")
	_, err = ReadEmulatorState(write(`{"pid":42}`))
	assert.ErrorContains(t, err, "names no endpoint or pid")
}

func TestConfigNamesTheBadVariable(t *testing.T) {
	e, _ := testEnv(t, map[string]string{"ACME_ACCOUNT_ID": "12345"})
	_, err := e.Config()
	require.ErrorContains(t, err, "ACME_ACCOUNT_ID")
	assert.Contains(t, err.Error(), `"12345" is not a 12-digit AWS account id`)

	e, _ = testEnv(t, map[string]string{"ACME_ENV": "prod"})
	_, err = e.Config()
	require.ErrorContains(t, err, "ACME_ENV=prod is set", "an exported ACME_ENV is refused, not overridden")

	e, _ = testEnv(t, map[string]string{"ACME_ENV": "local"})
	cfg, err := e.Config()
	require.NoError(t, err)
	assert.Equal(t, config.DefaultAccountID, cfg.AccountID)
	assert.Equal(t, e.abs(e.path(stateDir)), cfg.StateDir, "state lives in the run directory")
}

func TestDownStopsTheEmulatorWhenDestroyCannotRun(t *testing.T) {
	t.Setenv(fakeVar, "emulator")
	e, out := testEnv(t, nil)
	s, err := e.StartEmulator(context.Background(), localConfig(t, e))
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(e.path(stateDir), 0o755))

	// The tests run in app/localenv, where there is no cdktf CLI: destroy fails.
	err = e.Down(context.Background())
	require.ErrorContains(t, err, "the cdktf CLI is not installed")
	assert.Contains(t, out.String(), "emulator stopped\n")
	assert.False(t, emulatorAlive(s.PID, e), "the emulator does not outlive a failed destroy")
	_, err = os.Stat(e.path(stateDir))
	assert.True(t, errors.Is(err, fs.ErrNotExist), "the local state is removed")
}

// runningProcess returns the pid of a running process of program, or 0.
func runningProcess(t *testing.T, program string) int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	require.NoError(t, err)
	for _, ent := range entries {
		if pid, err := strconv.Atoi(ent.Name()); err == nil && running(pid, program) {
			return pid
		}
	}
	return 0
}

func TestAnExitedChildIsNotRunning(t *testing.T) {
	self, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), fakeVar+"=exit")
	require.NoError(t, cmd.Start())
	defer cmd.Wait()
	assert.Eventually(t, func() bool {
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/stat")
		return err == nil && strings.Contains(string(stat), ") Z ")
	}, 10*time.Second, 10*time.Millisecond, "the child is a zombie: exited, not reaped")
	assert.False(t, running(cmd.Process.Pid, self), "a zombie is not running")
}
