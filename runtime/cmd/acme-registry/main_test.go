package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/runtime/client/clienttest"
)

// world is the machine a test runs the command on: a registry, a config directory
// and the environment.
type world struct {
	t        *testing.T
	reg      *clienttest.Registry
	home     string // what os.UserConfigDir would answer
	env      map[string]string
	terminal bool // stdout (and stdin) are terminals
}

func newWorld(t *testing.T) *world {
	w := &world{t: t, reg: clienttest.Start(t, nil), home: t.TempDir()}
	w.env = map[string]string{envRegistry: w.reg.URL}
	return w
}

type result struct {
	code           int
	stdout, stderr string
}

func (w *world) run(stdin string, args ...string) result {
	w.t.Helper()
	var out, errOut bytes.Buffer
	c := &cli{
		stdin: strings.NewReader(stdin), stdout: &out, stderr: &errOut,
		getenv:           func(k string) string { return w.env[k] },
		stdinIsTerminal:  w.terminal,
		stdoutIsTerminal: w.terminal,
		userConfigDir:    func() (string, error) { return w.home, nil },
		readPassword:     func(string) (string, error) { return strings.TrimSpace(stdin), nil },
	}
	code := c.run(args)
	return result{code, out.String(), errOut.String()}
}

// ok runs and requires exit 0.
func (w *world) ok(stdin string, args ...string) result {
	w.t.Helper()
	r := w.run(stdin, args...)
	require.Equal(w.t, exitOK, r.code, "%v: stdout %s stderr %s", args, r.stdout, r.stderr)
	return r
}

func (w *world) login() {
	w.t.Helper()
	w.ok(clienttest.AdminPassword+"\n", "login", "--user", "admin", "--password-stdin")
}

func (w *world) credentialsPath() string {
	return filepath.Join(w.home, configDirName, credentialsFile)
}

func hexSum(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func TestHelpListsTheCommands(t *testing.T) {
	w := &world{t: t, env: map[string]string{}}
	r := w.ok("", "--help")
	for _, cmd := range commands() {
		assert.Contains(t, r.stdout, "  "+cmd.name+" ", "help lists %s", cmd.name)
	}
	assert.Contains(t, r.stdout, "5 integrity")
	r = w.ok("", "help", "pull")
	assert.Contains(t, r.stdout, "usage: acme-registry pull NAME VERSION")
	assert.Contains(t, r.stdout, "-sha256")
	assert.Equal(t, r.stdout, w.ok("", "pull", "--help").stdout)

	for _, args := range [][]string{{}, {"bogus"}, {"push", "--bogus"}, {"push", "a"}, {"--bogus", "ls"}, {"users", "frobnicate"}, {"ls", "--limit", "0"}} {
		r := w.run("", args...)
		assert.Equal(t, exitUsage, r.code, "%v", args)
	}
	r = w.run("", "ls")
	assert.Equal(t, exitUsage, r.code)
	assert.Contains(t, r.stderr, envRegistry, "a missing registry names the variable")
}

func TestLoginKeepsTheTokenPrivate(t *testing.T) {
	w := newWorld(t)
	// A config directory others can read is tightened.
	require.NoError(t, os.MkdirAll(filepath.Join(w.home, configDirName), 0o755))
	r := w.ok(clienttest.AdminPassword+"\n", "login", "--user", "admin", "--password-stdin")
	assert.Contains(t, r.stdout, "Logged in to "+w.reg.URL+" as admin")

	fi, err := os.Stat(w.credentialsPath())
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	di, err := os.Stat(filepath.Dir(w.credentialsPath()))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), di.Mode().Perm())

	var creds credentials
	b, err := os.ReadFile(w.credentialsPath())
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &creds))
	saved := creds.Registries[w.reg.URL]
	require.True(t, strings.HasPrefix(saved.Token, "bearer "))
	jwt := strings.TrimPrefix(saved.Token, "bearer ")
	assert.NotContains(t, r.stdout+r.stderr, jwt, "the token is not printed")
	assert.NotContains(t, r.stdout+r.stderr, clienttest.AdminPassword)
	assert.Equal(t, w.reg.URL, creds.Current)

	// The saved login serves later commands, with no registry named.
	delete(w.env, envRegistry)
	r = w.ok("", "whoami")
	assert.Contains(t, r.stdout, "admin at "+w.reg.URL)

	// A credentials file others may read is refused.
	require.NoError(t, os.Chmod(w.credentialsPath(), 0o644))
	r = w.run("", "ls")
	assert.Equal(t, exitError, r.code)
	assert.Contains(t, r.stderr, "chmod 600")
	require.NoError(t, os.Chmod(w.credentialsPath(), 0o600))

	w.ok("", "logout")
	w.env[envRegistry] = w.reg.URL
	r = w.run("", "ls")
	assert.Equal(t, exitAuth, r.code, "logged out")
	r = w.run("wrong-password-123\n", "login", "--user", "admin", "--password-stdin")
	assert.Equal(t, exitAuth, r.code)
	r = w.run("", "login", "--user", "admin")
	assert.Equal(t, exitUsage, r.code, "no terminal and no --password-stdin")

	// ACME_REGISTRY_TOKEN stands in for a login; ACME_REGISTRY_CONFIG_DIR moves the file.
	w.env[envToken] = jwt
	w.ok("", "ls")
	delete(w.env, envToken)
	other := t.TempDir()
	w.env[envConfigDir] = other
	w.login()
	_, err = os.Stat(filepath.Join(other, credentialsFile))
	assert.NoError(t, err)
}

