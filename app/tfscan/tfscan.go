// Package tfscan checks what the app deploys with an independent Terraform scanner,
// tfsec: it synthesizes the app as prod would (ACME_ENV=prod, with a certificate and the
// state key), renders each stack's Terraform JSON as HCL (tfsec's JSON reader misses
// cdktf's single nested blocks written as objects and cannot parse ephemeral
// resources), runs tfsec on each, and counts the findings per severity.
//
//	go run ./app/cmd/tfscan      # or: make scan
package tfscan

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/acme/module-registry/app/config"
	"github.com/acme/module-registry/constructs/compliance"
)

// Tfsec is the scanner, installed with `go install` at this version.
const (
	TfsecPackage = "github.com/aquasecurity/tfsec/cmd/tfsec"
	TfsecVersion = "v1.28.14"
)

// Severities in tfsec's order, worst first.
var Severities = []string{"CRITICAL", "HIGH", "MEDIUM", "LOW"}

// LogTargetEncryptionCheck is tfsec's check that a bucket is encrypted with a customer
// managed key.
const LogTargetEncryptionCheck = "aws-s3-encryption-customer-key"

// LogTargetEncryptionWhy is why that check is ignored for access-log buckets: the
// compliance aspect's AccessLogTargetEncryption exception, in tfsec's terms.
const LogTargetEncryptionWhy = "access-log bucket: AWS delivers S3 server access logs and load balancer access logs only to buckets encrypted with SSE-S3; a customer managed key here would stop delivery (compliance.AccessLogTargetEncryption)"

// Ignores returns the findings tfsec gets wrong about what a stack deploys, each with its
// reason; they become tfsec:ignore comments in the rendered HCL. The one kind: the
// SSE-S3 encryption of the buckets the stack's buckets and load balancers log to (and
// of no other bucket), found as the compliance aspect finds them.
func Ignores(stackJSON []byte) ([]Ignore, error) {
	var tree struct {
		Resource map[string]map[string]map[string]any `json:"resource"`
	}
	if err := json.Unmarshal(stackJSON, &tree); err != nil {
		return nil, fmt.Errorf("tfscan: the stack is not valid JSON: %w", err)
	}
	targets := map[string]bool{}
	for _, l := range tree.Resource["aws_s3_bucket_logging"] {
		targets[bucketOf(l["target_bucket"])] = true
	}
	for _, lb := range tree.Resource["aws_lb"] {
		for _, logs := range compliance.NestedBlocks(lb["access_logs"]) {
			targets[bucketOf(logs["bucket"])] = true
		}
	}
	var out []Ignore
	for _, name := range sortedKeys(tree.Resource["aws_s3_bucket_server_side_encryption_configuration"]) {
		sse := tree.Resource["aws_s3_bucket_server_side_encryption_configuration"][name]
		sseS3 := false
		for _, rule := range compliance.NestedBlocks(sse["rule"]) {
			for _, d := range compliance.NestedBlocks(rule["apply_server_side_encryption_by_default"]) {
				sseS3 = sseS3 || d["sse_algorithm"] == "AES256"
			}
		}
		if b := bucketOf(sse["bucket"]); b != "" && targets[b] && sseS3 {
			out = append(out, Ignore{Check: LogTargetEncryptionCheck, Type: "aws_s3_bucket_server_side_encryption_configuration",
				NamePrefix: name, Why: LogTargetEncryptionWhy})
		}
	}
	return out, nil
}

// bucketOf is the logical name of the aws_s3_bucket a whole-value reference names, or "".
func bucketOf(v any) string {
	s, _ := v.(string)
	rest, ok := strings.CutPrefix(s, "${aws_s3_bucket.")
	if !ok || !strings.HasSuffix(rest, "}") {
		return ""
	}
	name, _, _ := strings.Cut(strings.TrimSuffix(rest, "}"), ".")
	return name
}

// Finding is one tfsec result.
type Finding struct {
	Stack       string
	RuleID      string `json:"long_id"`
	Severity    string `json:"severity"`
	Description string `json:"description"`
	Resource    string `json:"resource"`
	// Status is tfsec's: statusIgnored for a finding a tfsec:ignore comment waived.
	Status int `json:"status"`
}

