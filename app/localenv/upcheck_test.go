package localenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeSteps records which up-check steps ran and prints what the real ones print.
type fakeSteps struct {
	ran                 []string
	upErr, downErr      error
	diffOutput          string
	ctxCancelledForDown bool
}

func (f *fakeSteps) steps() upCheckSteps {
	return upCheckSteps{
		up: func(_ context.Context, out io.Writer) error {
			f.ran = append(f.ran, "up")
			fmt.Fprint(out, "deploying...\n\nSmoke test against http://127.0.0.1:1:\n  ok  GET /health: 200\n\nDeployed to the emulator at x:\n")
			return f.upErr
		},
		diff: func(_ context.Context, out io.Writer) error {
			f.ran = append(f.ran, "diff")
			fmt.Fprint(out, f.diffOutput)
			return nil
		},
		down: func(ctx context.Context, out io.Writer) error {
			f.ran = append(f.ran, "down")
			f.ctxCancelledForDown = ctx.Err() != nil
			fmt.Fprint(out, "destroying...\n")
			return f.downErr
		},
	}
}

func TestUpCheckPasses(t *testing.T) {
	f := &fakeSteps{diffOutput: "registry  No changes. Your infrastructure matches the configuration.\n"}
	var out strings.Builder
	require.NoError(t, upCheck(context.Background(), &out, filepath.Join(t.TempDir(), "up-check"), f.steps()))
	assert.Equal(t, []string{"up", "diff", "down"}, f.ran)
	assert.Equal(t, "Smoke test against http://127.0.0.1:1:\n  ok  GET /health: 200\n\n"+
		"make diff after make up: no changes\nmake down: stack destroyed, emulator stopped\n", out.String())
}

func TestUpCheckFailsWhenTheSecondPlanWantsChangesAndStillRunsDown(t *testing.T) {
	f := &fakeSteps{diffOutput: "registry  ~ aws_ecs_service.Service will be updated in-place\n\n\nregistry  Plan: 0 to add, 1 to change, 0 to destroy.\n"}
	var out strings.Builder
	err := upCheck(context.Background(), &out, filepath.Join(t.TempDir(), "up-check"), f.steps())
	require.ErrorContains(t, err, "a second plan after make up wants changes")
	assert.Equal(t, []string{"up", "diff", "down"}, f.ran, "down runs after a failed diff")
	assert.Contains(t, out.String(), "wants changes; ")
	assert.Contains(t, out.String(), "aws_ecs_service.Service will be updated in-place\nregistry  Plan: 0 to add, 1 to change", "the plan is quoted without blank lines")
	assert.True(t, strings.HasSuffix(out.String(), "make down: stack destroyed, emulator stopped\n"))
}

func TestUpCheckRunsDownWhenUpFails(t *testing.T) {
	f := &fakeSteps{upErr: errors.New("REGISTRY_ADDR=127.0.0.1:1 is taken")}
	var out strings.Builder
	dir := filepath.Join(t.TempDir(), "up-check")
	err := upCheck(context.Background(), &out, dir, f.steps())
	require.ErrorContains(t, err, "make up failed")
	assert.Equal(t, []string{"up", "down"}, f.ran, "no diff after a failed up, but down")
	assert.Contains(t, out.String(), "make up failed; "+dir+"-up.log ends with:\n")
	assert.Contains(t, out.String(), "localenv up: REGISTRY_ADDR=127.0.0.1:1 is taken", "the error is in the quoted log")
}

func TestUpCheckRunsDownAfterCancellation(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // Ctrl-C during up
	f := &fakeSteps{upErr: context.Canceled}
	err := upCheck(ctx, io.Discard, filepath.Join(t.TempDir(), "up-check"), f.steps())
	require.Error(t, err)
	assert.Equal(t, []string{"up", "down"}, f.ran)
	assert.False(t, f.ctxCancelledForDown, "down gets a context of its own")
}

func TestUpCheckReportsAFailedDown(t *testing.T) {
	f := &fakeSteps{diffOutput: "No changes.\n", downErr: errors.New("destroy failed")}
	var out strings.Builder
	err := upCheck(context.Background(), &out, filepath.Join(t.TempDir(), "up-check"), f.steps())
	require.ErrorContains(t, err, "make down failed")
	assert.Contains(t, out.String(), "make down failed; ")
	assert.Contains(t, out.String(), "localenv down: destroy failed")
	assert.NotContains(t, out.String(), "stack destroyed")
}

func TestSectionAndLastLines(t *testing.T) {
	assert.Equal(t, "Smoke test:\n  ok  a\n\n", section("x\nSmoke test:\n  ok  a\n\nrest\n", "Smoke test"))
	assert.Equal(t, "", section("nothing here\n", "Smoke test"))
	assert.Equal(t, "c\nd", lastLines("a\nb\nc\nd\n", 2))
	assert.Equal(t, "a", lastLines("a", 5))
	assert.Equal(t, "a\nb", nonBlank("a\n\n  \nb\n"))
}