func TestPushPullAndExitCodes(t *testing.T) {
	w := newWorld(t)
	r := w.run("x", "push", "hello", "1.0.0", "-")
	assert.Equal(t, exitAuth, r.code, "not logged in: %s", r.stderr)
	assert.Contains(t, r.stderr, "log in")
	w.login()

	dir := t.TempDir()
	content := bytes.Repeat([]byte("package bytes "), 50000)
	src := filepath.Join(dir, "pkg.tgz")
	require.NoError(t, os.WriteFile(src, content, 0o600))

	r = w.ok("", "--json", "push", "hello", "1.0.0", src)
	var pushed struct {
		Name, Version string
		SHA256        string `json:"sha256_hash"`
		Size          int64
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &pushed))
	assert.Equal(t, hexSum(content), pushed.SHA256)
	assert.Equal(t, int64(len(content)), pushed.Size)
	assert.Empty(t, r.stderr, "no progress bar when stdout is not a terminal")

	// Push from stdin, flags after the arguments.
	r = w.ok("streamed", "push", "hello", "2.0.0", "-", "--json")
	assert.Contains(t, r.stdout, hexSum([]byte("streamed")))

	dest := filepath.Join(dir, "out.tgz")
	r = w.ok("", "pull", "hello", "1.0.0", "-o", dest, "--sha256", hexSum(content))
	assert.Contains(t, r.stdout, "(verified)")
	got, err := os.ReadFile(dest)
	require.NoError(t, err)
	assert.Equal(t, content, got)
	r = w.ok("", "pull", "hello", "2.0.0", "-o", "-")
	assert.Equal(t, "streamed", r.stdout)

	codes := []struct {
		name string
		args []string
		want int
	}{
		{"expected digest differs", []string{"pull", "hello", "1.0.0", "-o", filepath.Join(dir, "bad"), "--sha256", hexSum([]byte("x"))}, exitIntegrity},
		{"declared digest differs", []string{"push", "hello", "3.0.0", src, "--sha256", hexSum([]byte("x"))}, exitIntegrity},
		{"no such version", []string{"pull", "hello", "9.9.9", "-o", filepath.Join(dir, "none")}, exitNotFound},
		{"version exists", []string{"push", "hello", "1.0.0", src}, exitConflict},
		{"bad digest", []string{"pull", "hello", "1.0.0", "--sha256", "abc"}, exitError},
		{"no presigned URLs here", []string{"url", "hello", "1.0.0"}, exitError},
		{"missing file", []string{"push", "hello", "4.0.0", filepath.Join(dir, "missing")}, exitError},
	}
	for _, tc := range codes {
		r := w.run("", tc.args...)
		assert.Equal(t, tc.want, r.code, "%s: %s", tc.name, r.stderr)
	}
	_, err = os.Stat(filepath.Join(dir, "bad"))
	assert.ErrorIs(t, err, os.ErrNotExist, "a refused pull writes nothing")

	// Errors as JSON, with the registry's status and message.
	r = w.run("", "--json", "rm", "hello", "9.9.9")
	assert.Equal(t, exitNotFound, r.code)
	var e struct {
		Error    string `json:"error"`
		ExitCode int    `json:"exit_code"`
		Status   int    `json:"status"`
		Message  string `json:"message"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stderr), &e), r.stderr)
	assert.Equal(t, exitNotFound, e.ExitCode)
	assert.Equal(t, 404, e.Status)
	assert.NotEmpty(t, e.Message)

	// Tampered stored bytes: refused, and nothing written.
	w.reg.Tamper(t, "hello", "1.0.0", bytes.Repeat([]byte("evil"), len(content)/4))
	tampered := filepath.Join(dir, "tampered.tgz")
	r = w.run("", "pull", "hello", "1.0.0", "-o", tampered)
	assert.NotEqual(t, exitOK, r.code)
	_, err = os.Stat(tampered)
	assert.ErrorIs(t, err, os.ErrNotExist)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 2, "only pkg.tgz and out.tgz: no partial file")

	w.ok("", "rm", "hello", "2.0.0")
	r = w.ok("", "--json", "ls", "hello")
	var page struct {
		Packages []struct{ Version string } `json:"packages"`
		Total    int                        `json:"total"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &page))
	assert.Equal(t, 1, page.Total)
}

