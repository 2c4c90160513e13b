package localenv

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCheckAddrFree(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()

	err = CheckAddrFree(addr)
	require.Error(t, err, "a taken address is refused")
	assert.Contains(t, err.Error(), "REGISTRY_ADDR="+addr+" is taken")
	assert.Contains(t, err.Error(), "make up REGISTRY_ADDR=127.0.0.1:", "a free address is suggested")

	require.NoError(t, l.Close())
	assert.NoError(t, CheckAddrFree(addr), "a free address passes")
	assert.ErrorContains(t, CheckAddrFree("8080"), `REGISTRY_ADDR="8080" is not a listen address`)
}

func TestUpChecksTheAddressBeforeStartingAnything(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	e, _ := testEnv(t, nil)
	e.RegistryAddr = l.Addr().String()
	require.NoError(t, os.MkdirAll(filepath.Join(e.RunDir, filepath.Dir(CDKTF)), 0o755))
	// Up runs in the repository root; give it a cdktf CLI there so the address check is reached.
	t.Chdir(e.RunDir)
	e.RunDir = "run"
	require.NoError(t, os.WriteFile(CDKTF, nil, 0o755))
	if _, err := exec.LookPath("terraform"); err != nil {
		t.Skip("terraform is not on PATH")
	}

	err = e.Up(context.Background())
	require.ErrorContains(t, err, "REGISTRY_ADDR="+l.Addr().String()+" is taken")
	_, err = os.Stat(e.path(emulatorBinary))
	assert.ErrorIs(t, err, os.ErrNotExist, "the emulator was not even built")
}

func TestURL(t *testing.T) {
	assert.Equal(t, "http://127.0.0.1:8080", URL("127.0.0.1:8080"))
	assert.Equal(t, "http://127.0.0.1:8080", URL(":8080"))
	assert.Equal(t, "http://127.0.0.1:8080", URL("0.0.0.0:8080"))
	assert.Equal(t, "http://[::1]:8080", URL("[::1]:8080"))
}

func TestStartRegistryWaitsForHealth(t *testing.T) {
	e, out := testEnv(t, nil)
	addr := e.RegistryAddr
	require.NoError(t, e.startRegistry(context.Background(), map[string]string{fakeVar: "registry", "JWT_SECRET": "s3cret"}))
	resp, err := http.Get(URL(addr) + "/health")
	require.NoError(t, err)
	resp.Body.Close()

	log, err := os.ReadFile(e.path(registryLog))
	require.NoError(t, err)
	assert.Contains(t, string(log), "with JWT_SECRET LOCALENV_TEST_FAKE REGISTRY_ADDR\n", "the log names the variables")
	assert.NotContains(t, string(log), "s3cret", "and never their values")

	// Started in its own session: it is not in this test's process group.
	pid, err := readPID(e.path(registryPIDFile))
	require.NoError(t, err)
	assert.Equal(t, pid, sessionOf(t, pid))

	require.NoError(t, e.StopRegistry())
	assert.Contains(t, out.String(), "registry stopped\n")
	assert.False(t, running(pid, e.abs(e.path(registryBinary))), "the process is gone")
	_, err = (&http.Client{Timeout: time.Second}).Get(URL(addr) + "/health")
	assert.Error(t, err, "nothing serves there any more")
	require.NoError(t, e.StopRegistry(), "stopping twice is fine")
	assert.Equal(t, 1, strings.Count(out.String(), "registry stopped"))
}

func TestStartRegistryFailsPromptlyWhenItExits(t *testing.T) {
	e, _ := testEnv(t, nil)
	start := time.Now()
	err := e.startRegistry(context.Background(), map[string]string{fakeVar: "exit"})
	require.Error(t, err)
	assert.Less(t, time.Since(start), registryReadyTimeout/4)
	assert.Contains(t, err.Error(), "the registry exited during start-up (exit status 3)")
	assert.Contains(t, err.Error(), "the flux capacitor is missing")
}

func TestOutputsArePrintedOnceAndSorted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outputs.json")
	require.NoError(t, os.WriteFile(path, []byte(`{"registry":{"trail_arn":"arn:t","artifacts_bucket":"pkg-artifacts","subnets":["a","b"],"service_url":"http://x"}}`), 0o644))
	o, err := ReadOutputs(path)
	require.NoError(t, err)
	var b strings.Builder
	o.Print(&b)
	assert.Equal(t, `  artifacts_bucket = pkg-artifacts
  service_url = http://x
  subnets = ["a","b"]
  trail_arn = arn:t
`, b.String())

	v, err := o.String("trail_arn")
	require.NoError(t, err)
	assert.Equal(t, "arn:t", v)
	_, err = o.String("subnets")
	assert.ErrorContains(t, err, `the stack has no output "subnets"`)

	require.NoError(t, os.WriteFile(path, []byte(`{"bootstrap":{}}`), 0o644))
	_, err = ReadOutputs(path)
	assert.ErrorContains(t, err, `holds no outputs of the stack "registry"`)
}

