// Command emulator runs the local AWS emulator until SIGINT or SIGTERM; app/localenv
// starts it detached for `make up` and stops it for `make down`.
//
//	go run ./test/emulator/cmd/emulator -state-file .run/emulator.json
//
// With -listen-fd N it serves on the listening socket it inherits as descriptor N, so
// the one who started it knows the endpoint before moto has started.
//
// While running, the state file holds {"endpoint","region","account_id","pid",
// "moto_pid"} (localenv.EmulatorState; pid is this command's, so SIGTERM to it stops
// moto cleanly); moto's log goes to -log-file. On exit moto is stopped and the state
// file removed.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/acme/module-registry/test/emulator"
)

type state struct {
	Endpoint  string `json:"endpoint"`
	Region    string `json:"region"`
	AccountID string `json:"account_id"`
	PID       int    `json:"pid"`      // this command: signal it to stop everything
	MotoPID   int    `json:"moto_pid"` // the server itself, for diagnostics
}

func main() {
	if err := run(); err != nil {
		// Errors of package emulator already say where they come from.
		fmt.Fprintln(os.Stderr, "emulator:", strings.TrimPrefix(err.Error(), "emulator: "))
		os.Exit(1)
	}
}

func run() error {
	stateFile := flag.String("state-file", ".run/emulator.json", "where to write the endpoint, region, account id and pid")
	logFile := flag.String("log-file", "", "moto's log (default: emulator.log next to the state file)")
	accountID := flag.String("account-id", emulator.DefaultAccountID, "12-digit AWS account id moto reports")
	region := flag.String("region", emulator.DefaultRegion, "AWS region")
	listenFD := flag.Int("listen-fd", -1, "serve on this inherited descriptor of a TCP socket listening on 127.0.0.1 (default: bind a free port)")
	flag.Parse()

	if *logFile == "" {
		*logFile = filepath.Join(filepath.Dir(*stateFile), "emulator.log")
	}
	if err := os.MkdirAll(filepath.Dir(*stateFile), 0o755); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(*logFile), 0o755); err != nil {
		return err
	}
	logf, err := os.OpenFile(*logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()

	// Catch signals before launching so an early Ctrl-C still stops moto.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	opts := emulator.Options{AccountID: *accountID, Region: *region, LogOutput: logf}
	if *listenFD >= 0 {
		opts.Listener = os.NewFile(uintptr(*listenFD), "listener")
	}
	emu, err := emulator.Launch(ctx, opts)
	if opts.Listener != nil {
		opts.Listener.Close() // moto has its own copy
	}
	if err != nil {
		return err
	}
	defer emu.Stop()

	b, err := json.MarshalIndent(state{
		Endpoint:  emu.Endpoint(),
		Region:    emu.Region(),
		AccountID: emu.AccountID(),
		PID:       os.Getpid(),
		MotoPID:   emu.PID(),
	}, "", "  ")
	if err != nil {
		return err
	}
	// Write then rename so readers never see a half-written file.
	tmp := *stateFile + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, *stateFile); err != nil {
		return err
	}
	defer os.Remove(*stateFile)

	fmt.Printf("emulator: %s (region %s, account %s); log %s; state %s\n",
		emu.Endpoint(), emu.Region(), emu.AccountID(), *logFile, *stateFile)
	<-ctx.Done()
	fmt.Println("emulator: stopping")
	return nil
}
