// Package emulator runs a local AWS emulator (a patched moto server) for tests
// and for `make up`.
//
// Launch starts moto on a free 127.0.0.1 port chosen by the kernel, waits until
// it answers HTTP, and returns an Emulator whose Endpoint, Region, AccountID and
// AWSConfig point SDK clients and Terraform at it. The server runs in its own
// process group and is killed with the Go process even when that process dies
// without cleaning up (panic, Ctrl-C, test timeout).
//
// Moto 5.2.1 has gaps that make the Terraform AWS provider retry for minutes;
// the launcher patches them before serving, one patch per gap (see Patches).
//
// Usage in a test:
//
//	func TestBucket(t *testing.T) {
//		emu := emulator.Start(t) // stopped automatically at the end of the test
//		s3c, err := emu.S3Client(context.Background())
//		if err != nil {
//			t.Fatal(err)
//		}
//		_, err = s3c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String("b")})
//		...
//	}
//
// Clients built from AWSConfig directly must set path-style addressing for S3:
//
//	s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
//
// Two slow spots are the AWS provider's own fixed waits, not emulator gaps,
// and are the same against AWS (moto already answers what the provider wants):
// aws_s3_bucket_lifecycle_configuration takes ~55 s per create/update (it
// waits 10 s, then wants ten equal GetBucketLifecycleConfiguration reads 5 s
// apart; moto's are equal from the first), and
// aws_lb ~60 s (two "active" waiters that each sleep 30 s before the first
// DescribeLoadBalancers, which moto answers "active").
package emulator

