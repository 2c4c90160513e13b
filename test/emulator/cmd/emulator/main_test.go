package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/app/localenv"
	"github.com/acme/module-registry/test/emulator"
)

// runMainVar makes the test binary run the command, so the tests drive it as a process.
const runMainVar = "EMULATOR_COMMAND_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainVar) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func command(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), runMainVar+"=1")
	return cmd
}

// The state file is what app/localenv reads to find, use and stop the emulator.
func TestStateFileWhileServingAndRemovedOnSIGTERM(t *testing.T) {
	dir := t.TempDir()
	stateFile := filepath.Join(dir, "emulator.json")
	cmd := command("-state-file", stateFile, "-account-id", "111122223333")
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	var s localenv.EmulatorState
	require.Eventually(t, func() bool {
		var err error
		s, err = localenv.ReadEmulatorState(stateFile)
		return err == nil
	}, 60*time.Second, 100*time.Millisecond, "the state file appears once moto serves")
	assert.Equal(t, cmd.Process.Pid, s.PID, "pid is the command's, so signalling it stops everything")
	assert.Equal(t, "111122223333", s.AccountID)
	assert.Equal(t, "us-east-1", s.Region)
	assert.NotZero(t, s.MotoPID)
	log, err := os.ReadFile(filepath.Join(dir, "emulator.log"))
	require.NoError(t, err)
	assert.NotEmpty(t, log, "moto's log goes next to the state file by default")

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, cmd.Wait(), "a clean stop")
	_, err = os.Stat(stateFile)
	assert.ErrorIs(t, err, os.ErrNotExist, "the state file is removed on exit")
	assert.Error(t, syscall.Kill(s.MotoPID, 0), "moto is stopped with it")
}

func TestBadAccountIDExitsAtOnce(t *testing.T) {
	start := time.Now()
	out, err := command("-state-file", filepath.Join(t.TempDir(), "emulator.json"), "-account-id", "12345").CombinedOutput()
	require.Error(t, err)
	assert.Less(t, time.Since(start), 10*time.Second)
	assert.Equal(t, "emulator: account id \"12345\" must be exactly 12 digits\n", string(out))
}

// With -listen-fd the command serves on the socket it inherits: app/localenv binds it, so
// it knows the endpoint while moto still starts.
func TestServesOnTheInheritedSocket(t *testing.T) {
	endpoint, socket, err := emulator.ListenSocket()
	require.NoError(t, err)

	stateFile := filepath.Join(t.TempDir(), "emulator.json")
	cmd := command("-state-file", stateFile, "-listen-fd", "3")
	cmd.ExtraFiles = []*os.File{socket}
	require.NoError(t, cmd.Start())
	require.NoError(t, socket.Close())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	var s localenv.EmulatorState
	require.Eventually(t, func() bool {
		s, err = localenv.ReadEmulatorState(stateFile)
		return err == nil
	}, 60*time.Second, 100*time.Millisecond)
	assert.Equal(t, endpoint, s.Endpoint)
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, cmd.Wait())
}