func TestLoginStepsWorkAsPasted(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not on PATH")
	}
	const password = "Zq7mN4xV9bT2kL8pR3sW6yH1jF5dC0aE"
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /authenticate", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			User   struct{ Name string }
			Secret struct{ Password string }
		}
		b, _ := io.ReadAll(r.Body)
		if json.Unmarshal(b, &body) != nil || body.User.Name != "admin" || body.Secret.Password != password {
			http.Error(w, "bad login: "+string(b), http.StatusUnauthorized)
			return
		}
		io.WriteString(w, `"bearer header.payload.signature"`) // the registry's answer: a JSON string
	})
	mux.HandleFunc("GET /packages", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Authorization") != "bearer header.payload.signature" {
			http.Error(w, "bad token: "+r.Header.Get("X-Authorization"), http.StatusUnauthorized)
			return
		}
		io.WriteString(w, `{"packages":[]}`)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	script := loginSteps(srv.URL, "echo "+password)
	out, err := exec.Command("bash", "-e", "-o", "pipefail", "-c", script).CombinedOutput()
	require.NoError(t, err, "%s\n%s", script, out)
	assert.Equal(t, `{"packages":[]}`, string(out))
}

// sessionOf reads the session id of pid from /proc.
func sessionOf(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	require.NoError(t, err)
	// pid (comm) state ppid pgrp session ...
	fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	sid, err := strconv.Atoi(fields[3])
	require.NoError(t, err)
	return sid
}

// The deploy output of cdktf 0.20.11 (captured, colours and cursor codes included) lists
// the outputs twice after apply.
func TestDeployOutputKeepsEverythingButTheOutputListings(t *testing.T) {
	in, err := os.ReadFile("testdata/deploy-output.txt")
	require.NoError(t, err)
	require.Equal(t, 2, strings.Count(string(in), "admin_password_secret = "))

	var out strings.Builder
	f := newOutputsFilter(&out)
	for _, chunk := range strings.SplitAfter(string(in), "ac") { // writes that split lines
		_, err := f.Write([]byte(chunk))
		require.NoError(t, err)
	}
	_, err = f.Write([]byte("last line, no newline"))
	require.NoError(t, err)
	require.NoError(t, f.Flush())

	got := out.String()
	assert.NotContains(t, got, "admin_password_secret", "neither listing is passed on")
	assert.NotContains(t, got, "8cb9cfc1687b6bf950662c4b60d539c55335a41e38777be73f35e5e73d8380c1", "nor the wrapped half of a value")
	assert.Contains(t, got, "Apply complete! Resources: 0 added, 0 changed, 0 destroyed.\n")
	assert.Contains(t, got, "ephemeral.aws_secretsmanager_random_password.AdminPassword", "what came before is kept")
	assert.Contains(t, got, "\x1b[0mThe outputs have been written", "the colour reset inside the listing is replayed")
	assert.True(t, strings.HasSuffix(got, "The outputs have been written to /work/main/.run/outputs.json\n\nlast line, no newline"), "%q", got)
}

func TestSynthOutputLosesOnlyTheJSIIWaitRace(t *testing.T) {
	var out strings.Builder
	f := withoutJSIIWaitRace(&out)
	for _, line := range []string{
		"\x1b[2K\x1b[1A\x1b[2K\x1b[G\n",
		"⠙  Synthesizing\n",
		"\x1b[91m[2026-12-01T21:16:15.747] [ERROR] default - \x1b[39mRuntime process exited abnormally: waitid: no child processes\n",
		"⠙  Synthesizing\x1b[91m[2026-12-01T21:16:15.747] [ERROR] default - \x1b[39mRuntime process exited abnormally: waitid: no child processes\n",
		"\x1b[91m[2026-12-01T21:16:16.001] [ERROR] default - \x1b[39mRuntime process exited abnormally: exit status 1\n",
		"Generated Terraform code for the stacks: registry\n",
		// The app run directly: the runtime's own message, on stderr, with no newline.
		"runtime image sha256:3caa in .run/image\n",
		"Runtime process exited abnormally: exit status 2\n",
		"Runtime process exited abnormally: waitid: no child processes",
	} {
		_, err := f.Write([]byte(line))
		require.NoError(t, err)
	}
	require.NoError(t, f.Flush(nil))
	assert.Equal(t, "\x1b[2K\x1b[1A\x1b[2K\x1b[G\n⠙  Synthesizing\n⠙  Synthesizing\n"+
		"\x1b[91m[2026-12-01T21:16:16.001] [ERROR] default - \x1b[39mRuntime process exited abnormally: exit status 1\n"+
		"Generated Terraform code for the stacks: registry\n"+
		"runtime image sha256:3caa in .run/image\n"+
		"Runtime process exited abnormally: exit status 2\n", out.String(), "any other abnormal exit is still reported")
}

func TestAppCommandIsCdktfJSONs(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
		return p
	}
	got, err := appCommand(write("ok.json", `{"language": "go", "app": "go run main.go"}`))
	require.NoError(t, err)
	assert.Equal(t, "go run main.go", got)
	_, err = appCommand(write("none.json", `{"language": "go"}`))
	assert.ErrorContains(t, err, "names no app command")
	_, err = appCommand(write("bad.json", `{`))
	assert.ErrorContains(t, err, "is not a cdktf configuration")
	_, err = appCommand(filepath.Join(dir, "missing.json"))
	assert.Error(t, err)
}

func TestSynthesizedStacks(t *testing.T) {
	dir := t.TempDir()
	manifest := filepath.Join(dir, "manifest.json")
	require.NoError(t, os.WriteFile(manifest, []byte(`{"version": "0.20.11", "stacks": {
		"registry": {"name": "registry", "synthesizedStackPath": "stacks/registry/cdk.tf.json"},
		"other": {"name": "other"}}}`), 0o644))
	got, err := synthesizedStacks(manifest)
	require.NoError(t, err)
	assert.Equal(t, []string{"other", "registry"}, got)
	_, err = synthesizedStacks(filepath.Join(dir, "absent.json"))
	assert.ErrorContains(t, err, "did it call Synth?")
}