import (
	"bufio"
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Defaults used when Options leaves a field empty.
const (
	DefaultAccountID = "123456789012"
	DefaultRegion    = "us-east-1"
)

// ReadyTimeout bounds how long Launch waits for moto to bind and answer. moto's
// start-up is CPU-bound (importing every service), and make test starts a dozen
// emulators at once on two cores: a start takes 3 s alone and over 30 s then. A moto
// that exits is reported at once, not at the timeout.
const ReadyTimeout = 2 * time.Minute

// Patch names, usable in Options.DisablePatches.
const (
	// PatchCloudTrailARN lets StartLogging, StopLogging and DeleteTrail take a trail ARN.
	PatchCloudTrailARN = "cloudtrail-arn"
	// PatchAppAutoScalingTags implements tagging of Application Auto Scaling targets.
	PatchAppAutoScalingTags = "appautoscaling-tags"
	// PatchS3LifecycleMinSize makes PutBucketLifecycleConfiguration keep and echo
	// the transition default minimum object size.
	PatchS3LifecycleMinSize = "s3-lifecycle-min-size"
	// PatchS3BucketPolicyConditions evaluates bucket-policy conditions on object
	// requests with the request's headers, so a conditioned Deny applies only when
	// its conditions hold.
	PatchS3BucketPolicyConditions = "s3-bucket-policy-conditions"
	// PatchS3ChecksumVerify makes PutObject and UploadPart compare a declared
	// x-amz-checksum-<algorithm> header with the body (400 BadDigest) and store it.
	PatchS3ChecksumVerify = "s3-checksum-verify"
	// PatchS3HeadCompositeChecksum makes HeadObject report a multipart object's
	// composite checksum as "<base64>-<parts>", as GetObject and AWS do.
	PatchS3HeadCompositeChecksum = "s3-head-composite-checksum"
	// PatchDynamoDBAtomicWrites makes conditional PutItem/UpdateItem/DeleteItem
	// atomic under concurrent requests, as DynamoDB's per-item writes are.
	PatchDynamoDBAtomicWrites = "dynamodb-atomic-writes"
	// PatchECRLayerUpload implements ECR's layer upload calls and makes image digests
	// sha256 of the manifest, rejecting a PutImage whose imageDigest differs.
	PatchECRLayerUpload = "ecr-layer-upload"
	// PatchECSCreateServiceSettings makes CreateService keep the deployment
	// configuration (circuit breaker, minimum healthy and maximum percent), the health
	// check grace period, ECS managed tags and Availability Zone rebalancing.
	PatchECSCreateServiceSettings = "ecs-create-service-settings"
	// PatchEC2RuleDescriptions keeps the description of security group rules whose
	// peer is a security group or a prefix list.
	PatchEC2RuleDescriptions = "ec2-rule-descriptions"
	// PatchEC2VPCEndpointDeleteAgain makes a second DeleteVpcEndpoints of a deleted
	// gateway endpoint succeed, as on AWS, instead of failing on its removed routes.
	PatchEC2VPCEndpointDeleteAgain = "ec2-vpc-endpoint-delete-again"
	// PatchELBv2DefaultScheme makes a load balancer created without a scheme
	// internet-facing, as on AWS.
	PatchELBv2DefaultScheme = "elbv2-default-scheme"
	// PatchCloudWatchCBOR serves CloudWatch in the Smithy RPC v2 CBOR protocol, the
	// only one the current Go SDK's client speaks.
	PatchCloudWatchCBOR = "cloudwatch-cbor"
	// PatchLambdaKMSKeyArn keeps and reports a function's KMSKeyArn.
	PatchLambdaKMSKeyArn = "lambda-kms-key-arn"
	// PatchSecretsManagerDefaultCurrent makes GetSecretValue without version or stage
	// return AWSCURRENT, also while a rotation has not finished.
	PatchSecretsManagerDefaultCurrent = "secretsmanager-default-current"
	// PatchIAMAWSManagedPolicies makes the AWS managed policies exist, so they can be
	// attached.
	PatchIAMAWSManagedPolicies = "iam-aws-managed-policies"
	// PatchS3EventBridgeNotifications makes GetBucketNotificationConfiguration report
	// delivery to EventBridge.
	PatchS3EventBridgeNotifications = "s3-eventbridge-notifications"
	// PatchS3LoggingTargetPolicy makes PutBucketLogging read a target bucket policy
	// in every form AWS accepts (statements with Principal "*", lists).
	PatchS3LoggingTargetPolicy = "s3-logging-target-policy"
)

// Patches lists every patch the launcher applies by default.
var Patches = []string{PatchCloudTrailARN, PatchAppAutoScalingTags, PatchS3LifecycleMinSize, PatchS3BucketPolicyConditions, PatchS3ChecksumVerify, PatchS3HeadCompositeChecksum, PatchDynamoDBAtomicWrites, PatchECRLayerUpload,
	PatchECSCreateServiceSettings, PatchEC2RuleDescriptions, PatchEC2VPCEndpointDeleteAgain, PatchELBv2DefaultScheme, PatchCloudWatchCBOR,
	PatchLambdaKMSKeyArn, PatchSecretsManagerDefaultCurrent, PatchIAMAWSManagedPolicies,
	PatchS3EventBridgeNotifications, PatchS3LoggingTargetPolicy}

// ListenSocket binds a free port on 127.0.0.1 and returns its endpoint and the listening
// socket, to pass as Options.Listener (or to the emulator command's -listen-fd); the
// caller closes it once the emulator has its copy.
func ListenSocket() (endpoint string, socket *os.File, err error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	defer l.Close() // the file is a copy that stays open
	socket, err = l.(*net.TCPListener).File()
	return "http://" + l.Addr().String(), socket, err
}

// ErrMotoMissing is returned (wrapped) when python3 or moto's server extras are absent.
var ErrMotoMissing = errors.New("moto server is not installed: install Python 3 and then `pip install 'moto[server]==5.2.1'`")

// ErrTerraformMissing is returned (wrapped) by RequireTerraform.
var ErrTerraformMissing = errors.New("terraform is not on PATH: install Terraform >= 1.10 (https://developer.hashicorp.com/terraform/install)")

// missingMotoExit is the launcher's exit code when moto cannot be imported.
const missingMotoExit = 3

//go:embed launcher/*.py
var launcherFS embed.FS

// Options configures Launch. The zero value is valid.
type Options struct {
	// AccountID is the 12-digit account moto reports. Default DefaultAccountID.
	AccountID string
	// Region is what AWSConfig and Region return. Default DefaultRegion.
	Region string
	// LogOutput receives moto's log (stderr and request log). Default: discarded,
	// except that the last lines are kept for error messages.
	LogOutput io.Writer
	// DisablePatches names patches (see Patches) to skip. Tests use it to show
	// that a patch is what restores the AWS behaviour; nobody else should.
	DisablePatches []string
	// Listener, when set, is a TCP socket already listening on 127.0.0.1 for moto to
	// serve on instead of binding a port of its own, so that whoever bound it knows the
	// endpoint before moto has started (connections made meanwhile wait in its backlog).
	// Launch hands moto a copy; the caller may close its own once Launch returns.
	// Default: moto binds a free port.
	Listener *os.File
	// DynamoDBConditionDelay, for tests of the emulator only, sleeps this long after each
	// DynamoDB condition is evaluated and before its write, so that a write path without
	// a lock races on every run. Default: 0 (off).
	DynamoDBConditionDelay time.Duration
}

var accountIDPattern = regexp.MustCompile(`^[0-9]{12}$`)

func (o Options) withDefaults() (Options, error) {
	if o.AccountID == "" {
		o.AccountID = DefaultAccountID
	}
	if !accountIDPattern.MatchString(o.AccountID) {
		return o, fmt.Errorf("emulator: account id %q must be exactly 12 digits", o.AccountID)
	}
	if o.Region == "" {
		o.Region = DefaultRegion
	}
	known := map[string]bool{}
	for _, p := range Patches {
		known[p] = true
	}
	for _, p := range o.DisablePatches {
		if !known[p] {
			return o, fmt.Errorf("emulator: unknown patch %q (known: %s)", p, strings.Join(Patches, ", "))
		}
	}
	return o, nil
}

// Emulator is a running moto server. Stop it with Stop.
type Emulator struct {
	opts     Options
	endpoint string
	cmd      *exec.Cmd
	dir      string
	logTail  *tailBuffer
	exited   chan struct{} // closed when the process has been reaped
	waitErr  error

	stopOnce sync.Once
	stopErr  error
}

// Launch starts a patched moto server and returns once it answers HTTP.
// Cancelling ctx aborts the start; the server's lifetime after Launch returns
// is independent of ctx and ends with Stop.
func Launch(ctx context.Context, opts Options) (*Emulator, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	python, err := exec.LookPath("python3")
	if err != nil {
		return nil, fmt.Errorf("emulator: python3 not found on PATH: %w", ErrMotoMissing)
	}
	dir, err := writeLauncher()
	if err != nil {
		return nil, err
	}

	e := &Emulator{opts: opts, dir: dir, logTail: newTailBuffer(40), exited: make(chan struct{})}
	var logw io.Writer = e.logTail
	if opts.LogOutput != nil {
		logw = io.MultiWriter(e.logTail, opts.LogOutput)
	}
	// stdout and stderr are copied by different goroutines; LogOutput need not be safe for that.
	logw = &lockedWriter{w: logw}

	cmd := exec.Command(python, "-u", filepath.Join(dir, "launcher.py"))
	cmd.Env = append(os.Environ(),
		"MOTO_ACCOUNT_ID="+opts.AccountID,
		"EMULATOR_DISABLE_PATCHES="+strings.Join(opts.DisablePatches, ","),
		"EMULATOR_TEST_DYNAMODB_CONDITION_DELAY_MS="+strconv.FormatInt(opts.DynamoDBConditionDelay.Milliseconds(), 10),
		"PYTHONDONTWRITEBYTECODE=1",
	)
	if opts.Listener != nil {
		cmd.ExtraFiles = []*os.File{opts.Listener} // the child's descriptor 3
		cmd.Env = append(cmd.Env, "EMULATOR_LISTEN_FD=3")
	}
	cmd.Stderr = logw
	// Own process group so Stop can kill anything moto spawns; Pdeathsig so the
	// kernel kills moto if this process dies without running Stop.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("emulator: start python3: %w", err)
	}
	e.cmd = cmd

	portCh := make(chan int, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			if p, ok := strings.CutPrefix(line, "PORT="); ok && !sent {
				if n, err := strconv.Atoi(p); err == nil {
					portCh <- n
					sent = true
					continue
				}
			}
			fmt.Fprintln(logw, line)
		}
		// Drain so the launcher never blocks on a full pipe.
		_, _ = io.Copy(logw, stdout)
	}()
	go func() {
		e.waitErr = cmd.Wait()
		close(e.exited)
	}()

	fail := func(err error) (*Emulator, error) {
		_ = e.Stop()
		return nil, err
	}
	timer := time.NewTimer(ReadyTimeout)
	defer timer.Stop()
	var port int
	select {
	case port = <-portCh:
	case <-e.exited:
		if cmd.ProcessState != nil && cmd.ProcessState.ExitCode() == missingMotoExit {
			return fail(fmt.Errorf("emulator: %w (%s)", ErrMotoMissing, e.logTail.lastLine()))
		}
		return fail(fmt.Errorf("emulator: moto exited before binding a port (%v); log tail:\n%s", e.waitErr, e.logTail))
	case <-timer.C:
		return fail(fmt.Errorf("emulator: moto did not report a port within %s; log tail:\n%s", ReadyTimeout, e.logTail))
	case <-ctx.Done():
		return fail(fmt.Errorf("emulator: start aborted: %w", ctx.Err()))
	}
	e.endpoint = "http://127.0.0.1:" + strconv.Itoa(port)

	if err := e.waitReady(ctx, timer.C); err != nil {
		return fail(err)
	}
	return e, nil
}

