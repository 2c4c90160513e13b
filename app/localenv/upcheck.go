package localenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// downTimeout bounds up-check's down, which runs even after Ctrl-C.
const downTimeout = 15 * time.Minute

// UpCheck is `make up-check`, the main job as a user runs it: Up, then Diff, which must
// report "No changes.", then Down, however the two before it ended. It works in
// RunDir/up-check with its own synth output and a free port, so it runs beside an
// environment that is serving. Each step's output goes to a log beside that directory
// (up-check-up.log, ...); a failure quotes the end of its log.
func (e *Env) UpCheck(ctx context.Context) error {
	addr, err := FreeAddr()
	if err != nil {
		return err
	}
	dir := filepath.Join(e.RunDir, "up-check")
	sub := func(out io.Writer) *Env {
		return &Env{
			RunDir: dir, OutDir: filepath.Join(dir, DefaultOutDir), RegistryAddr: addr, Getenv: e.Getenv,
			Stdout: out, Stderr: out, emulatorProgram: e.emulatorProgram, registryProgram: e.registryProgram,
		}
	}
	return upCheck(ctx, e.Stdout, dir, upCheckSteps{
		up:   func(ctx context.Context, out io.Writer) error { return sub(out).Up(ctx) },
		diff: func(ctx context.Context, out io.Writer) error { return sub(out).Diff(ctx) },
		down: func(ctx context.Context, out io.Writer) error { return sub(out).Down(ctx) },
	})
}

// upCheckSteps are the three steps of up-check, each writing its output to out.
type upCheckSteps struct {
	up, diff, down func(ctx context.Context, out io.Writer) error
}

// noChanges is what cdktf diff prints when the plan is empty.
const noChanges = "No changes."

func upCheck(ctx context.Context, w io.Writer, dir string, steps upCheckSteps) (err error) {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	defer func() {
		// A context of its own: down must also run after Ctrl-C ended up or diff.
		downCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), downTimeout)
		defer cancel()
		if log, derr := runLogged(downCtx, dir, "down", steps.down); derr != nil {
			fmt.Fprintf(w, "make down failed; %s ends with:\n%s\n", log, tailFile(log, 30))
			err = errors.Join(err, errors.New("make down failed"))
			return
		}
		fmt.Fprintln(w, "make down: stack destroyed, emulator stopped")
	}()

	log, err := runLogged(ctx, dir, "up", steps.up)
	if err != nil {
		fmt.Fprintf(w, "make up failed; %s ends with:\n%s\n", log, tailFile(log, 60))
		return errors.New("make up failed")
	}
	up, err := os.ReadFile(log)
	if err != nil {
		return err
	}
	fmt.Fprint(w, section(string(up), "Smoke test"))

	if log, err = runLogged(ctx, dir, "diff", steps.diff); err != nil {
		fmt.Fprintf(w, "make diff failed; %s ends with:\n%s\n", log, tailFile(log, 40))
		return errors.New("make diff failed")
	}
	diff, err := os.ReadFile(log)
	if err != nil {
		return err
	}
	if !bytes.Contains(diff, []byte(noChanges)) {
		fmt.Fprintf(w, "a second plan after make up wants changes; %s ends with:\n%s\n", log, lastLines(nonBlank(string(diff)), 60))
		return errors.New("a second plan after make up wants changes")
	}
	fmt.Fprintln(w, "make diff after make up: no changes")
	return nil
}

// runLogged runs step with its output in <dir>-<name>.log, its error written last, and
// returns the log's path.
func runLogged(ctx context.Context, dir, name string, step func(context.Context, io.Writer) error) (string, error) {
	log := dir + "-" + name + ".log"
	f, err := os.Create(log)
	if err != nil {
		return log, err
	}
	defer f.Close()
	if err := step(ctx, f); err != nil {
		fmt.Fprintf(f, "localenv %s: %v\n", name, err)
		return log, err
	}
	return log, nil
}

// section returns the lines of text from the first one starting with prefix through the
// first blank line after it.
func section(text, prefix string) string {
	var b strings.Builder
	in := false
	for _, line := range strings.SplitAfter(text, "\n") {
		in = in || strings.HasPrefix(line, prefix)
		if !in {
			continue
		}
		b.WriteString(line)
		if strings.TrimSpace(line) == "" {
			break
		}
	}
	return b.String()
}

// nonBlank drops the blank lines of text.
func nonBlank(text string) string {
	var keep []string
	for _, line := range strings.Split(text, "\n") {
		if strings.TrimSpace(line) != "" {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "\n")
}
