package tfscan

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/acme/module-registry/app/tfmirror"
	"github.com/acme/module-registry/stacks"
)

// providerAddress is the AWS provider in Terraform's schema output.
const providerAddress = "registry.terraform.io/hashicorp/aws"

// LoadSchema returns the AWS provider's block structure, read once from `terraform
// providers schema -json` (13 MB, seconds) in a working directory under dir and kept in
// dir as a small JSON file named after the provider version.
func LoadSchema(ctx context.Context, dir string) (*Schema, error) {
	work := filepath.Join(dir, "schema")
	if err := os.MkdirAll(work, 0o755); err != nil {
		return nil, err
	}
	config := fmt.Sprintf(`{"terraform": {"required_providers": {"aws": {"source": "hashicorp/aws", "version": %q}}}}`, stacks.AWSProviderConstraint)
	if err := os.WriteFile(filepath.Join(work, "main.tf.json"), []byte(config), 0o644); err != nil {
		return nil, err
	}
	env, err := tfmirror.Env(filepath.Join(work, "terraform.rc"))
	if err != nil {
		return nil, err
	}
	terraform := func(args ...string) ([]byte, error) {
		cmd := exec.CommandContext(ctx, "terraform", args...)
		cmd.Dir = work
		cmd.Env = os.Environ()
		for k, v := range env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("terraform %s: %w\n%s", args[0], err, stderr.String())
		}
		return out, nil
	}
	if _, err := terraform("init", "-backend=false", "-input=false", "-no-color"); err != nil {
		return nil, err
	}
	raw, err := terraform("version", "-json")
	if err != nil {
		return nil, err
	}
	var version struct {
		Providers map[string]string `json:"provider_selections"`
	}
	if err := json.Unmarshal(raw, &version); err != nil {
		return nil, fmt.Errorf("terraform version -json: %w", err)
	}
	cache := filepath.Join(dir, "aws-provider-"+version.Providers[providerAddress]+"-blocks.json")
	if b, err := os.ReadFile(cache); err == nil {
		var s Schema
		if json.Unmarshal(b, &s) == nil && s.Provider != nil {
			return &s, nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	raw, err = terraform("providers", "schema", "-json")
	if err != nil {
		return nil, err
	}
	s, err := ParseSchema(raw)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	return s, os.WriteFile(cache, b, 0o644)
}

// schemaBlock is a block of `terraform providers schema -json`.
type schemaBlock struct {
	BlockTypes map[string]struct {
		NestingMode string      `json:"nesting_mode"`
		Block       schemaBlock `json:"block"`
	} `json:"block_types"`
}

// ParseSchema keeps, of `terraform providers schema -json`, the AWS provider's nested
// block names.
func ParseSchema(raw []byte) (*Schema, error) {
	var doc struct {
		ProviderSchemas map[string]struct {
			Provider struct {
				Block schemaBlock `json:"block"`
			} `json:"provider"`
			Resources map[string]struct {
				Block schemaBlock `json:"block"`
			} `json:"resource_schemas"`
			Data map[string]struct {
				Block schemaBlock `json:"block"`
			} `json:"data_source_schemas"`
		} `json:"provider_schemas"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("tfscan: reading the provider schema: %w", err)
	}
	aws, ok := doc.ProviderSchemas[providerAddress]
	if !ok {
		return nil, fmt.Errorf("tfscan: the provider schema has no %s", providerAddress)
	}
	s := &Schema{Provider: reduce(aws.Provider.Block), Resources: map[string]*Block{}, Data: map[string]*Block{}}
	for typ, r := range aws.Resources {
		s.Resources[typ] = reduce(r.Block)
	}
	for typ, d := range aws.Data {
		s.Data[typ] = reduce(d.Block)
	}
	return s, nil
}

func reduce(b schemaBlock) *Block {
	out := &Block{}
	for name, bt := range b.BlockTypes {
		if out.Blocks == nil {
			out.Blocks = map[string]*Block{}
		}
		nested := reduce(bt.Block)
		nested.Map = bt.NestingMode == "map"
		out.Blocks[name] = nested
	}
	return out
}