// waitReady polls until moto answers any HTTP response.
func (e *Emulator) waitReady(ctx context.Context, deadline <-chan time.Time) error {
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.endpoint+"/moto-api/", nil)
		if resp, err := client.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return nil
		}
		select {
		case <-time.After(50 * time.Millisecond):
		case <-e.exited:
			return fmt.Errorf("emulator: moto exited before answering (%v); log tail:\n%s", e.waitErr, e.logTail)
		case <-deadline:
			return fmt.Errorf("emulator: moto at %s did not answer within %s; log tail:\n%s", e.endpoint, ReadyTimeout, e.logTail)
		case <-ctx.Done():
			return fmt.Errorf("emulator: start aborted: %w", ctx.Err())
		}
	}
}

// writeLauncher copies the embedded Python files to a fresh directory.
func writeLauncher() (string, error) {
	dir, err := os.MkdirTemp("", "moto-launcher-")
	if err != nil {
		return "", fmt.Errorf("emulator: %w", err)
	}
	entries, err := launcherFS.ReadDir("launcher")
	if err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("emulator: %w", err)
	}
	for _, ent := range entries {
		b, err := launcherFS.ReadFile("launcher/" + ent.Name())
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, ent.Name()), b, 0o600)
		}
		if err != nil {
			os.RemoveAll(dir)
			return "", fmt.Errorf("emulator: %w", err)
		}
	}
	return dir, nil
}