// statusIgnored is tfsec's result status of a waived finding (--include-ignored).
const statusIgnored = 2

// Ignored reports whether a tfsec:ignore comment (one of Ignores) waived f.
func (f Finding) Ignored() bool { return f.Status == statusIgnored }

// Report is the findings of one scan.
type Report struct {
	Stacks   []string
	Findings []Finding
}

// Counts returns the number of findings per severity (every severity present, zero
// included), the waived ones left out.
func (r Report) Counts() map[string]int {
	out := map[string]int{}
	for _, s := range Severities {
		out[s] = 0
	}
	for _, f := range r.Findings {
		if !f.Ignored() {
			out[f.Severity]++
		}
	}
	return out
}

// Blocking reports whether any finding is CRITICAL or HIGH.
func (r Report) Blocking() bool {
	c := r.Counts()
	return c["CRITICAL"]+c["HIGH"] > 0
}

// Summary is one line per severity and, for the worst ones, a line per finding.
func (r Report) Summary() string {
	var b strings.Builder
	c := r.Counts()
	fmt.Fprintf(&b, "tfsec %s on the prod synth (%s):\n", TfsecVersion, strings.Join(r.Stacks, ", "))
	for _, s := range Severities {
		fmt.Fprintf(&b, "  %-8s %d\n", s, c[s])
	}
	findings := append([]Finding{}, r.Findings...)
	sort.SliceStable(findings, func(i, j int) bool {
		return severityRank(findings[i].Severity) < severityRank(findings[j].Severity)
	})
	for _, f := range findings {
		if !f.Ignored() {
			fmt.Fprintf(&b, "  %s %s %s/%s: %s\n", f.Severity, f.RuleID, f.Stack, f.Resource, f.Description)
		}
	}
	for _, f := range findings {
		if f.Ignored() {
			fmt.Fprintf(&b, "  ignored with its reason: %s %s %s/%s\n", f.Severity, f.RuleID, f.Stack, f.Resource)
		}
	}
	return b.String()
}

func severityRank(s string) int {
	for i, v := range Severities {
		if v == s {
			return i
		}
	}
	return len(Severities)
}

// Options configure Run.
type Options struct {
	// ModuleDir is the module's root (where main.go is). Required.
	ModuleDir string
	// WorkDir holds the synth, the rendered HCL, the provider schema and the tfsec
	// binary. Required.
	WorkDir string
	// SynthDir scans the stacks already synthesized there instead of synthesizing the
	// app. Default: "" (synthesize for prod into WorkDir/synth).
	SynthDir string
	// Log receives progress lines. Default: none.
	Log func(format string, args ...any)
}

// ProdEnvironment is the environment the app is synthesized in: the caller's, with
// ACME_ENV=prod, and an example certificate and state key in the account unless given.
func ProdEnvironment(environ []string, workDir string) []string {
	get := func(k string) string {
		for _, kv := range environ {
			if v, ok := strings.CutPrefix(kv, k+"="); ok {
				return v
			}
		}
		return ""
	}
	account, region := get("ACME_ACCOUNT_ID"), get("ACME_REGION")
	if account == "" {
		account = config.DefaultAccountID
	}
	if region == "" {
		region = config.DefaultRegion
	}
	set := map[string]string{
		"ACME_ENV":           "prod",
		"ACME_AWS_ENDPOINT":  "",
		"ACME_IMAGE_LAYOUT":  filepath.Join(workDir, "image"),
		"ACME_ROTATION_ZIP":  filepath.Join(workDir, "rotate-secret.zip"),
		"CDKTF_OUTDIR":       filepath.Join(workDir, "synth"),
		"CHECKPOINT_DISABLE": "1",
		"JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
	}
	if get("ACME_CERTIFICATE_ARN") == "" {
		set["ACME_CERTIFICATE_ARN"] = "arn:aws:acm:" + region + ":" + account + ":certificate/00000000-0000-0000-0000-000000000000"
	}
	if get("ACME_STATE_KMS_KEY_ARN") == "" {
		set["ACME_STATE_KMS_KEY_ARN"] = "arn:aws:kms:" + region + ":" + account + ":key/00000000-0000-0000-0000-000000000000"
	}
	var out []string
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if _, overridden := set[k]; !overridden {
			out = append(out, kv)
		}
	}
	for k, v := range set {
		if v != "" {
			out = append(out, k+"="+v)
		}
	}
	sort.Strings(out)
	return out
}

