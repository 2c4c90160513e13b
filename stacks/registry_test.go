package stacks_test

import (
	"encoding/json"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/aws/jsii-runtime-go"
	"github.com/hashicorp/terraform-cdk-go/cdktf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/constructs/fargateservice"
	"github.com/acme/module-registry/runtime/contract"
	"github.com/acme/module-registry/runtime/image"
	"github.com/acme/module-registry/stacks"
)

func localProps(t *testing.T) stacks.RegistryProps {
	img, err := image.Assemble([]byte("registry binary"), "amd64", time.Unix(0, 0))
	require.NoError(t, err)
	layout := filepath.Join(t.TempDir(), "image")
	_, err = image.WriteLayout(layout, img)
	require.NoError(t, err)
	return stacks.RegistryProps{
		BaseProps: stacks.BaseProps{
			Environment: "local", Region: "eu-west-1", Emulator: "http://127.0.0.1:5000",
			State: stacks.State{LocalFile: filepath.Join(t.TempDir(), "registry.tfstate")},
		},
		ImageLayout:    layout,
		IngressCidrs:   []string{"10.0.0.0/8"},
		AllowPlainHTTP: true,
		Rotation:       stacks.RotationProps{FunctionZip: rotationZip(t)},
	}
}

type synthesized struct {
	Resource map[string]map[string]map[string]any `json:"resource"`
}

func synth(t *testing.T, p stacks.RegistryProps) synthesized {
	t.Helper()
	app := cdktf.Testing_App(&cdktf.TestingAppConfig{Outdir: jsii.String(t.TempDir()), StackTraces: jsii.Bool(false)})
	reg := stacks.NewRegistry(app, p)
	var out synthesized
	require.NoError(t, json.Unmarshal([]byte(*cdktf.Testing_Synth(reg.Stack, jsii.Bool(true))), &out))
	return out
}

// The task definition hands the container exactly the contract's environment: every
// variable the runtime reads on AWS, with the values of the resources the stack made,
// and the two secrets injected from Secrets Manager, never as plain values.
func TestTaskEnvironmentIsTheContract(t *testing.T) {
	out := synth(t, localProps(t))
	require.Len(t, out.Resource["aws_ecs_task_definition"], 1)
	var defs []struct {
		Environment []struct{ Name, Value string }
		Secrets     []struct{ Name, ValueFrom string }
	}
	for _, td := range out.Resource["aws_ecs_task_definition"] {
		require.NoError(t, json.Unmarshal([]byte(td["container_definitions"].(string)), &defs))
	}
	require.Len(t, defs, 1)
	env := map[string]string{}
	for _, kv := range defs[0].Environment {
		env[kv.Name] = kv.Value
	}

	tables := map[contract.TableKind]string{}
	for name, tbl := range out.Resource["aws_dynamodb_table"] {
		tables[contract.TableKind(tbl["name"].(string))] = "${aws_dynamodb_table." + name + ".name}"
	}
	bucketRef, keyRef, secretRef := only(t, out, "aws_s3_bucket", "Artifacts", "bucket"), only(t, out, "aws_kms_key", "ProjectKey", "arn"),
		only(t, out, "aws_secretsmanager_secret", "JwtSecret", "name")
	want := contract.Service{
		Region: "eu-west-1", Bucket: bucketRef, KMSKeyID: keyRef, JWTSecretName: secretRef,
		Tables: contract.TableNames{Users: tables[contract.Users], Tokens: tables[contract.Tokens], Packages: tables[contract.Packages],
			Uploads: tables[contract.Uploads], Downloads: tables[contract.Downloads]},
		MemoryMiB: fargateservice.DefaultMemoryMiB,
		Name:      fargateservice.DefaultName,
	}.Environment()
	assert.Equal(t, want, env)

	var secrets []string
	for _, s := range defs[0].Secrets {
		secrets = append(secrets, s.Name)
		assert.NotContains(t, env, s.Name, "a secret is never also a plain variable")
	}
	sort.Strings(secrets)
	wantSecrets := contract.SecretVariables()
	sort.Strings(wantSecrets)
	assert.Equal(t, wantSecrets, secrets)
	for _, s := range defs[0].Secrets {
		switch s.Name {
		case contract.EnvJWTSecret:
			assert.Regexp(t, `^\$\{aws_secretsmanager_secret\.JwtSecret_[^.]+\.arn\}:`+contract.JWTFieldSecret+`::$`, s.ValueFrom)
		case contract.EnvAdminPassword:
			assert.Regexp(t, `^\$\{aws_secretsmanager_secret\.AdminPassword_[^.]+\.arn\}:`+contract.AdminPasswordField+`::$`, s.ValueFrom)
		}
	}
}

