package stacks_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/jsii-runtime-go"
	"github.com/hashicorp/terraform-cdk-go/cdktf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/constructs/compliance"
	"github.com/acme/module-registry/constructs/removal"
	"github.com/acme/module-registry/stacks"
)

// synthMessage synthesizes stack and returns the validation message, "" when synth passes.
func synthMessage(stack cdktf.TerraformStack) (msg string) {
	defer func() { msg = toString(recover()) }()
	cdktf.Testing_Synth(stack, jsii.Bool(true))
	return ""
}

func devProps(t *testing.T) stacks.RegistryProps {
	p := localProps(t)
	p.Emulator, p.Environment, p.AccountID = "", "dev", "111122223333"
	p.AllowPlainHTTP, p.CertificateArn = false, "arn:aws:acm:eu-west-1:111122223333:certificate/abc"
	return p
}

// The emulator's waivers are the emulator's only: a dev stack torn down like a local one
// fails synth on exactly the protections the waivers lift, and serves no plain HTTP.
func TestEmulatorWaiversApplyOnlyOnTheEmulator(t *testing.T) {
	for _, w := range stacks.EmulatorWaivers {
		assert.NoError(t, w.Validate(), "every waiver states its reason")
	}
	local := localProps(t)
	local.RemovalPolicy = removal.Destroy
	app := cdktf.Testing_App(&cdktf.TestingAppConfig{Outdir: jsii.String(t.TempDir()), StackTraces: jsii.Bool(false)})
	assert.Empty(t, synthMessage(stacks.NewRegistry(app, local).Stack), "the emulator's stack is torn down whole")

	dev := devProps(t)
	dev.RemovalPolicy = removal.Destroy
	app = cdktf.Testing_App(&cdktf.TestingAppConfig{Outdir: jsii.String(t.TempDir()), StackTraces: jsii.Bool(false)})
	msg := synthMessage(stacks.NewRegistry(app, dev).Stack)
	assert.Contains(t, msg, ": "+compliance.RuleDynamoDBDeletionProtection+": ")
	assert.Contains(t, msg, ": "+compliance.RuleELBDeletionProtection+": ")
	assert.Equal(t, 6, strings.Count(msg, "compliance: "), "five tables and the load balancer: %s", msg)
}

// Only the emulator's provider proxies (S3 Control's account-prefixed host) and names an
// S3 Control endpoint; dev and prod talk to AWS directly.
func TestOnlyTheEmulatorsProviderProxies(t *testing.T) {
	providerOf := func(p stacks.RegistryProps) map[string]any {
		app := cdktf.Testing_App(&cdktf.TestingAppConfig{Outdir: jsii.String(t.TempDir()), StackTraces: jsii.Bool(false)})
		var out struct {
			Provider map[string][]map[string]any `json:"provider"`
		}
		require.NoError(t, json.Unmarshal([]byte(*cdktf.Testing_Synth(stacks.NewRegistry(app, p).Stack, jsii.Bool(true))), &out))
		return out.Provider["aws"][0]
	}
	local := providerOf(localProps(t))
	assert.Equal(t, "http://127.0.0.1:5000", local["http_proxy"])
	assert.Equal(t, "", local["https_proxy"])
	assert.NotContains(t, local, "endpoints", "the endpoint is in Terraform's environment (EmulatorEnv), S3 Control's too")
	dev := providerOf(devProps(t))
	assert.NotContains(t, dev, "http_proxy")
	assert.NotContains(t, dev, "endpoints")
}

// Every bucket of the registry stack logs its access into the stack's access-log bucket,
// the load balancer logs there too, and the access-log bucket is named after the
// artifacts bucket.
func TestRegistryLogsEveryAccess(t *testing.T) {
	out := synth(t, localProps(t))
	var logsBucket string
	for name, b := range out.Resource["aws_s3_bucket"] {
		if strings.HasPrefix(name, "AccessLogs_") {
			logsBucket = name
			assert.Regexp(t, `^pkg-artifacts-access-logs-\$\{data\.aws_caller_identity\.`, b["bucket"])
		}
	}
	require.NotEmpty(t, logsBucket)
	target := "${aws_s3_bucket." + logsBucket + ".bucket}"
	logged := map[string]bool{}
	for _, l := range out.Resource["aws_s3_bucket_logging"] {
		assert.Equal(t, target, l["target_bucket"])
		logged[strings.TrimSuffix(strings.TrimPrefix(l["bucket"].(string), "${aws_s3_bucket."), ".id}")] = true
	}
	for name := range out.Resource["aws_s3_bucket"] {
		assert.Equal(t, name != logsBucket, logged[name], "%s is access-logged (the access-log bucket is not)", name)
	}
	for _, lb := range out.Resource["aws_lb"] {
		assert.Equal(t, target, lb["access_logs"].(map[string]any)["bucket"])
	}
	assert.Len(t, out.Resource["aws_flow_log"], 1, "the VPC records its flows")
	assert.Len(t, out.Resource["aws_wafv2_web_acl_logging_configuration"], 1, "the web ACL logs")
	assert.Len(t, out.Resource["aws_default_security_group"], 1, "the VPC's default group is closed")
	assert.Len(t, out.Resource["aws_ecr_lifecycle_policy"], 1, "old images expire")
}

// The bootstrap stack blocks public access account-wide (S3.1) and logs every access to
// the state bucket into "<state bucket>-access-logs".
func TestBootstrapHasTheAccountBaseline(t *testing.T) {
	app := cdktf.Testing_App(&cdktf.TestingAppConfig{Outdir: jsii.String(t.TempDir()), StackTraces: jsii.Bool(false)})
	store := stacks.NewBootstrap(app, stacks.BootstrapProps{
		BaseProps: stacks.BaseProps{Environment: "prod", Region: "us-east-1", AccountID: "111122223333",
			State: stacks.State{LocalFile: filepath.Join(t.TempDir(), "bootstrap.tfstate")}},
		StateBucket: "acme-tfstate-111122223333-us-east-1",
	})
	out := synthesized{}
	require.NoError(t, json.Unmarshal([]byte(*cdktf.Testing_Synth(cdktf.TerraformStack_Of(store.Bucket), jsii.Bool(true))), &out))
	pab := out.Resource["aws_s3_account_public_access_block"]
	require.Len(t, pab, 1)
	for _, b := range pab {
		for _, k := range []string{"block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"} {
			assert.Equal(t, true, b[k], k)
		}
	}
	names := map[string]bool{}
	for _, b := range out.Resource["aws_s3_bucket"] {
		names[b["bucket"].(string)] = true
	}
	assert.Equal(t, map[string]bool{"acme-tfstate-111122223333-us-east-1": true, "acme-tfstate-111122223333-us-east-1-access-logs": true}, names)
	require.Len(t, out.Resource["aws_s3_bucket_logging"], 1)
	for _, l := range out.Resource["aws_s3_bucket_logging"] {
		assert.Equal(t, "s3/acme-tfstate-111122223333-us-east-1/", l["target_prefix"])
	}
}