// Start launches an emulator for a test and stops it in t.Cleanup. At most one
// Options may be given. It fails the test with moto's log tail if moto cannot start.
func Start(t testing.TB, opts ...Options) *Emulator {
	t.Helper()
	var o Options
	switch len(opts) {
	case 0:
	case 1:
		o = opts[0]
	default:
		t.Fatalf("emulator.Start: at most one Options, got %d", len(opts))
	}
	e, err := Launch(context.Background(), o)
	if err != nil {
		t.Fatalf("emulator.Start: %v", err)
	}
	t.Cleanup(func() {
		if err := e.Stop(); err != nil {
			t.Errorf("emulator.Stop: %v", err)
		}
	})
	return e
}

// Endpoint is the base URL, "http://127.0.0.1:PORT", for every service.
func (e *Emulator) Endpoint() string { return e.endpoint }

// Region is the region clients should use.
func (e *Emulator) Region() string { return e.opts.Region }

// AccountID is the account moto reports (STS GetCallerIdentity, ARNs).
func (e *Emulator) AccountID() string { return e.opts.AccountID }

// PID is the process id of the moto server (also its process group id).
func (e *Emulator) PID() int { return e.cmd.Process.Pid }

// AWSConfig returns an SDK v2 config for the emulator: static fake
// credentials, the region and BaseEndpoint set to Endpoint. It does not read
// the environment or ~/.aws, so a developer's real profile can never leak in.
// S3 clients need path-style addressing; use S3Client or set o.UsePathStyle.
func (e *Emulator) AWSConfig(ctx context.Context) (aws.Config, error) {
	if err := ctx.Err(); err != nil {
		return aws.Config{}, err
	}
	cfg := aws.NewConfig()
	cfg.Region = e.opts.Region
	cfg.Credentials = credentials.NewStaticCredentialsProvider("test", "test", "")
	cfg.BaseEndpoint = aws.String(e.endpoint)
	return *cfg, nil
}

// S3Client returns an S3 client for the emulator with path-style addressing.
func (e *Emulator) S3Client(ctx context.Context) (*s3.Client, error) {
	cfg, err := e.AWSConfig(ctx)
	if err != nil {
		return nil, err
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }), nil
}

// Stop kills the moto process group and removes the launcher files. It is
// safe to call more than once and from several goroutines.
func (e *Emulator) Stop() error {
	e.stopOnce.Do(func() {
		defer os.RemoveAll(e.dir)
		if e.cmd == nil || e.cmd.Process == nil {
			return
		}
		pgid := e.cmd.Process.Pid
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-e.exited:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-e.exited
		}
		// Anything left in the group (moto does not fork, but be sure).
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	})
	return e.stopErr
}

// RequireTerraform reports whether terraform is on PATH, with an install hint if not.
func RequireTerraform() error {
	if _, err := exec.LookPath("terraform"); err != nil {
		return ErrTerraformMissing
	}
	return nil
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// tailBuffer keeps the last n lines written to it, for error messages.
type tailBuffer struct {
	mu    sync.Mutex
	n     int
	lines []string
	part  string
}

func newTailBuffer(n int) *tailBuffer { return &tailBuffer{n: n} }

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.part + string(p)
	parts := strings.Split(s, "\n")
	b.part = parts[len(parts)-1]
	for _, l := range parts[:len(parts)-1] {
		b.lines = append(b.lines, l)
		if len(b.lines) > b.n {
			b.lines = b.lines[len(b.lines)-b.n:]
		}
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := strings.Join(b.lines, "\n")
	if b.part != "" {
		out += "\n" + b.part
	}
	return out
}

func (b *tailBuffer) lastLine() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.part != "" {
		return b.part
	}
	if len(b.lines) == 0 {
		return ""
	}
	return b.lines[len(b.lines)-1]
}
