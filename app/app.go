// Package app assembles the cdktf application from a validated configuration: it maps the
// configuration onto the stacks' typed props and builds the stacks of the environment.
package app

import (
	"path/filepath"

	"github.com/aws/jsii-runtime-go"
	"github.com/hashicorp/terraform-cdk-go/cdktf"

	"github.com/acme/module-registry/app/config"
	"github.com/acme/module-registry/constructs/removal"
	"github.com/acme/module-registry/stacks"
)

// New builds the app for cfg, writing to outdir ("" means cdktf's default, cdktf.out, or
// the directory the cdktf CLI asks for).
func New(cfg config.Config, outdir string) cdktf.App {
	ac := &cdktf.AppConfig{}
	if outdir != "" {
		ac.Outdir = jsii.String(outdir)
	}
	a := cdktf.NewApp(ac)
	// Account-level stacks exist only on real accounts: the local app is the registry
	// alone, so `make up` deploys one stack and stays fast.
	if !cfg.IsLocal() {
		stacks.NewBootstrap(a, BootstrapProps(cfg))
		stacks.NewGovernance(a, GovernanceProps(cfg))
	}
	stacks.NewRegistry(a, RegistryProps(cfg))
	return a
}

// BaseProps is the provider and backend of stack id in cfg's environment: locally the
// emulator and a state file in cfg.StateDir; in dev and prod the configured account and
// the S3 state bucket, under "<environment>/<id>.tfstate".
func BaseProps(cfg config.Config, id string) stacks.BaseProps {
	p := stacks.BaseProps{Environment: string(cfg.Environment), Region: cfg.Region, AccountID: cfg.AccountID}
	if cfg.IsLocal() {
		p.Emulator = cfg.Endpoint
		p.State = stacks.State{LocalFile: filepath.Join(cfg.StateDir, id+".tfstate")}
		return p
	}
	p.State = stacks.State{Bucket: cfg.StateBucket, Key: string(cfg.Environment) + "/" + id + ".tfstate", KMSKeyArn: cfg.StateKMSKeyArn}
	return p
}

// RegistryProps maps cfg onto the registry stack. Only the emulator's resources may be
// destroyed with data in them, without recovery windows, and served over plain HTTP;
// every real environment keeps all protections.
func RegistryProps(cfg config.Config) stacks.RegistryProps {
	p := stacks.RegistryProps{
		BaseProps:       BaseProps(cfg, stacks.RegistryStackName),
		ArtifactsBucket: cfg.ArtifactsBucket,
		KeyAlias:        cfg.KeyAlias,
		ImageLayout:     cfg.ImageLayout,
		IngressCidrs:    cfg.IngressCidrs,
		InternetFacing:  cfg.InternetFacing,
		CertificateArn:  cfg.CertificateArn,
		Rotation:        stacks.RotationProps{FunctionZip: cfg.RotationZip, Days: cfg.RotationDays},
	}
	if cfg.IsLocal() {
		p.AllowPlainHTTP = true
		p.RemovalPolicy = removal.Destroy
	}
	return p
}

// GovernanceProps maps a dev/prod cfg onto the governance stack: the CI roles trust the
// configured repository and ref or environment, and are granted the registry stack's
// state, the one stack CI deploys.
func GovernanceProps(cfg config.Config) stacks.GovernanceProps {
	registryState := BaseProps(cfg, stacks.RegistryStackName).State
	return stacks.GovernanceProps{
		BaseProps: BaseProps(cfg, stacks.GovernanceStackName),
		GitHub: stacks.GitHubProps{
			Repository: cfg.GitHubRepository, DeployRef: cfg.GitHubDeployRef, DeployEnvironment: cfg.GitHubDeployEnvironment,
			ProviderArn: cfg.GitHubOIDCProviderArn, PermissionsBoundaryArn: cfg.CIPermissionsBoundaryArn,
			StateBucket: registryState.Bucket, StateKey: registryState.Key, StateKMSKeyArn: registryState.KMSKeyArn,
		},
	}
}

// BootstrapProps maps a dev/prod cfg onto the bootstrap stack, whose own state stays in
// a local file (config.DefaultLocalStateDir/bootstrap-<environment>.tfstate), since the
// bucket it creates cannot hold its own state before it exists.
func BootstrapProps(cfg config.Config) stacks.BootstrapProps {
	base := BaseProps(cfg, stacks.BootstrapStackName)
	path, err := filepath.Abs(filepath.Join(config.DefaultLocalStateDir, "bootstrap-"+string(cfg.Environment)+".tfstate"))
	if err != nil {
		panic(err) // only when the working directory is gone
	}
	base.State = stacks.State{LocalFile: path}
	return stacks.BootstrapProps{BaseProps: base, StateBucket: cfg.StateBucket}
}
