//go:build linux

package validator

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	seccomp "github.com/elastic/go-seccomp-bpf"
	"github.com/elastic/go-seccomp-bpf/arch"
	"github.com/landlock-lsm/go-landlock/landlock"
	llsys "github.com/landlock-lsm/go-landlock/landlock/syscall"
	"golang.org/x/sys/unix"
)

// sandboxSupported: this platform confines children; elsewhere every run fails closed.
const sandboxSupported = true

// childAttr starts a child in its own process group, killed if this process dies.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// killGroup kills the child's whole process group: nothing it might have started
// outlives it.
func killGroup(pid int) { _ = syscall.Kill(-pid, syscall.SIGKILL) }

// peakRSS is a finished child's largest resident set, in bytes.
func peakRSS(ps *os.ProcessState) int64 {
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		return ru.Maxrss << 10 // kilobytes on Linux
	}
	return 0
}

// confine applies, in order, the rlimits, Landlock and seccomp to this process. The
// rlimits must hold; seccomp must hold where the kernel has it; Landlock is best
// effort (Fargate's kernel may lack it). With probe set, it tries forbidden things
// after each layer and reports how they fared.
func confine(l limits, probe bool) (Sandbox, []Probe, error) {
	var (
		sb     Sandbox
		probes []Probe
	)
	try := func(layer, attempt string, fn func() error) {
		if !probe {
			return
		}
		err := fn()
		p := Probe{Layer: layer, Attempt: attempt, Blocked: err != nil, Detail: "succeeded"}
		if err != nil {
			p.Detail = err.Error()
		}
		probes = append(probes, p)
	}

	if err := setRlimits(l); err != nil {
		return sb, probes, err
	}
	sb.Rlimits = true
	try("rlimits", fmt.Sprintf("open more than %d files", l.OpenFiles), func() error {
		var fds []int
		defer func() {
			for _, fd := range fds {
				syscall.Close(fd)
			}
		}()
		for range l.OpenFiles + 1 {
			p := make([]int, 2)
			if err := syscall.Pipe2(p, syscall.O_CLOEXEC); err != nil {
				return err
			}
			fds = append(fds, p...)
		}
		return nil
	})
	try("rlimits", "allocate 4x the memory quota at once", func() error {
		_, err := unix.Mmap(-1, 0, int(4*l.MemoryBytes), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
		return err
	})

	abi, err := llsys.LandlockGetABIVersion()
	switch {
	case err != nil || abi < 1:
		sb.Notes = append(sb.Notes, "landlock: not available in this kernel")
	default:
		// No rules: no path may be read, written or executed, no TCP port bound or
		// connected, no signal sent or abstract socket reached outside the domain.
		if err := landlock.V7.BestEffort().Restrict(); err != nil {
			sb.Notes = append(sb.Notes, "landlock: "+err.Error())
		} else {
			sb.LandlockABI = min(abi, 7)
		}
	}
	try("landlock", "list /", func() error { _, err := os.ReadDir("/"); return err })
	try("landlock", "create a file in "+os.TempDir(), func() error {
		f, err := os.CreateTemp("", "sandbox-probe-*")
		if err == nil {
			f.Close()
			os.Remove(f.Name())
		}
		return err
	})
	try("landlock", "connect to 127.0.0.1:9 over TCP", func() error {
		c, err := net.DialTimeout("tcp", "127.0.0.1:9", time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		// A refused connection was allowed to be attempted: not blocked.
		if errors.Is(err, syscall.ECONNREFUSED) {
			return nil
		}
		return err
	})

	if !seccomp.Supported() {
		sb.Notes = append(sb.Notes, "seccomp: not available in this kernel")
	} else {
		if err := seccomp.LoadFilter(filter()); err != nil {
			return sb, probes, err
		}
		sb.Seccomp = true
	}
	try("seccomp", "open "+"/proc/self/status", func() error {
		f, err := os.Open("/proc/self/status")
		if err == nil {
			f.Close()
		}
		return err
	})
	try("seccomp", "create a socket", func() error {
		fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
		if err == nil {
			syscall.Close(fd)
		}
		return err
	})
	try("seccomp", "fork and exec /bin/true", func() error {
		pid, err := syscall.ForkExec("/bin/true", []string{"true"}, &syscall.ProcAttr{})
		if err == nil {
			var ws syscall.WaitStatus
			_, _ = syscall.Wait4(pid, &ws, 0, nil)
		}
		return err
	})
	try("seccomp", "raise the CPU limit", func() error {
		return syscall.Setrlimit(unix.RLIMIT_CPU, &syscall.Rlimit{Cur: unix.RLIM_INFINITY, Max: unix.RLIM_INFINITY})
	})
	try("seccomp", "read the environment", func() error {
		if n := len(os.Environ()); n > 0 {
			return nil
		}
		return errors.New("empty environment")
	})
	return sb, probes, nil
}

// setRlimits lowers this process's limits. Memory limits count from what the
// process has mapped already: the Go runtime (and, in race-detector builds, its
// shadow memory) is there before the first script byte runs.
func setRlimits(l limits) error {
	vmData, vmSize, err := mappedBytes()
	if err != nil {
		return err
	}
	set := func(name string, res int, cur, max uint64) error {
		if err := unix.Setrlimit(res, &unix.Rlimit{Cur: cur, Max: max}); err != nil {
			return fmt.Errorf("setrlimit %s: %w", name, err)
		}
		return nil
	}
	mem := uint64(l.MemoryBytes)
	cpu := uint64(l.CPUSeconds)
	for _, r := range []struct {
		name     string
		res      int
		cur, max uint64
	}{
		// SIGXCPU at the soft limit, SIGKILL a second later.
		{"CPU", unix.RLIMIT_CPU, cpu, cpu + 1},
		{"DATA", unix.RLIMIT_DATA, vmData + mem, vmData + mem},
		// Address space: the Go runtime reserves more than it maps; twice the quota
		// leaves it room while still stopping a runaway mapping.
		{"AS", unix.RLIMIT_AS, vmSize + 2*mem, vmSize + 2*mem},
		{"NOFILE", unix.RLIMIT_NOFILE, uint64(l.OpenFiles), uint64(l.OpenFiles)},
		{"NPROC", unix.RLIMIT_NPROC, uint64(l.Processes), uint64(l.Processes)},
		{"FSIZE", unix.RLIMIT_FSIZE, 0, 0},
		{"CORE", unix.RLIMIT_CORE, 0, 0},
		{"MEMLOCK", unix.RLIMIT_MEMLOCK, 0, 0},
		{"MSGQUEUE", unix.RLIMIT_MSGQUEUE, 0, 0},
		{"LOCKS", unix.RLIMIT_LOCKS, 0, 0},
	} {
		if err := set(r.name, r.res, r.cur, r.max); err != nil {
			return err
		}
	}
	return nil
}

// mappedBytes reads VmData and VmSize of this process.
func mappedBytes() (data, size uint64, err error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, 0, fmt.Errorf("reading /proc/self/status: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != "VmData" && k != "VmSize") {
			continue
		}
		kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("parsing %s: %w", k, err)
		}
		if k == "VmData" {
			data = kb << 10
		} else {
			size = kb << 10
		}
	}
	if data == 0 || size == 0 {
		return 0, 0, errors.New("VmData/VmSize missing from /proc/self/status")
	}
	return data, size, nil
}

