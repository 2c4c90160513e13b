package emulator

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

func TestLaunchServesAndStops(t *testing.T) {
	t.Parallel()
	var log strings.Builder
	e, err := Launch(context.Background(), Options{AccountID: "210987654321", Region: "eu-west-1", LogOutput: &lockedWriter{w: &log}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Stop()

	if !strings.HasPrefix(e.Endpoint(), "http://127.0.0.1:") {
		t.Errorf("Endpoint() = %q, want http://127.0.0.1:PORT", e.Endpoint())
	}
	if e.Region() != "eu-west-1" || e.AccountID() != "210987654321" {
		t.Errorf("Region/AccountID = %q/%q", e.Region(), e.AccountID())
	}

	ctx := context.Background()
	cfg, err := e.AWSConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	id, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(id.Account); got != "210987654321" {
		t.Errorf("GetCallerIdentity account = %q, want the configured 210987654321", got)
	}

	s3c, err := e.S3Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{
		Bucket: aws.String("path-style-check"),
		// Outside us-east-1 AWS requires the constraint, and moto checks it.
		CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraintEuWest1},
	}); err != nil {
		t.Fatalf("CreateBucket through S3Client: %v", err)
	}
	if _, err := s3c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("path-style-check")}); err != nil {
		t.Fatalf("HeadBucket through S3Client: %v", err)
	}

	pid := e.PID()
	if err := e.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := e.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	if alive(pid) {
		t.Errorf("moto pid %d still alive after Stop", pid)
	}
	if !strings.Contains(log.String(), "patches applied") {
		t.Errorf("LogOutput did not receive moto's log; got:\n%s", log.String())
	}
}

func TestOptionsValidation(t *testing.T) {
	t.Parallel()
	for _, o := range []Options{
		{AccountID: "12345"},
		{AccountID: "12345678901a"},
		{DisablePatches: []string{"no-such-patch"}},
	} {
		if _, err := Launch(context.Background(), o); err == nil {
			t.Errorf("Launch(%+v) succeeded, want a validation error", o)
		}
	}
}

func TestMissingPythonSaysWhatToInstall(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := Launch(context.Background(), Options{})
	if !errors.Is(err, ErrMotoMissing) || !strings.Contains(err.Error(), "pip install 'moto[server]==5.2.1'") {
		t.Fatalf("err = %v, want ErrMotoMissing with the pip command", err)
	}
}

func TestMissingMotoSaysWhatToInstall(t *testing.T) {
	out, err := exec.Command("python3", "-c", "import sys; print(sys.executable)").Output()
	if err != nil {
		t.Skipf("python3 unavailable: %v", err)
	}
	// A python3 that cannot see site-packages behaves like one without moto.
	dir := t.TempDir()
	script := fmt.Sprintf("#!/bin/sh\nexec %s -S \"$@\"\n", strings.TrimSpace(string(out)))
	if err := os.WriteFile(filepath.Join(dir, "python3"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)
	_, err = Launch(context.Background(), Options{})
	if !errors.Is(err, ErrMotoMissing) || !strings.Contains(err.Error(), "pip install 'moto[server]==5.2.1'") {
		t.Fatalf("err = %v, want ErrMotoMissing with the pip command", err)
	}
}

func TestRequireTerraform(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	err := RequireTerraform()
	if !errors.Is(err, ErrTerraformMissing) || !strings.Contains(err.Error(), "Terraform >= 1.10") {
		t.Fatalf("RequireTerraform() = %v, want an install hint naming Terraform >= 1.10", err)
	}
}

// TestNoLeakWhenParentIsKilled starts a child test process that launches the
// emulator, SIGKILLs the child (no Stop, no cleanup runs) and checks that the
// moto process dies with it.
func TestNoLeakWhenParentIsKilled(t *testing.T) {
	t.Parallel()
	// The helper starts an emulator: allow what a start may take on a busy machine.
	cmd := exec.Command(os.Args[0], "-test.run=^TestLeakHelper$", "-test.timeout="+(ReadyTimeout+time.Minute).String())
	cmd.Env = append(os.Environ(), "EMULATOR_LEAK_HELPER=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()

	pidCh := make(chan int, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if p, ok := strings.CutPrefix(sc.Text(), "MOTO_PID="); ok {
				n, _ := strconv.Atoi(p)
				pidCh <- n
				return
			}
		}
		close(pidCh)
	}()
	var mpid int
	select {
	case mpid = <-pidCh:
	case <-time.After(ReadyTimeout + 15*time.Second):
		t.Fatal("helper did not report the moto pid")
	}
	if mpid == 0 || !alive(mpid) {
		t.Fatalf("helper reported moto pid %d, which is not running", mpid)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()

	deadline := time.Now().Add(10 * time.Second)
	for alive(mpid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(mpid, syscall.SIGKILL)
			t.Fatalf("moto pid %d outlived its SIGKILLed parent", mpid)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestLeakHelper(t *testing.T) {
	if os.Getenv("EMULATOR_LEAK_HELPER") != "1" {
		t.Skip("helper for TestNoLeakWhenParentIsKilled")
	}
	e, err := Launch(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("MOTO_PID=%d\n", e.PID())
	time.Sleep(time.Minute) // killed by the parent long before
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// Field 3, after the parenthesised command name, is the state.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}
