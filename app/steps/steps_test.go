package steps

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func sh(name, script string) Step { return Step{Name: name, Args: []string{"sh", "-c", script}} }

func TestLanesRunAtOnceAndStepsOfALaneInOrder(t *testing.T) {
	dir := t.TempDir()
	// Each of the first two steps waits for the other's mark: they end only if the
	// lanes run at the same time. "after" sees the mark its lane's first step left.
	lanes := []Lane{
		{sh("a", "touch a; until [ -f b ]; do sleep 0.01; done; echo a-done"), sh("after", "test -f a && echo after-done")},
		{sh("b", "touch b; until [ -f a ]; do sleep 0.01; done; echo b-done")},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out bytes.Buffer
	r := &Runner{Out: &out, LogDir: filepath.Join(dir, "logs"), Dir: dir}
	results, err := r.Run(ctx, lanes)
	require.NoError(t, err, out.String())
	require.Len(t, results, 3)
	assert.Equal(t, []string{"a", "after", "b"}, []string{results[0].Step, results[1].Step, results[2].Step})
	assert.GreaterOrEqual(t, results[1].Start, results[0].Start+results[0].Duration, "after starts when a ended")
	for _, want := range []string{"==> a: ok", "a-done", "==> after: ok", "after-done", "==> b: ok", "b-done", "wall time"} {
		assert.Contains(t, out.String(), want)
	}
}

func TestAFailedStepSkipsTheRestOfItsLaneAndNotTheOthers(t *testing.T) {
	dir := t.TempDir()
	lanes := []Lane{
		{sh("broken", "echo why-it-broke; exit 3"), sh("never", "touch never")},
		{sh("other", "touch other")},
	}
	var out bytes.Buffer
	r := &Runner{Out: &out, LogDir: filepath.Join(dir, "logs"), Dir: dir}
	results, err := r.Run(context.Background(), lanes)
	require.Error(t, err)
	assert.Equal(t, "failed: broken", err.Error())
	assert.Equal(t, "FAILED", results[0].Status())
	assert.Equal(t, "skipped", results[1].Status())
	assert.Equal(t, "ok", results[2].Status())
	assert.NoFileExists(t, filepath.Join(dir, "never"))
	assert.FileExists(t, filepath.Join(dir, "other"))
	assert.Contains(t, out.String(), "why-it-broke", "a failed step's output is printed")
	assert.Regexp(t, `(?m)^never\s+1\s+-\s+-\s+-\s+skipped`, out.String())
}

func TestOutputOfConcurrentStepsIsNotInterleaved(t *testing.T) {
	dir := t.TempDir()
	loop := func(word string) string {
		return "for i in 1 2 3 4 5 6 7 8 9 10; do echo " + word + "; sleep 0.01; done"
	}
	lanes := []Lane{{sh("x", loop("xxx"))}, {sh("y", loop("yyy"))}}
	var out bytes.Buffer
	r := &Runner{Out: &out, LogDir: filepath.Join(dir, "logs"), Dir: dir}
	_, err := r.Run(context.Background(), lanes)
	require.NoError(t, err)
	text := out.String()
	for _, word := range []string{"xxx", "yyy"} {
		first, last := strings.Index(text, word), strings.LastIndex(text, word)
		block := text[first : last+len(word)]
		assert.Equal(t, strings.Repeat(word+"\n", 9)+word, block, "the ten lines of %s are one block", word)
	}
}

func TestParseLanes(t *testing.T) {
	lanes, err := ParseLanes("make", 10, []string{"check,unit", "terratest"})
	require.NoError(t, err)
	require.Len(t, lanes, 2)
	assert.Equal(t, []string{"make", "-s", "--no-print-directory", "unit"}, lanes[0][1].Args)
	assert.Equal(t, "terratest", lanes[1][0].Name)
	assert.Equal(t, 0, lanes[0][1].Nice, "the first lane keeps its priority")
	assert.Equal(t, 10, lanes[1][0].Nice)

	_, err = ParseLanes("make", 0, nil)
	assert.ErrorContains(t, err, "no lanes")
	_, err = ParseLanes("make", 20, []string{"check"})
	assert.ErrorContains(t, err, "niceness 20: want 0-19")
	_, err = ParseLanes("make", 0, []string{"check,,unit"})
	assert.ErrorContains(t, err, `lane "check,,unit" has an empty target`)
	_, err = (&Runner{Out: &bytes.Buffer{}, LogDir: t.TempDir()}).Run(context.Background(), []Lane{{sh("a", "true")}, {sh("a", "true")}})
	assert.ErrorContains(t, err, "step a appears twice")
}

func TestTheTableCountsEachStepsCPU(t *testing.T) {
	dir := t.TempDir()
	// A fixed amount of work (not of time: a busy machine gives it less CPU per second)
	// in a child of the step's shell: its CPU is the step's.
	busy := `sh -c 'i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done'`
	var out bytes.Buffer
	r := &Runner{Out: &out, LogDir: filepath.Join(dir, "logs"), Dir: dir}
	results, err := r.Run(context.Background(), []Lane{{sh("busy", busy)}, {sh("idle", "sleep 0.3")}})
	require.NoError(t, err)
	assert.Greater(t, results[0].CPU, 50*time.Millisecond, "the busy step's children count")
	assert.Less(t, results[1].CPU, results[0].CPU/2, "sleeping costs next to no CPU")
	assert.Regexp(t, `(?m)^busy\s+1\s+[0-9.]+\s+[0-9.]+\s+[0-9.]+\s+ok$`, out.String())
}

func TestANiceStepRunsAtLowerPriority(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	r := &Runner{Out: &out, LogDir: filepath.Join(dir, "logs"), Dir: dir}
	step := Step{Name: "prio", Args: []string{"sh", "-c", "nice"}, Nice: 7}
	_, err := r.Run(context.Background(), []Lane{{step}})
	require.NoError(t, err)
	base, err := exec.Command("nice").Output()
	require.NoError(t, err)
	var own, got int
	_, err = fmt.Sscan(string(base), &own)
	require.NoError(t, err)
	log, err := os.ReadFile(filepath.Join(dir, "logs", "prio.log"))
	require.NoError(t, err)
	_, err = fmt.Sscan(string(log), &got)
	require.NoError(t, err)
	assert.Equal(t, min(own+7, 19), got, "nice(1) in the step prints its niceness")
}
