// Command steps runs make targets in lanes: the targets of one lane one after another,
// the lanes at the same time, and prints each target's output when it ends and a table
// of every target's time at the end (app/steps). `make test` runs through it:
//
//	go run ./app/cmd/steps [-log-dir DIR] [-nice N] check,unit terratest up-check
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/acme/module-registry/app/steps"
)

func main() {
	logDir := flag.String("log-dir", ".run/steps", "directory for one log per step")
	nice := flag.Int("nice", 0, "niceness (0-19) of the steps of every lane but the first")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: steps [-log-dir DIR] [-nice N] LANE...\n  LANE: make targets separated by commas, run one after another; lanes run at the same time")
		flag.PrintDefaults()
	}
	flag.Parse()
	makeProgram := os.Getenv("MAKE")
	if makeProgram == "" {
		makeProgram = "make"
	}
	lanes, err := steps.ParseLanes(makeProgram, *nice, flag.Args())
	if err != nil {
		fmt.Fprintln(os.Stderr, "steps:", err)
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	r := &steps.Runner{Out: os.Stdout, LogDir: *logDir}
	if _, err := r.Run(ctx, lanes); err != nil {
		fmt.Fprintln(os.Stderr, "steps:", err)
		os.Exit(1)
	}
}