func TestProgressBarOnATerminal(t *testing.T) {
	w := newWorld(t)
	w.login()
	src := filepath.Join(t.TempDir(), "pkg")
	require.NoError(t, os.WriteFile(src, bytes.Repeat([]byte("x"), 1<<20), 0o600))
	r := w.ok("", "push", "piped", "1", src)
	assert.Empty(t, r.stderr, "no bar when stdout is not a terminal")
	w.terminal = true
	r = w.ok("", "push", "big", "1", src)
	assert.Contains(t, r.stderr, "push big 1", "a bar on stderr")
	assert.Contains(t, r.stdout, "sha256 ")
	r = w.ok("", "--no-progress", "pull", "big", "1", "-o", filepath.Join(t.TempDir(), "out"))
	assert.Empty(t, r.stderr)
	r = w.ok("", "--json", "pull", "big", "1", "-o", filepath.Join(t.TempDir(), "out"))
	assert.Empty(t, r.stderr, "none with --json")
}

func TestListPages(t *testing.T) {
	w := newWorld(t)
	w.login()
	for _, v := range []string{"1", "2", "3"} {
		w.ok(v, "push", "lib", v, "-")
	}
	r := w.ok("", "ls", "lib", "--limit", "2")
	assert.Equal(t, 3, strings.Count(r.stdout, "\n"), "header and two rows: %s", r.stdout)
	assert.Contains(t, r.stderr, "--offset 2")
	r = w.ok("", "ls", "--limit", "2", "--offset", "2")
	assert.Equal(t, 2, strings.Count(r.stdout, "\n"))
	r = w.ok("", "ls", "--all", "--limit", "1")
	assert.Equal(t, 4, strings.Count(r.stdout, "\n"))
}

func TestUsersCommands(t *testing.T) {
	w := newWorld(t)
	w.login()
	w.ok("reader-password-1\n", "users", "add", "reader", "--permissions", "download,search", "--password-stdin")
	r := w.ok("", "users")
	assert.Contains(t, r.stdout, "reader")
	assert.Contains(t, r.stdout, "download,search")
	r = w.ok("", "--json", "users", "set", "reader", "--permissions", "download")
	assert.JSONEq(t, `{"name":"reader","permissions":["download"]}`, r.stdout)
	assert.Equal(t, exitUsage, w.run("", "users", "set", "reader").code, "--permissions is required")
	assert.Equal(t, exitUsage, w.run("", "users", "add", "x", "--permissions", "root").code)
	assert.Equal(t, exitConflict, w.run("reader-password-1\n", "users", "add", "reader", "--password-stdin").code)
	w.ok("", "users", "rm", "reader")
	assert.Equal(t, exitNotFound, w.run("", "users", "rm", "reader").code)
}

func TestModuleCommands(t *testing.T) {
	w := newWorld(t)
	w.login()
	mod := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(mod, "main.tf"), []byte(`output "x" { value = 1 }`), 0o644))
	r := w.ok("", "module", "publish", "acme/vpc/aws", "1.0.0", mod)
	assert.Contains(t, r.stdout, "package tfmodule.acme.vpc.aws")
	r = w.ok("", "--json", "module", "versions", "acme/vpc/aws")
	assert.JSONEq(t, `{"module":"acme/vpc/aws","package":"tfmodule.acme.vpc.aws","versions":["1.0.0"]}`, r.stdout)
	r = w.ok("", "module", "url", "acme/vpc/aws", "1.0.0")
	assert.Contains(t, r.stdout, "archive=tar.gz&checksum=sha256:")

	assert.Equal(t, exitUsage, w.run("", "module", "publish", "acme/vpc", "1.0.0", mod).code)
	assert.Equal(t, exitUsage, w.run("", "module", "publish", "acme/vpc/aws", "v1", mod).code)
	assert.Equal(t, exitUsage, w.run("", "module", "publish", "acme/vpc/aws", "1.0.1", filepath.Join(mod, "main.tf")).code, "not a tar.gz")
	assert.Equal(t, exitConflict, w.run("", "module", "publish", "acme/vpc/aws", "1.0.0", mod).code)
	assert.Equal(t, exitUsage, w.run("", "module", "terraform-config", "--host", "not a host").code)

	rc := filepath.Join(t.TempDir(), "acme.tfrc")
	w.ok("", "module", "terraform-config", "--host", "registry.acme.internal", "-o", rc)
	fi, err := os.Stat(rc)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	b, err := os.ReadFile(rc)
	require.NoError(t, err)
	assert.Contains(t, string(b), `host "registry.acme.internal"`)
	assert.Contains(t, string(b), `"modules.v1" = "`+w.reg.URL+`/v1/modules/"`)
	assert.Regexp(t, `token = "[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+"`, string(b), "the bare JWT, as Terraform sends it after Bearer")
}
