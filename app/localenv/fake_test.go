package localenv

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// fakeVar makes the test binary, copied into a run directory's bin/, act as the emulator
// or the registry, so the tests start, wait for and stop real detached processes.
const fakeVar = "LOCALENV_TEST_FAKE"

func TestMain(m *testing.M) {
	switch os.Getenv(fakeVar) {
	case "":
		os.Exit(m.Run())
	case "emulator":
		fakeEmulator(true)
	case "emulator-own-port": // an emulator command that ignores the socket it is given
		fakeEmulator(false)
	case "exit":
		fmt.Fprintln(os.Stderr, "fake: cannot start: the flux capacitor is missing")
		os.Exit(3)
	case "registry":
		fakeRegistry()
	case "hang":
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, syscall.SIGTERM)
		<-stop
	}
}

// fakeEmulator writes a state file as the emulator command does and serves until SIGTERM,
// on the socket -listen-fd names when useSocket, else on a port of its own.
func fakeEmulator(useSocket bool) {
	fs := flag.NewFlagSet("emulator", flag.ExitOnError)
	stateFile := fs.String("state-file", "", "")
	fs.String("log-file", "", "")
	account := fs.String("account-id", "", "")
	region := fs.String("region", "", "")
	listenFD := fs.Int("listen-fd", -1, "")
	_ = fs.Parse(os.Args[1:])
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM)
	var l net.Listener
	var err error
	if useSocket && *listenFD >= 0 { // serve on the socket handed over, as the emulator command does
		l, err = net.FileListener(os.NewFile(uintptr(*listenFD), "listener"))
	} else {
		l, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		panic(err)
	}
	go func() { _ = http.Serve(l, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})) }()
	b, _ := json.Marshal(EmulatorState{Endpoint: "http://" + l.Addr().String(), Region: *region, AccountID: *account, PID: os.Getpid()})
	if err := os.WriteFile(*stateFile, b, 0o644); err != nil {
		panic(err)
	}
	fmt.Println("fake emulator serving")
	<-stop
	os.Remove(*stateFile)
	os.Exit(0)
}

// fakeRegistry answers /health on REGISTRY_ADDR until SIGTERM.
func fakeRegistry() {
	http.HandleFunc("/health", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
	l, err := net.Listen("tcp", os.Getenv(AddrVar))
	if err != nil {
		panic(err)
	}
	go func() { _ = http.Serve(l, nil) }()
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM)
	<-stop
	os.Exit(0)
}

// fakeProgram returns a program function that copies the test binary to the run
// directory's name (bin/emulator, bin/registry), where the real build puts its output,
// so the process is recognised as the run directory's own.
func fakeProgram(t *testing.T, e *Env, name string) func(context.Context) (string, error) {
	return func(context.Context) (string, error) {
		self, err := os.Executable()
		if err != nil {
			return "", err
		}
		dst := e.abs(e.path(name))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return "", err
		}
		b, err := os.ReadFile(self)
		if err != nil {
			return "", err
		}
		return dst, os.WriteFile(dst, b, 0o755)
	}
}

// testEnv is an Env in a temporary run directory with fake programs and the given
// environment variables.
func testEnv(t *testing.T, vars map[string]string) (*Env, *strings.Builder) {
	t.Helper()
	out := &strings.Builder{} // written by the test's goroutine only: the fakes log to files
	addr, err := FreeAddr()   // never the default address, where a real registry may serve
	require.NoError(t, err)
	e := (&Env{RunDir: t.TempDir(), RegistryAddr: addr, Getenv: func(k string) string { return vars[k] }, Stdout: out}).withDefaults()
	e.emulatorProgram = fakeProgram(t, e, emulatorBinary)
	e.registryProgram = fakeProgram(t, e, registryBinary)
	t.Cleanup(func() {
		_ = e.StopRegistry()
		_ = e.StopEmulator()
	})
	return e, out
}