// The container runs under the contract's ulimits (its validator children lower them
// further), keeps the container rules, and the service alarms on validator timeouts and
// errors of exactly the metrics the runtime's log lines carry.
func TestValidatorSandboxLimitsAndAlarms(t *testing.T) {
	out := synth(t, localProps(t))
	var defs []struct {
		Ulimits []struct {
			Name                 string
			SoftLimit, HardLimit int
		}
		ReadonlyRootFilesystem bool
		User                   string
		LinuxParameters        struct{ Capabilities struct{ Drop []string } }
		Environment            []struct{ Name, Value string }
	}
	for _, td := range out.Resource["aws_ecs_task_definition"] {
		require.NoError(t, json.Unmarshal([]byte(td["container_definitions"].(string)), &defs))
	}
	require.Len(t, defs, 1)
	var ulimits []contract.Ulimit
	for _, u := range defs[0].Ulimits {
		ulimits = append(ulimits, contract.Ulimit{Name: u.Name, Soft: u.SoftLimit, Hard: u.HardLimit})
	}
	assert.Equal(t, contract.ContainerUlimits(), ulimits)
	assert.True(t, defs[0].ReadonlyRootFilesystem)
	assert.Equal(t, []string{"ALL"}, defs[0].LinuxParameters.Capabilities.Drop)
	assert.NotEqual(t, "0", defs[0].User)
	service := ""
	for _, kv := range defs[0].Environment {
		if kv.Name == contract.EnvServiceName {
			service = kv.Value
		}
	}
	require.NotEmpty(t, service, "the task names its metrics' Service dimension")

	metrics := map[string]map[string]any{}
	for _, a := range out.Resource["aws_cloudwatch_metric_alarm"] {
		if a["namespace"] == contract.MetricsNamespace {
			metrics[a["metric_name"].(string)] = a
		}
	}
	for _, m := range []string{contract.MetricValidatorTimeouts, contract.MetricValidatorErrors} {
		a, ok := metrics[m]
		require.True(t, ok, "no alarm on %s", m)
		assert.Equal(t, map[string]any{contract.MetricDimension: service}, a["dimensions"], m)
		assert.Equal(t, "Sum", a["statistic"], m)
		assert.Equal(t, 0.0, a["threshold"], m)
	}
}

// only returns the reference to attribute attr of the one resource of typ whose logical
// name starts with prefix.
func only(t *testing.T, out synthesized, typ, prefix, attr string) string {
	t.Helper()
	var names []string
	for name := range out.Resource[typ] {
		if len(name) > len(prefix) && name[:len(prefix)+1] == prefix+"_" {
			names = append(names, name)
		}
	}
	require.Len(t, names, 1, "%s %s*: %v", typ, prefix, names)
	return "${" + typ + "." + names[0] + "." + attr + "}"
}

// The task role may use exactly the bucket prefixes of the contract.
func TestTaskRoleBucketPrefixesAreTheContract(t *testing.T) {
	var listed []string
	data := synthData(t, localProps(t))
	for _, doc := range data {
		for _, st := range doc {
			if st["sid"] == "ListReadWrite" {
				for _, c := range st["condition"].([]any) {
					for _, v := range c.(map[string]any)["values"].([]any) {
						listed = append(listed, v.(string))
					}
				}
			}
		}
	}
	var want []string
	for _, p := range contract.BucketPrefixes() {
		want = append(want, p+"*")
	}
	assert.ElementsMatch(t, want, listed)
}

func synthData(t *testing.T, p stacks.RegistryProps) map[string][]map[string]any {
	t.Helper()
	app := cdktf.Testing_App(&cdktf.TestingAppConfig{Outdir: jsii.String(t.TempDir()), StackTraces: jsii.Bool(false)})
	reg := stacks.NewRegistry(app, p)
	var out struct {
		Data map[string]map[string]struct {
			Statement []map[string]any `json:"statement"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal([]byte(*cdktf.Testing_Synth(reg.Stack, jsii.Bool(true))), &out))
	docs := map[string][]map[string]any{}
	for name, d := range out.Data["aws_iam_policy_document"] {
		docs[name] = d.Statement
	}
	return docs
}

// Props that would synthesize an unusable stack fail synth naming them.
func TestBasePropsAreValidated(t *testing.T) {
	app := cdktf.Testing_App(&cdktf.TestingAppConfig{Outdir: jsii.String(t.TempDir()), StackTraces: jsii.Bool(false)})
	stack := stacks.NewBase(app, "empty", stacks.BaseProps{})
	msg := func() (msg string) {
		defer func() { msg = toString(recover()) }()
		cdktf.Testing_Synth(stack, jsii.Bool(true))
		return ""
	}()
	for _, want := range []string{"BaseProps.Environment: is required", "BaseProps.Region: is required",
		"BaseProps.AccountID: is required outside the emulator", "BaseProps.State: needs LocalFile, or Bucket and Key"} {
		assert.Contains(t, msg, want)
	}
}

func toString(v any) string {
	if v == nil {
		return ""
	}
	if e, ok := v.(error); ok {
		return e.Error()
	}
	return v.(string)
}