// allowed is every system call a confined child needs once its script runs: memory,
// threads, signals, time, and I/O on the descriptors it already holds. Whatever is not
// here - open, socket, connect, fork, exec, ptrace, setrlimit, mount, bpf,
// landlock, seccomp - fails with EPERM. Names the running architecture lacks are
// skipped.
var allowed = []string{
	// I/O on open descriptors (stdout, stderr, the runtime's poller)
	"read", "write", "readv", "writev", "pread64", "pwrite64", "close", "fstat", "lseek",
	"fcntl", "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2",
	"eventfd2", "pipe2", "ppoll", "poll",
	// memory
	"mmap", "munmap", "mremap", "mprotect", "madvise", "brk", "mincore",
	// threads and scheduling (clone is allowed only for threads, below)
	"futex", "sched_yield", "sched_getaffinity", "gettid", "getpid", "getppid", "set_robust_list",
	"get_robust_list", "rseq", "set_tid_address", "membarrier",
	// signals (the runtime's preemption, SIGXCPU delivery)
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack", "tgkill", "tkill",
	"rt_sigtimedwait", "getrlimit",
	// time
	"clock_gettime", "clock_getres", "clock_nanosleep", "nanosleep", "gettimeofday", "time",
	// identity and exit
	"getuid", "geteuid", "getgid", "getegid", "getrandom", "exit", "exit_group",
	"restart_syscall",
}

// filter is the seccomp filter: the allow-list, clone only with CLONE_THREAD (a new
// thread, never a new process), EPERM for everything else, no_new_privs set.
func filter() seccomp.Filter {
	info, err := arch.GetInfo("")
	names := make([]string, 0, len(allowed))
	for _, n := range allowed {
		if err == nil {
			if _, ok := info.SyscallNames[n]; !ok {
				continue
			}
		}
		names = append(names, n)
	}
	return seccomp.Filter{
		NoNewPrivs: true,
		// Every thread of the child, not only the calling one.
		Flag: seccomp.FilterFlagTSync,
		Policy: seccomp.Policy{
			DefaultAction: seccomp.ActionErrno,
			Syscalls: []seccomp.SyscallGroup{
				{Action: seccomp.ActionAllow, Names: names},
				{Action: seccomp.ActionAllow, NamesWithCondtions: []seccomp.NameWithConditions{{
					Name:       "clone",
					Conditions: seccomp.ArgumentConditions{{Argument: 0, Operation: seccomp.BitsSet, Value: unix.CLONE_THREAD}},
				}}},
			},
		},
	}
}
