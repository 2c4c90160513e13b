package tfscan_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/app/tfscan"
)

// Only the SSE-S3 encryption of a bucket that receives access logs is waived: not that of
// a bucket nothing logs to, and not a log target's SSE-KMS (nothing to waive).
func TestIgnoresOnlyTheAccessLogTargetsEncryption(t *testing.T) {
	stack := `{"resource": {
	  "aws_s3_bucket": {"Logs": {}, "AlbLogs": {}, "Plain": {}, "KmsTarget": {}},
	  "aws_s3_bucket_logging": {"Artifacts": {"target_bucket": "${aws_s3_bucket.Logs.bucket}"}, "Other": {"target_bucket": "${aws_s3_bucket.KmsTarget.id}"}},
	  "aws_lb": {"Alb": {"access_logs": {"bucket": "${aws_s3_bucket.AlbLogs.bucket}", "enabled": true}}},
	  "aws_s3_bucket_server_side_encryption_configuration": {
	    "LogsSse": {"bucket": "${aws_s3_bucket.Logs.id}", "rule": [{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}]},
	    "AlbLogsSse": {"bucket": "${aws_s3_bucket.AlbLogs.id}", "rule": [{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}]},
	    "PlainSse": {"bucket": "${aws_s3_bucket.Plain.id}", "rule": [{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}]},
	    "KmsTargetSse": {"bucket": "${aws_s3_bucket.KmsTarget.id}", "rule": [{"apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms"}}]}}}}`
	ignores, err := tfscan.Ignores([]byte(stack))
	require.NoError(t, err)
	var names []string
	for _, ig := range ignores {
		assert.Equal(t, tfscan.LogTargetEncryptionCheck, ig.Check)
		assert.Equal(t, tfscan.LogTargetEncryptionWhy, ig.Why)
		names = append(names, ig.NamePrefix)
	}
	assert.Equal(t, []string{"AlbLogsSse", "LogsSse"}, names)
	_, err = tfscan.Ignores([]byte("{"))
	assert.Error(t, err)
}

func TestReportCountsWhatIsNotWaived(t *testing.T) {
	r := tfscan.Report{Stacks: []string{"registry"}, Findings: []tfscan.Finding{
		{Stack: "registry", RuleID: "aws-s3-enable-bucket-logging", Severity: "MEDIUM", Resource: "aws_s3_bucket.Logs"},
		{Stack: "registry", RuleID: tfscan.LogTargetEncryptionCheck, Severity: "HIGH", Resource: "aws_s3_bucket_server_side_encryption_configuration.LogsSse", Status: 2},
	}}
	assert.Equal(t, map[string]int{"CRITICAL": 0, "HIGH": 0, "MEDIUM": 1, "LOW": 0}, r.Counts())
	assert.False(t, r.Blocking(), "a waived HIGH does not block")
	summary := r.Summary()
	assert.Contains(t, summary, "  HIGH     0\n")
	assert.Contains(t, summary, "ignored with its reason: HIGH aws-s3-encryption-customer-key registry/")
	r.Findings = append(r.Findings, tfscan.Finding{Severity: "CRITICAL", RuleID: "x"})
	assert.True(t, r.Blocking())
	assert.True(t, strings.Index(r.Summary(), "CRITICAL x") < strings.Index(r.Summary(), "MEDIUM aws-s3"), "worst first")
}

// The scan synthesizes as prod, with example ARNs only where none are given, and never
// against an emulator.
func TestProdEnvironment(t *testing.T) {
	env := tfscan.ProdEnvironment([]string{"ACME_ENV=local", "ACME_AWS_ENDPOINT=http://127.0.0.1:5000", "ACME_ACCOUNT_ID=111122223333",
		"ACME_CERTIFICATE_ARN=arn:aws:acm:us-east-1:111122223333:certificate/mine", "HOME=/root"}, "/work/scan")
	assert.Contains(t, env, "ACME_ENV=prod")
	assert.Contains(t, env, "ACME_CERTIFICATE_ARN=arn:aws:acm:us-east-1:111122223333:certificate/mine")
	assert.Contains(t, env, "ACME_STATE_KMS_KEY_ARN=arn:aws:kms:us-east-1:111122223333:key/00000000-0000-0000-0000-000000000000")
	assert.Contains(t, env, "CDKTF_OUTDIR=/work/scan/synth")
	assert.Contains(t, env, "HOME=/root")
	for _, kv := range env {
		assert.False(t, strings.HasPrefix(kv, "ACME_AWS_ENDPOINT="), "no emulator: %s", kv)
		assert.NotEqual(t, "ACME_ENV=local", kv)
	}
}
