// Command acme-registry is the command line of the ACME Trustworthy Module
// Registry: log in, push and pull packages (every pull verified against the
// registry's recorded SHA-256, and against yours with --sha256), list, presigned
// URLs, users, and Terraform modules.
//
//	go install github.com/acme/module-registry/runtime/cmd/acme-registry@latest
//	acme-registry --registry http://127.0.0.1:8080 login --user admin
//	acme-registry push hello 1.0.0 hello.tgz
//	acme-registry pull hello 1.0.0 -o hello.tgz
//
// Run `acme-registry help` for the commands, the environment and the exit codes.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/acme/module-registry/runtime/client"
)

// Exit codes, for scripts.
const (
	exitOK          = 0
	exitError       = 1 // anything below not covered: network, registry failure, bad file
	exitUsage       = 2 // the command line is wrong
	exitAuth        = 3 // not logged in, wrong credentials, token expired or refused, permission missing
	exitNotFound    = 4 // no such package version, user or module
	exitIntegrity   = 5 // bytes do not match their SHA-256: nothing was written
	exitConflict    = 6 // the version (or user) exists already
	exitRateLimited = 7 // the registry asks to slow down: retry later
)

// Environment variables.
const (
	envRegistry  = "ACME_REGISTRY_URL"
	envToken     = "ACME_REGISTRY_TOKEN"
	envConfigDir = "ACME_REGISTRY_CONFIG_DIR"
)

func main() {
	stdinTTY := term.IsTerminal(int(os.Stdin.Fd()))
	c := &cli{
		stdin:            os.Stdin,
		stdout:           os.Stdout,
		stderr:           os.Stderr,
		getenv:           os.Getenv,
		stdinIsTerminal:  stdinTTY,
		stdoutIsTerminal: term.IsTerminal(int(os.Stdout.Fd())),
		userConfigDir:    os.UserConfigDir,
		readPassword: func(prompt string) (string, error) {
			fmt.Fprint(os.Stderr, prompt)
			b, err := term.ReadPassword(int(os.Stdin.Fd()))
			fmt.Fprintln(os.Stderr)
			return string(b), err
		},
	}
	os.Exit(c.run(os.Args[1:]))
}

// cli is one invocation: its streams, environment and global flags.
type cli struct {
	stdin            io.Reader
	stdout, stderr   io.Writer
	getenv           func(string) string
	stdinIsTerminal  bool
	stdoutIsTerminal bool
	userConfigDir    func() (string, error)
	readPassword     func(prompt string) (string, error)

	registry   string
	jsonOut    bool
	timeout    time.Duration
	noProgress bool
}

// command is one subcommand.
type command struct {
	name, usage, summary string
	// run parses the command's flags on fs (which holds the global flags) and does
	// the work.
	run func(c *cli, fs *flag.FlagSet, args []string) error
}

func commands() []command {
	return []command{
		{"login", "login --user NAME [--password-stdin]", "log in and keep the token in the config directory", (*cli).login},
		{"logout", "logout", "forget this machine's token for the registry", (*cli).logout},
		{"whoami", "whoami", "show the registry, user and token expiry in use", (*cli).whoami},
		{"push", "push NAME VERSION FILE|- [--sha256 HEX] [--presigned]", "upload a package, its SHA-256 declared to the registry", (*cli).push},
		{"pull", "pull NAME VERSION [-o FILE|-] [--sha256 HEX] [--presigned]", "download a package, verified; a mismatch leaves no file", (*cli).pull},
		{"ls", "ls [NAME] [--offset N] [--limit N] [--all]", "list packages (all, or the versions of NAME)", (*cli).ls},
		{"url", "url NAME VERSION [--no-verify] | url --upload FILE NAME VERSION", "presigned download URL, or presigned upload request (aws backend)", (*cli).url},
		{"commit", "commit NAME VERSION UPLOAD_ID", "record a presigned upload as the package version", (*cli).commit},
		{"rm", "rm NAME VERSION", "delete a package version (admin)", (*cli).rm},
		{"users", "users [ls] | users add NAME --permissions P,.. [--password-stdin] | users set NAME --permissions P,.. | users rm NAME", "manage users (admin)", (*cli).users},
		{"module", "module publish ADDR VERSION DIR|FILE.tar.gz | module versions ADDR | module url ADDR VERSION | module terraform-config --host HOST [-o FILE]", "Terraform modules (ADDR is namespace/name/system)", (*cli).module},
		{"version", "version", "print this program's version", (*cli).version},
	}
}

// usageError is a mistake on the command line (exit 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

// run executes args and returns the exit code.
func (c *cli) run(args []string) int {
	if c.timeout == 0 {
		c.timeout = client.DefaultTimeout
	}
	global := c.flagSet("acme-registry")
	rest, err := parseInterspersed(global, args, true)
	if errors.Is(err, flag.ErrHelp) || (err == nil && len(rest) == 0) {
		c.help(c.stdout)
		if err == nil && len(rest) == 0 {
			return exitUsage
		}
		return exitOK
	}
	if err != nil {
		return c.fail(usagef("%v", err))
	}
	name, cmdArgs := rest[0], rest[1:]
	if name == "help" {
		if len(cmdArgs) == 0 {
			c.help(c.stdout)
			return exitOK
		}
		name, cmdArgs = cmdArgs[0], []string{"--help"}
	}
	for _, cmd := range commands() {
		if cmd.name != name {
			continue
		}
		fs := c.flagSet("acme-registry " + cmd.name)
		err := cmd.run(c, fs, cmdArgs)
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(c.stdout, "usage: acme-registry %s\n\n%s\n\nflags:\n", cmd.usage, cmd.summary)
			fs.SetOutput(c.stdout)
			fs.PrintDefaults()
			return exitOK
		}
		return c.fail(err)
	}
	c.help(c.stderr)
	return c.fail(usagef("unknown command %q", name))
}