// Run synthesizes the app for prod, renders and scans every stack and returns the
// findings.
func Run(ctx context.Context, o Options) (Report, error) {
	logf := o.Log
	if logf == nil {
		logf = func(string, ...any) {}
	}
	work, err := filepath.Abs(o.WorkDir)
	if err != nil {
		return Report{}, err
	}
	tfsec, err := installTfsec(ctx, o.ModuleDir, work)
	if err != nil {
		return Report{}, err
	}
	synthDir := o.SynthDir
	if synthDir == "" {
		synthDir = filepath.Join(work, "synth")
		logf("synthesizing the app for prod into %s", synthDir)
		if err := os.RemoveAll(synthDir); err != nil {
			return Report{}, err
		}
		if err := run(ctx, o.ModuleDir, ProdEnvironment(os.Environ(), work), "go", "run", "."); err != nil {
			return Report{}, fmt.Errorf("synth: %w", err)
		}
	}
	logf("reading the AWS provider's schema")
	schema, err := LoadSchema(ctx, work)
	if err != nil {
		return Report{}, err
	}
	stackFiles, err := filepath.Glob(filepath.Join(synthDir, "stacks", "*", "cdk.tf.json"))
	if err != nil || len(stackFiles) == 0 {
		return Report{}, fmt.Errorf("synth wrote no stacks under %s", synthDir)
	}
	var report Report
	for _, f := range stackFiles {
		stack := filepath.Base(filepath.Dir(f))
		findings, err := scanStack(ctx, tfsec, f, filepath.Join(work, "hcl", stack), schema)
		if err != nil {
			return Report{}, fmt.Errorf("stack %s: %w", stack, err)
		}
		for i := range findings {
			findings[i].Stack = stack
		}
		report.Stacks = append(report.Stacks, stack)
		report.Findings = append(report.Findings, findings...)
		logf("scanned %s: %d findings", stack, len(findings))
	}
	return report, nil
}

// scanStack renders one stack into dir and runs tfsec there.
func scanStack(ctx context.Context, tfsec, stackFile, dir string, schema *Schema) ([]Finding, error) {
	raw, err := os.ReadFile(stackFile)
	if err != nil {
		return nil, err
	}
	ignores, err := Ignores(raw)
	if err != nil {
		return nil, err
	}
	hcl, err := Render(raw, schema, ignores)
	if err != nil {
		return nil, err
	}
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), hcl, 0o644); err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, tfsec, dir, "--format", "json", "--no-color", "--no-module-downloads", "--include-ignored")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// tfsec exits 1 when it finds something; only its JSON says whether it scanned.
	_ = cmd.Run()
	var out struct {
		Results []Finding `json:"results"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		return nil, fmt.Errorf("tfsec did not scan %s: %v\n%s", dir, err, lastLines(stderr.String(), 5))
	}
	return out.Results, nil
}

// installTfsec installs tfsec into workDir/bin (quick once the module cache has it).
func installTfsec(ctx context.Context, moduleDir, workDir string) (string, error) {
	bin := filepath.Join(workDir, "bin")
	env := append(os.Environ(), "GOBIN="+bin)
	if err := run(ctx, moduleDir, env, "go", "install", TfsecPackage+"@"+TfsecVersion); err != nil {
		return "", fmt.Errorf("installing tfsec: %w", err)
	}
	return filepath.Join(bin, "tfsec"), nil
}

func run(ctx context.Context, dir string, env []string, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir, cmd.Env = dir, env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, lastLines(string(out), 20))
	}
	return nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
