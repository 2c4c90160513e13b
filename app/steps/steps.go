// Package steps runs the steps of a check in lanes: the steps of a lane one after
// another, the lanes at the same time. Each step's output goes to its own log and is
// printed whole when the step ends, so concurrent steps never interleave; a table of
// every step's start, duration and result closes the run. `make test` runs its steps
// through it (app/cmd/steps).
package steps

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// Step is one command of a lane.
type Step struct {
	Name string
	Args []string // the command and its arguments
	// Nice lowers the command's scheduling priority (nice(1)) so that, when the cores
	// are all busy, it yields to the steps that need them more.
	Nice int
}

// Lane is a sequence of steps: a step starts when the one before it succeeded.
type Lane []Step

// Result is what became of one step.
type Result struct {
	Step     string
	Lane     int           // 1-based
	Start    time.Duration // since the run started
	Duration time.Duration
	// CPU is the user and system time of the step's command and the processes it
	// waited for: on a machine with few cores, what the steps compete for.
	CPU     time.Duration
	Log     string
	Err     error
	Skipped bool // an earlier step of its lane failed
}

// Status is the result column of the table.
func (r Result) Status() string {
	switch {
	case r.Skipped:
		return "skipped"
	case r.Err != nil:
		return "FAILED"
	default:
		return "ok"
	}
}

// Runner runs lanes.
type Runner struct {
	// Out receives each step's output when it ends, and the table.
	Out io.Writer
	// LogDir holds a log per step, <name>.log.
	LogDir string
	// Dir is the steps' working directory ("" is the current one).
	Dir string

	mu  sync.Mutex // serializes writes to Out
	now func() time.Time
}

// Run runs every lane at once and returns the results in lane order. The error names
// the steps that failed; a failed step skips the rest of its lane, the other lanes run
// on so that one run reports every failure.
func (r *Runner) Run(ctx context.Context, lanes []Lane) ([]Result, error) {
	if r.now == nil {
		r.now = time.Now
	}
	if err := os.MkdirAll(r.LogDir, 0o755); err != nil {
		return nil, err
	}
	if err := checkNames(lanes); err != nil {
		return nil, err
	}
	start := r.now()
	results := make([][]Result, len(lanes))
	var wg sync.WaitGroup
	for i, lane := range lanes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = r.runLane(ctx, start, i+1, lane)
		}()
	}
	wg.Wait()
	var all []Result
	var failed []string
	for _, lane := range results {
		for _, res := range lane {
			all = append(all, res)
			if res.Err != nil {
				failed = append(failed, res.Step)
			}
		}
	}
	r.table(all, r.now().Sub(start))
	if len(failed) > 0 {
		return all, fmt.Errorf("failed: %s", strings.Join(failed, ", "))
	}
	return all, nil
}

