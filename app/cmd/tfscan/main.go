// Command tfscan synthesizes the app as prod would and scans every stack with tfsec
// (app/tfscan), printing the findings per severity; it exits 1 when any is CRITICAL or
// HIGH.
//
//	go run ./app/cmd/tfscan [-work .run/scan] [-synth cdktf.out]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/acme/module-registry/app/tfscan"
	"github.com/acme/module-registry/runtime/image"
)

func main() {
	work := flag.String("work", ".run/scan", "where the synth, the rendered HCL and tfsec go")
	synth := flag.String("synth", "", "scan the stacks synthesized in this cdktf output directory instead of synthesizing for prod")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	root, err := image.FindModuleRoot(".")
	if err != nil {
		fmt.Fprintln(os.Stderr, "tfscan:", err)
		os.Exit(2)
	}
	start := time.Now()
	report, err := tfscan.Run(ctx, tfscan.Options{ModuleDir: root, WorkDir: *work, SynthDir: *synth, Log: func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "tfscan: "+format+" (%.0fs)\n", append(args, time.Since(start).Seconds())...)
	}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "tfscan:", err)
		os.Exit(2)
	}
	fmt.Print(report.Summary())
	fmt.Printf("  (%.0f s)\n", time.Since(start).Seconds())
	if report.Blocking() {
		os.Exit(1)
	}
}
