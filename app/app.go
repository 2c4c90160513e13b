// Package app assembles the cdktf application from a validated configuration.
package app

import (
	"github.com/aws/jsii-runtime-go"
	"github.com/hashicorp/terraform-cdk-go/cdktf"

	"github.com/acme/module-registry/app/config"
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
	if !cfg.IsLocal() {
		stacks.NewBootstrap(a, cfg)
	}
	stacks.NewRegistry(a, cfg)
	return a
}
