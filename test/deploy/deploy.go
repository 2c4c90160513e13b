// Package deploy runs a construct for real: it synthesizes a minimal stack around it,
// applies it with Terraform (through terratest) to a fresh emulator, and destroys it when
// the test ends, then runs the test's checks that everything is gone.
package deploy

import (
	"context"
	"maps"
	"path/filepath"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/jsii-runtime-go"
	"github.com/gruntwork-io/terratest/modules/terraform"
	"github.com/hashicorp/terraform-cdk-go/cdktf"

	acmeapp "github.com/acme/module-registry/app"
	"github.com/acme/module-registry/app/config"
	"github.com/acme/module-registry/app/tfmirror"
	"github.com/acme/module-registry/runtime/image"
	"github.com/acme/module-registry/runtime/lambdabuild"
	"github.com/acme/module-registry/stacks"
	"github.com/acme/module-registry/test/emulator"
)

// AccountID is the account the emulator pretends to be, so ARNs look like the seed's.
const AccountID = config.DefaultAccountID

// Deployment is one applied stack on its own emulator.
type Deployment struct {
	Emulator *emulator.Emulator
	Config   config.Config
	Options  *terraform.Options
	AWS      aws.Config
	// Outputs holds the stack's outputs after apply.
	Outputs    map[string]any
	goneChecks []func(t *testing.T)
}

// Apply builds a stack with build, deploys it and registers destroy for cleanup. build
// receives the stack (already wired to the emulator) and the local configuration.
func Apply(t *testing.T, name string, build func(stack cdktf.TerraformStack, cfg config.Config)) *Deployment {
	t.Helper()
	return ApplyApp(t, name, func(app cdktf.App, cfg config.Config) {
		build(stacks.NewBase(app, name, acmeapp.BaseProps(cfg, name)), cfg)
	})
}

// ApplyApp is Apply for a builder that creates the stack itself (e.g. stacks.NewRegistry),
// named name, in app.
func ApplyApp(t *testing.T, name string, build func(app cdktf.App, cfg config.Config)) *Deployment {
	t.Helper()
	if err := emulator.RequireTerraform(); err != nil {
		t.Fatal(err)
	}
	emu := emulator.Start(t, emulator.Options{AccountID: AccountID})
	cfg := config.Config{
		Environment:     config.Local,
		Region:          emu.Region(),
		AccountID:       emu.AccountID(),
		ArtifactsBucket: config.DefaultArtifactsBucket,
		KeyAlias:        config.DefaultKeyAlias,
		Endpoint:        emu.Endpoint(),
		StateDir:        t.TempDir(),
		IngressCidrs:    []string{config.DefaultIngressCidrs},
		RotationZip:     RotationZip(t),
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}

	outdir := t.TempDir()
	synth(t, outdir, func(app cdktf.App) { build(app, cfg) })

	env, err := tfmirror.Env(filepath.Join(outdir, "terraform.rc"))
	if err != nil {
		t.Fatal(err)
	}
	maps.Copy(env, stacks.EmulatorEnv(emu.Endpoint()))
	awsCfg, err := emu.AWSConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	d := &Deployment{
		Emulator: emu,
		Config:   cfg,
		AWS:      awsCfg,
		Options: &terraform.Options{
			TerraformDir: filepath.Join(outdir, "stacks", name),
			EnvVars:      env,
			NoColor:      true,
			// The state is fresh (apply and the drift plan read everything back), so
			// destroy deletes by it without reading every resource again first.
			ExtraArgs: terraform.ExtraArgs{Destroy: []string{"-refresh=false"}},
		},
	}
	// Registered before apply so a failed apply still destroys what it created; runs
	// before the emulator stops (cleanups run last-in, first-out).
	t.Cleanup(func() {
		terraform.Destroy(t, d.Options)
		for _, check := range d.goneChecks {
			check(t)
		}
	})
	terraform.InitAndApply(t, d.Options)
	d.Outputs = terraform.OutputAll(t, d.Options)
	return d
}

var rotationZip = sync.OnceValues(func() (string, error) {
	root, err := image.FindModuleRoot(".")
	if err != nil {
		return "", err
	}
	pkg, err := lambdabuild.Build(context.Background(), lambdabuild.Options{ModuleDir: root, Package: "./runtime/cmd/rotate-secret"})
	if err != nil {
		return "", err
	}
	path := filepath.Join(root, ".run", "test", "rotate-secret.zip")
	return path, lambdabuild.Write(path, pkg)
})

// RotationZip is the secrets' rotation function as main.go builds it before synth, built
// once per test process.
func RotationZip(t *testing.T) string {
	t.Helper()
	path, err := rotationZip()
	if err != nil {
		t.Fatalf("building the rotation function: %v", err)
	}
	return path
}

// AfterDestroy registers a check that runs once the stack is destroyed, to prove the
// live resources are gone.
func (d *Deployment) AfterDestroy(check func(t *testing.T)) {
	d.goneChecks = append(d.goneChecks, check)
}

// Output returns a string output, failing the test if it is missing.
func (d *Deployment) Output(t *testing.T, name string) string {
	t.Helper()
	v, ok := d.Outputs[name].(string)
	if !ok || v == "" {
		t.Fatalf("stack output %q missing; outputs: %v", name, d.Outputs)
	}
	return v
}

// PlanIsEmpty reports whether a fresh plan finds nothing to change (no drift after apply).
func (d *Deployment) PlanIsEmpty(t *testing.T) bool {
	t.Helper()
	return terraform.PlanExitCode(t, d.Options) == 0
}

// Output declares a stack output; tests read it back from Deployment.Outputs.
func Output(stack cdktf.TerraformStack, name string, value *string) {
	cdktf.NewTerraformOutput(stack, jsii.String(name), &cdktf.TerraformOutputConfig{Value: value, StaticId: jsii.Bool(true)})
}

// jsiiMu serializes synth: the jsii runtime shares one pipe to its node process, and
// concurrent calls from parallel tests interleave on it.
var jsiiMu sync.Mutex

func synth(t *testing.T, outdir string, build func(cdktf.App)) {
	t.Helper()
	jsiiMu.Lock()
	defer jsiiMu.Unlock()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("synth failed: %v", r)
		}
	}()
	app := cdktf.NewApp(&cdktf.AppConfig{Outdir: jsii.String(outdir)})
	build(app)
	app.Synth()
}
