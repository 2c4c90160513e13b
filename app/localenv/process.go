package localenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Timings of the detached children. Variables so tests can shorten them.
var (
	pollInterval = 100 * time.Millisecond
	// stopGrace is how long a child may take to exit after SIGTERM before it is killed.
	stopGrace = 10 * time.Second
)

// logTailLines is how much of a child's log an error message quotes.
const logTailLines = 20

// detached is a child started in its own session with its output in a log file, so it
// outlives this command, the terminal it ran in and a Ctrl-C there.
type detached struct {
	what   string // for messages: "the emulator", "the registry"
	cmd    *exec.Cmd
	log    string
	exited chan struct{} // closed once the child has exited and been reaped
}

// startDetached starts argv with exactly env, stdin from /dev/null and stdout and stderr
// in logPath (truncated, then header written first); extra become its descriptors 3, 4...
func startDetached(what string, argv, env []string, logPath, header string, extra ...*os.File) (*detached, error) {
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return nil, err
	}
	// O_APPEND: the child may open the same log itself (the emulator does).
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_TRUNC|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer f.Close() // the child has its own descriptor
	if _, err := f.WriteString(header); err != nil {
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = f, f
	cmd.ExtraFiles = extra
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s (%s): %w", what, argv[0], err)
	}
	d := &detached{what: what, cmd: cmd, log: logPath, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(d.exited)
	}()
	return d, nil
}

// pid is the child's process id, also its process group and session id.
func (d *detached) pid() int { return d.cmd.Process.Pid }

// waitReady polls ready until it reports true. It fails as soon as the child exits, or
// after timeout, quoting the end of the child's log; on timeout or cancellation the
// child is stopped so nothing half-started is left behind.
func (d *detached) waitReady(ctx context.Context, timeout time.Duration, ready func(context.Context) bool) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		select {
		case <-d.exited:
			return fmt.Errorf("%s exited during start-up (%s); %s ends with:\n%s",
				d.what, d.cmd.ProcessState, d.log, tailFile(d.log, logTailLines))
		default:
		}
		if ready(ctx) {
			return nil
		}
		select {
		case <-d.exited: // reported at the top of the loop
		case <-tick.C:
		case <-deadline.C:
			_ = stopProcess(d.pid(), d.cmd.Path)
			return fmt.Errorf("%s did not become ready within %s; %s ends with:\n%s",
				d.what, timeout, d.log, tailFile(d.log, logTailLines))
		case <-ctx.Done():
			_ = stopProcess(d.pid(), d.cmd.Path)
			return fmt.Errorf("waiting for %s: %w", d.what, ctx.Err())
		}
	}
}

// running reports whether process pid is alive and runs the executable program (an
// absolute path). Checking the executable keeps a stale state file whose pid has been
// reused by another process from making us signal that process.
func running(pid int, program string) bool {
	if pid <= 0 {
		return false
	}
	// Unreadable for a process that has exited, zombies included.
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		return false
	}
	want, err := filepath.EvalSymlinks(program) // the kernel reports the resolved path
	if err != nil {
		want = program
	}
	// A binary rebuilt while its process runs shows as deleted.
	return strings.TrimSuffix(exe, " (deleted)") == want
}

// stopProcess ends process pid if it still runs program: SIGTERM to its process group
// (the detached children lead their own), then SIGKILL after stopGrace. It reports
// whether there was anything to stop.
func stopProcess(pid int, program string) error {
	if !running(pid, program) {
		return errNotRunning
	}
	signal := func(sig syscall.Signal) {
		if syscall.Kill(-pid, sig) != nil { // not a group leader: started by something else
			_ = syscall.Kill(pid, sig)
		}
	}
	signal(syscall.SIGTERM)
	if waitGone(pid, program, stopGrace) {
		return nil
	}
	signal(syscall.SIGKILL)
	if waitGone(pid, program, 5*time.Second) {
		return nil
	}
	return fmt.Errorf("process %d (%s) did not exit after SIGKILL", pid, program)
}

var errNotRunning = errors.New("not running")

func waitGone(pid int, program string, timeout time.Duration) bool {
	for end := time.Now().Add(timeout); time.Now().Before(end); time.Sleep(pollInterval) {
		if !running(pid, program) {
			return true
		}
	}
	return !running(pid, program)
}

// readPID reads a file holding a process id.
func readPID(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("%s holds no process id: %q", path, b)
	}
	return pid, nil
}

// tailFile returns the last n lines of the file at path (at most its last 64 KiB), or a
// note saying why it cannot be read.
func tailFile(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	defer f.Close()
	const window = 64 << 10
	if st, err := f.Stat(); err == nil && st.Size() > window {
		_, _ = f.Seek(-window, io.SeekEnd)
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	return lastLines(string(b), n)
}

// lastLines returns the last n lines of s, without a trailing newline.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