func checkNames(lanes []Lane) error {
	seen := map[string]bool{}
	for _, lane := range lanes {
		for _, s := range lane {
			switch {
			case s.Name == "" || strings.ContainsAny(s.Name, `/\`):
				return fmt.Errorf("step name %q: want a plain file name", s.Name)
			case len(s.Args) == 0:
				return fmt.Errorf("step %s has no command", s.Name)
			case seen[s.Name]:
				return fmt.Errorf("step %s appears twice", s.Name)
			}
			seen[s.Name] = true
		}
	}
	return nil
}

func (r *Runner) runLane(ctx context.Context, start time.Time, n int, lane Lane) []Result {
	var out []Result
	failed := false
	for _, s := range lane {
		res := Result{Step: s.Name, Lane: n, Log: filepath.Join(r.LogDir, s.Name+".log")}
		if failed {
			res.Skipped = true
			out = append(out, res)
			continue
		}
		res.Start = r.now().Sub(start)
		r.printf("--> %s (lane %d) started at %s; log %s\n", s.Name, n, seconds(res.Start), res.Log)
		res.CPU, res.Err = r.runStep(ctx, s, res.Log)
		res.Duration = r.now().Sub(start) - res.Start
		r.report(res)
		failed = res.Err != nil
		out = append(out, res)
	}
	return out
}

// runStep runs s with its output in log and returns the CPU time it used.
func (r *Runner) runStep(ctx context.Context, s Step, log string) (time.Duration, error) {
	f, err := os.Create(log)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	args := s.Args
	if s.Nice > 0 {
		args = append([]string{"nice", "-n", strconv.Itoa(s.Nice)}, args...)
	}
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Dir = r.Dir
	cmd.Stdout, cmd.Stderr = f, f
	cmd.WaitDelay = 10 * time.Second
	err = cmd.Run()
	var cpu time.Duration
	if cmd.ProcessState != nil {
		cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	if err != nil {
		return cpu, fmt.Errorf("%s: %w", strings.Join(s.Args, " "), err)
	}
	return cpu, nil
}

// report prints a finished step's log whole, under a header line.
func (r *Runner) report(res Result) {
	text, err := os.ReadFile(res.Log)
	if err != nil {
		text = []byte(fmt.Sprintf("(reading %s: %v)\n", res.Log, err))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintf(r.Out, "==> %s: %s in %s\n", res.Step, res.Status(), seconds(res.Duration))
	r.Out.Write(text)
	if len(text) > 0 && !bytes.HasSuffix(text, []byte("\n")) {
		fmt.Fprintln(r.Out)
	}
	if res.Err != nil {
		fmt.Fprintf(r.Out, "==> %s FAILED: %v\n", res.Step, res.Err)
	}
}

func (r *Runner) printf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintf(r.Out, format, args...)
}

// table prints every step's lane, start, duration and result, and the run's wall time.
func (r *Runner) table(results []Result, wall time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var busy, cpu time.Duration
	tw := tabwriter.NewWriter(r.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(r.Out)
	fmt.Fprintln(tw, "step\tlane\tstart s\tseconds\tcpu s\tresult")
	for _, res := range results {
		if res.Skipped {
			fmt.Fprintf(tw, "%s\t%d\t-\t-\t-\t%s\n", res.Step, res.Lane, res.Status())
			continue
		}
		busy += res.Duration
		cpu += res.CPU
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", res.Step, res.Lane, seconds(res.Start), seconds(res.Duration), seconds(res.CPU), res.Status())
	}
	fmt.Fprintf(tw, "sum of steps\t\t\t%s\t%s\t\n", seconds(busy), seconds(cpu))
	fmt.Fprintf(tw, "wall time\t\t\t%s\t\t\n", seconds(wall))
	tw.Flush()
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.1f", d.Seconds()) }

// ParseLanes reads lanes of make targets, one argument per lane with its targets
// separated by commas ("check,unit"): each target becomes the step `make -s <target>`.
// The steps of every lane but the first run with niceness nice: the first lane holds
// the short CPU-bound steps that decide the run's length, the others mostly wait on
// services and take the CPU the first leaves.
func ParseLanes(makeProgram string, nice int, args []string) ([]Lane, error) {
	if len(args) == 0 {
		return nil, errors.New("no lanes: give one argument per lane, its make targets separated by commas")
	}
	if nice < 0 || nice > 19 {
		return nil, fmt.Errorf("niceness %d: want 0-19", nice)
	}
	lanes := make([]Lane, 0, len(args))
	for i, arg := range args {
		var lane Lane
		for _, target := range strings.Split(arg, ",") {
			if target = strings.TrimSpace(target); target == "" {
				return nil, fmt.Errorf("lane %q has an empty target", arg)
			}
			step := Step{Name: target, Args: []string{makeProgram, "-s", "--no-print-directory", target}}
			if i > 0 {
				step.Nice = nice
			}
			lane = append(lane, step)
		}
		lanes = append(lanes, lane)
	}
	return lanes, nil
}
