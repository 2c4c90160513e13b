// Command localenv runs the local environment of package app/localenv: the make targets
// up, down, diff, up-check and the smaller ones they are made of. Run it from the
// repository root.
//
//	go run ./app/cmd/localenv [-run-dir .run] [-out cdktf.out] <command>
//
// The registry listens on $REGISTRY_ADDR (default 127.0.0.1:8080); the ACME_* settings of
// the environment apply to the local stack (see README.md, Configuration).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/acme/module-registry/app/localenv"
)

// commands in the order the usage lists them.
var commands = []struct {
	name, help string
	run        func(context.Context, *localenv.Env) error
}{
	{"up", "start the emulator, deploy the stack to it with the cdktf CLI, start the registry, smoke-test it",
		func(ctx context.Context, e *localenv.Env) error { return e.Up(ctx) }},
	{"down", "stop the registry, destroy the stack, stop the emulator, remove the local state",
		func(ctx context.Context, e *localenv.Env) error { return e.Down(ctx) }},
	{"diff", "plan the stack against the running emulator",
		func(ctx context.Context, e *localenv.Env) error { return e.Diff(ctx) }},
	{"up-check", "up, then diff (must report no changes), then down, in <run-dir>/up-check on a free port",
		func(ctx context.Context, e *localenv.Env) error { return e.UpCheck(ctx) }},
	{"emulator-start", "start the emulator unless it runs",
		func(ctx context.Context, e *localenv.Env) error {
			cfg, err := e.Config()
			if err == nil {
				_, err = e.StartEmulator(ctx, cfg)
			}
			return err
		}},
	{"emulator-stop", "stop the emulator",
		func(_ context.Context, e *localenv.Env) error { return e.StopEmulator() }},
	{"registry-stop", "stop the registry",
		func(_ context.Context, e *localenv.Env) error { return e.StopRegistry() }},
	{"smoke", "run the smoke sequence against the running registry",
		func(ctx context.Context, e *localenv.Env) error { return e.Smoke(ctx) }},
	{"admin-password", "print the deployed admin password",
		func(ctx context.Context, e *localenv.Env) error {
			p, err := e.AdminPassword(ctx)
			if err == nil {
				fmt.Println(p)
			}
			return err
		}},
	{"install-cdktf", "install the project-local cdktf CLI (npm ci in tools/)",
		func(ctx context.Context, e *localenv.Env) error { return e.InstallCDKTF(ctx) }},
}

func main() {
	runDir := flag.String("run-dir", localenv.DefaultRunDir, "run directory: emulator and registry state and logs, binaries, Terraform state, outputs")
	outDir := flag.String("out", localenv.DefaultOutDir, "synth output directory")
	flag.Usage = usage
	flag.Parse()
	if flag.NArg() != 1 {
		usage()
		os.Exit(2)
	}
	name := flag.Arg(0)
	for _, c := range commands {
		if c.name != name {
			continue
		}
		// Ctrl-C interrupts the running step; up-check still takes the stack down.
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		e := localenv.New(os.Stdout, os.Stderr)
		e.RunDir, e.OutDir = *runDir, *outDir
		if err := c.run(ctx, e); err != nil {
			fmt.Fprintf(os.Stderr, "localenv %s: %v\n", name, err)
			stop()
			os.Exit(1)
		}
		return
	}
	fmt.Fprintf(os.Stderr, "localenv: unknown command %q\n", name)
	usage()
	os.Exit(2)
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: localenv [-run-dir dir] [-out dir] <command>\n\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(os.Stderr, "  %-15s %s\n", c.name, c.help)
	}
	fmt.Fprintln(os.Stderr, "\nflags:")
	flag.PrintDefaults()
}