// flagSet returns a flag set holding the global flags, which are accepted before and
// after the command.
func (c *cli) flagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // mistakes are reported once, by fail; --help by run
	fs.Usage = func() {}
	fs.StringVar(&c.registry, "registry", c.registry, "registry URL (default $"+envRegistry+", else the registry of the last login)")
	fs.BoolVar(&c.jsonOut, "json", c.jsonOut, "print results (and errors, on stderr) as JSON")
	fs.DurationVar(&c.timeout, "timeout", c.timeout, "time limit of each metadata request (transfers stop only when stalled for 2m)")
	fs.BoolVar(&c.noProgress, "no-progress", c.noProgress, "no progress bar (shown on stderr only when stdout is a terminal)")
	return fs
}

// parseInterspersed parses flags anywhere among the positional arguments (up to
// "--"). With stopAtFirst it stops at the first positional argument, leaving the
// rest to the command.
func parseInterspersed(fs *flag.FlagSet, args []string, stopAtFirst bool) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		if consumed := len(args) - len(rest); stopAtFirst || (consumed > 0 && args[consumed-1] == "--") {
			return append(positional, rest...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// parse parses a command's arguments and checks their number.
func parse(fs *flag.FlagSet, args []string, min, max int) ([]string, error) {
	pos, err := parseInterspersed(fs, args, false)
	if errors.Is(err, flag.ErrHelp) {
		return nil, err
	}
	if err != nil {
		return nil, usagef("%v (run %s --help)", err, fs.Name())
	}
	if len(pos) < min || (max >= 0 && len(pos) > max) {
		return nil, usagef("%s: wrong number of arguments (run with --help)", fs.Name())
	}
	return pos, nil
}

// fail reports err (if any) and returns its exit code.
func (c *cli) fail(err error) int {
	if err == nil {
		return exitOK
	}
	code := exitCode(err)
	if c.jsonOut {
		out := map[string]any{"error": err.Error(), "exit_code": code}
		var apiErr *client.APIError
		if errors.As(err, &apiErr) {
			out["status"], out["message"] = apiErr.Status, apiErr.Message
			if apiErr.RequestID != "" {
				out["request_id"] = apiErr.RequestID
			}
		}
		_ = encodeJSON(c.stderr, out)
		return code
	}
	fmt.Fprintf(c.stderr, "acme-registry: %v\n", err)
	if code == exitAuth && (errors.Is(err, client.ErrNotLoggedIn) || errors.Is(err, client.ErrForbidden)) {
		fmt.Fprintln(c.stderr, "(log in with: acme-registry login --user NAME)")
	}
	return code
}

func exitCode(err error) int {
	var ue *usageError
	switch {
	case errors.As(err, &ue):
		return exitUsage
	case errors.Is(err, client.ErrIntegrity):
		return exitIntegrity
	case errors.Is(err, client.ErrUnauthorized), errors.Is(err, client.ErrForbidden), errors.Is(err, client.ErrNotLoggedIn):
		return exitAuth
	case errors.Is(err, client.ErrNotFound):
		return exitNotFound
	case errors.Is(err, client.ErrConflict):
		return exitConflict
	case errors.Is(err, client.ErrRateLimited):
		return exitRateLimited
	}
	return exitError
}

func (c *cli) help(w io.Writer) {
	fmt.Fprintf(w, `acme-registry - the ACME Trustworthy Module Registry from the command line

usage: acme-registry [global flags] COMMAND [flags] [arguments]

commands:
`)
	for _, cmd := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", cmd.name, cmd.summary)
	}
	fmt.Fprintf(w, `  help     help COMMAND shows a command's arguments and flags

global flags (before or after the command):
  --registry URL   registry URL (default $%[1]s, else the registry of the last login)
  --json           results as JSON on stdout, errors as JSON on stderr
  --timeout D      time limit of each metadata request (default 30s)
  --no-progress    no progress bar (it is drawn on stderr when stdout is a terminal)

environment:
  %[1]s         registry URL
  %[2]s       a token to use instead of the saved login (CI)
  %[3]s  where credentials.json is kept (default: <user config dir>/acme-registry)

exit codes:
  0 success   1 other error   2 usage   3 authentication or permission
  4 not found   5 integrity (SHA-256 mismatch; nothing written)   6 already exists
  7 rate limited (retry later)
`, envRegistry, envToken, envConfigDir)
}

func (c *cli) version(fs *flag.FlagSet, args []string) error {
	if _, err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	v := "(devel)"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		v = bi.Main.Version
	}
	return c.print(map[string]string{"version": v}, func(w io.Writer) { fmt.Fprintln(w, "acme-registry", v) })
}

// readSecret reads a password from stdin (--password-stdin: the first line) or
// prompts for it on a terminal.
func (c *cli) readSecret(fromStdin bool, prompt string) (string, error) {
	if fromStdin {
		line, err := bufio.NewReader(io.LimitReader(c.stdin, 4096)).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", err
		}
		pw := strings.TrimRight(line, "\r\n")
		if pw == "" {
			return "", usagef("--password-stdin: stdin held no password")
		}
		return pw, nil
	}
	if !c.stdinIsTerminal {
		return "", usagef("no terminal to ask for the password: pipe it in with --password-stdin")
	}
	return c.readPassword(prompt)
}
