package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/runtime/internal/syncbuf"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds the registry once per test run.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "registry-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "registry")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	require.NoError(t, buildErr)
	return binPath
}

type proc struct {
	cmd    *exec.Cmd
	url    string
	stdout *syncbuf.Buffer // the log
	stderr *syncbuf.Buffer
	done   chan error
}

const testSecret = "0123456789abcdef0123456789abcdef"
const testAdminPW = "process-test-admin-pw"

func startRegistry(t *testing.T, dataDir string, extraEnv ...string) *proc {
	t.Helper()
	cmd := exec.Command(binary(t))
	cmd.Env = append(os.Environ(),
		"REGISTRY_ADDR=127.0.0.1:0", "REGISTRY_DATA_DIR="+dataDir,
		"JWT_SECRET="+testSecret, "REGISTRY_ADMIN_PASSWORD="+testAdminPW,
		"REGISTRY_SHUTDOWN_TIMEOUT=5s")
	cmd.Env = append(cmd.Env, extraEnv...)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	p := &proc{cmd: cmd, stdout: &syncbuf.Buffer{}, stderr: &syncbuf.Buffer{}, done: make(chan error, 1)}
	cmd.Stderr = p.stderr
	require.NoError(t, cmd.Start())
	addr := make(chan string, 1)
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.stdout.Write(append(sc.Bytes(), '\n'))
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil && m["msg"] == "listening" {
				addr <- m["addr"].(string)
			}
		}
	}()
	// Wait closes the pipe: the last lines (the lease statistics at shutdown) are lost
	// unless the reader has seen the end of the output first.
	go func() {
		<-drained
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-p.done
		}
	})
	select {
	case a := <-addr:
		p.url = "http://" + a
	case err := <-p.done:
		t.Fatalf("registry exited early: %v\n%s", err, p.stderr)
	case <-time.After(30 * time.Second):
		t.Fatal("registry did not start")
	}
	return p
}

func (p *proc) token(t *testing.T) string {
	t.Helper()
	body := `{"user":{"name":"admin","is_admin":true},"secret":{"password":"` + testAdminPW + `"}}`
	hr, _ := http.NewRequest("PUT", p.url+"/authenticate", strings.NewReader(body))
	resp, err := http.DefaultClient.Do(hr)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	var tok string
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&tok))
	return tok
}

func (p *proc) request(t *testing.T, method, path, tok string, body io.Reader) (*http.Response, []byte) {
	t.Helper()
	hr, _ := http.NewRequest(method, p.url+path, body)
	hr.Header.Set("X-Authorization", tok)
	resp, err := http.DefaultClient.Do(hr)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// SIGKILL mid-upload: after a restart the partial upload is neither listed
// nor left on disk, and earlier packages are intact.
func TestCrashMidUpload(t *testing.T) {
	dir := t.TempDir()
	p := startRegistry(t, dir)
	tok := p.token(t)
	resp, _ := p.request(t, "PUT", "/packages/kept/1.0.0", tok, strings.NewReader("kept content"))
	require.Equal(t, 201, resp.StatusCode)

	pr, pw := io.Pipe()
	go func() {
		hr, _ := http.NewRequest("PUT", p.url+"/packages/partial/1.0.0", pr)
		hr.Header.Set("X-Authorization", tok)
		resp, err := http.DefaultClient.Do(hr)
		if err == nil {
			resp.Body.Close()
		}
	}()
	chunk := bytes.Repeat([]byte("p"), 1<<20)
	for range 4 {
		_, err := pw.Write(chunk)
		require.NoError(t, err)
	}
	// Wait until the server has staged bytes on disk, then kill it.
	require.Eventually(t, func() bool {
		entries, _ := os.ReadDir(filepath.Join(dir, "tmp"))
		for _, e := range entries {
			if info, err := e.Info(); err == nil && info.Size() > 0 {
				return true
			}
		}
		return false
	}, 10*time.Second, 10*time.Millisecond, "no staged upload appeared")
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGKILL))
	<-p.done
	pw.CloseWithError(io.ErrClosedPipe)

	entries, _ := os.ReadDir(filepath.Join(dir, "tmp"))
	require.NotEmpty(t, entries, "control: the crash left a temp file behind")

	p2 := startRegistry(t, dir)
	tok = p2.token(t)
	resp, body := p2.request(t, "GET", "/packages", tok, nil)
	require.Equal(t, 200, resp.StatusCode)
	var list struct {
		Packages []struct{ Name string } `json:"packages"`
		Total    int                     `json:"total"`
	}
	require.NoError(t, json.Unmarshal(body, &list))
	assert.Equal(t, 1, list.Total)
	require.Len(t, list.Packages, 1)
	assert.Equal(t, "kept", list.Packages[0].Name)
	resp, _ = p2.request(t, "GET", "/packages/partial/1.0.0", tok, nil)
	assert.Equal(t, 404, resp.StatusCode)
	resp, body = p2.request(t, "GET", "/packages/kept/1.0.0", tok, nil)
	assert.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, "kept content", string(body))
	entries, _ = os.ReadDir(filepath.Join(dir, "tmp"))
	assert.Empty(t, entries, "temp files are cleaned at start-up")
	blobs, _ := os.ReadDir(filepath.Join(dir, "blobs"))
	assert.Len(t, blobs, 1)
}

// The number of password checks running at once follows the memory the process may
// use (GOMEMLIMIT), unless it is configured.
func TestPasswordChecksFollowTheMemoryLimit(t *testing.T) {
	for env, want := range map[string]float64{"GOMEMLIMIT=40MiB": 1, "REGISTRY_MAX_PASSWORD_CHECKS=3": 3} {
		p := startRegistry(t, t.TempDir(), env)
		var listening map[string]any
		for _, line := range strings.Split(p.stdout.String(), "\n") {
			if strings.Contains(line, `"msg":"listening"`) {
				require.NoError(t, json.Unmarshal([]byte(line), &listening))
			}
		}
		require.NotNil(t, listening, "%s", p.stdout)
		assert.Equal(t, want, listening["password_checks"], env)
	}
}

func TestGracefulShutdown(t *testing.T) {
	p := startRegistry(t, t.TempDir())
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-p.done:
		require.NoError(t, err, "exit status 0 after SIGTERM\n%s", p.stderr)
	case <-time.After(10 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
}

func TestProductionRefusesDevDefaults(t *testing.T) {
	cmd := exec.Command(binary(t))
	cmd.Env = append(os.Environ(), "REGISTRY_PRODUCTION=true", "REGISTRY_DATA_DIR="+t.TempDir(), "JWT_SECRET=", "REGISTRY_ADMIN_PASSWORD=")
	out, err := cmd.CombinedOutput()
	require.Error(t, err)
	assert.Contains(t, string(out), "JWT_SECRET: required in production")
	assert.Contains(t, string(out), "REGISTRY_ADMIN_PASSWORD: required in production")
}

func TestDevModeGeneratesAdminPasswordOnce(t *testing.T) {
	dir := t.TempDir()
	run := func() (string, string) {
		cmd := exec.Command(binary(t))
		cmd.Env = append(os.Environ(), "REGISTRY_ADDR=127.0.0.1:0", "REGISTRY_DATA_DIR="+dir, "JWT_SECRET=", "REGISTRY_ADMIN_PASSWORD=")
		var stdout, stderr syncbuf.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		require.NoError(t, cmd.Start())
		require.Eventually(t, func() bool { return strings.Contains(stdout.String(), `"listening"`) }, 20*time.Second, 20*time.Millisecond)
		require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
		require.NoError(t, cmd.Wait())
		return stdout.String(), stderr.String()
	}
	logs, console := run()
	assert.Contains(t, console, "created with password")
	assert.Contains(t, logs, "DEVELOPMENT JWT SECRET")
	var pw string
	for _, line := range strings.Split(console, "\n") {
		if i := strings.Index(line, "password: "); i >= 0 {
			pw = strings.TrimSpace(line[i+len("password: "):])
		}
	}
	require.NotEmpty(t, pw)
	assert.NotContains(t, logs, pw, "the generated password never reaches the log")
	_, console = run()
	assert.NotContains(t, console, "created with password", "printed only on first start")
}
