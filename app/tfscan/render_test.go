package tfscan_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/app/tfscan"
)

// A schema with the shapes cdktf writes: a single nested block as an object, repeated
// ones as an array, blocks within blocks, a map of labelled blocks, and map attributes
// that look like blocks but are not.
var schema = &tfscan.Schema{
	Provider: &tfscan.Block{Blocks: map[string]*tfscan.Block{"default_tags": {}, "endpoints": {}}},
	Resources: map[string]*tfscan.Block{
		"aws_dynamodb_table": {Blocks: map[string]*tfscan.Block{"attribute": {}, "server_side_encryption": {}, "point_in_time_recovery": {}}},
		"aws_s3_bucket_lifecycle_configuration": {Blocks: map[string]*tfscan.Block{
			"rule": {Blocks: map[string]*tfscan.Block{"filter": {}, "expiration": {}}}}},
		"aws_thing": {Blocks: map[string]*tfscan.Block{"labelled": {Map: true}}},
	},
	Data: map[string]*tfscan.Block{"aws_iam_policy_document": {Blocks: map[string]*tfscan.Block{"statement": {Blocks: map[string]*tfscan.Block{"condition": {}}}}}},
}

const stack = `{
  "//": {"metadata": {"version": "0.20.11"}},
  "terraform": {"backend": {"s3": {"bucket": "state"}}},
  "provider": {"aws": [{"region": "us-east-1", "default_tags": [{"tags": {"Project": "acme"}}]}]},
  "ephemeral": {"aws_secretsmanager_random_password": {"p": {"password_length": 32}}},
  "output": {"url": {"value": "${aws_lb.x.dns_name}"}},
  "data": {"aws_iam_policy_document": {"doc": {"statement": [
    {"actions": ["s3:*"], "condition": [{"test": "Bool", "variable": "aws:SecureTransport", "values": ["false"]}]}]}}},
  "resource": {
    "aws_dynamodb_table": {"t": {
      "//": {"metadata": {"path": "x"}}, "depends_on": ["aws_kms_key.k"], "lifecycle": {"ignore_changes": ["tags"]},
      "name": "users", "billing_mode": "PAY_PER_REQUEST", "read_capacity": 5, "deletion_protection_enabled": true,
      "attribute": [{"name": "name", "type": "S"}, {"name": "exp", "type": "N"}],
      "server_side_encryption": {"enabled": true, "kms_key_arn": "${aws_kms_key.k.arn}"},
      "tags": {"Name": "users", "team-b": "x"}}},
    "aws_s3_bucket_lifecycle_configuration": {"lc": {"rule": [{"id": "expire", "status": "Enabled",
      "filter": [{"prefix": ""}], "expiration": [{"days": 365}]}]}},
    "aws_thing": {"m": {"labelled": {"first": {"v": 1}}}},
    "aws_secretsmanager_secret_version": {"v": {
      "secret_string_wo": "${jsonencode({\"password\" = ephemeral.aws_secretsmanager_random_password.p.random_password})}"}},
    "aws_ecs_task_definition": {"td": {"container_definitions": "[{\"name\":\"app\",\"image\":\"${aws_ecr_repository.r.repository_url}@sha256:00\",\"command\":[\"a\\\\b\"]}]\n"}},
    "terraform_data": {"push": {"input": "literal $${not.a.reference} and 100%% and %%{x}"}}
  }
}`

func render(t *testing.T) (string, *hcl.File) {
	t.Helper()
	out, err := tfscan.Render([]byte(stack), schema, []tfscan.Ignore{{Check: "aws-dynamodb-table-customer-key", Type: "aws_dynamodb_table", NamePrefix: "t", Why: "the table is under the project key"}})
	require.NoError(t, err)
	f, diags := hclsyntax.ParseConfig(out, "main.tf", hcl.InitialPos)
	require.False(t, diags.HasErrors(), "the rendering parses as HCL: %v\n%s", diags, out)
	return string(out), f
}

func TestRenderWritesBlocksAsBlocks(t *testing.T) {
	out, f := render(t)
	body := f.Body.(*hclsyntax.Body)
	var kinds []string
	for _, b := range body.Blocks {
		kinds = append(kinds, b.Type+" "+strings.Join(b.Labels, " "))
	}
	assert.Equal(t, []string{
		"provider aws",
		"data aws_iam_policy_document doc",
		"resource aws_dynamodb_table t",
		"resource aws_ecs_task_definition td",
		"resource aws_s3_bucket_lifecycle_configuration lc",
		"resource aws_secretsmanager_secret_version v",
		"resource aws_thing m",
		"resource terraform_data push",
	}, kinds, "no terraform, ephemeral or output blocks")

	table := body.Blocks[2].Body
	var nested []string
	for _, b := range table.Blocks {
		nested = append(nested, b.Type)
	}
	assert.Equal(t, []string{"attribute", "attribute", "server_side_encryption"}, nested, "the object-form block is a block")
	assert.Contains(t, table.Attributes, "tags", "a map attribute stays an attribute")
	for _, meta := range []string{"depends_on", "lifecycle", "//"} {
		assert.NotContains(t, table.Attributes, meta)
	}
	rule := body.Blocks[4].Body.Blocks[0]
	assert.Equal(t, "rule", rule.Type)
	assert.Equal(t, []string{"expiration", "filter"}, []string{rule.Body.Blocks[0].Type, rule.Body.Blocks[1].Type}, "blocks within blocks")
	thing := body.Blocks[6].Body.Blocks[0]
	assert.Equal(t, []string{"first"}, thing.Labels, "map-nested blocks keep their label")
	assert.Contains(t, out, "# the table is under the project key\n#tfsec:ignore:aws-dynamodb-table-customer-key\nresource \"aws_dynamodb_table\" \"t\"")
	assert.Contains(t, body.Blocks[0].Body.Blocks[0].Type, "default_tags")
}

// Strings stay templates: interpolations and their own strings are kept as they are,
// literal text is escaped, and escaped sequences stay literal.
func TestRenderKeepsTemplates(t *testing.T) {
	_, f := render(t)
	body := f.Body.(*hclsyntax.Body)
	attr := func(block int, name string) hclsyntax.Expression {
		return body.Blocks[block].Body.Attributes[name].Expr
	}
	refs := func(e hclsyntax.Expression) []string {
		var out []string
		for _, tr := range e.Variables() {
			out = append(out, tr.RootName()+"."+tr[1].(hcl.TraverseAttr).Name)
		}
		return out
	}
	assert.Equal(t, []string{"ephemeral.aws_secretsmanager_random_password"}, refs(attr(5, "secret_string_wo")))
	assert.Equal(t, []string{"aws_ecr_repository.r"}, refs(attr(3, "container_definitions")), "the reference inside JSON text")
	assert.Empty(t, refs(attr(7, "input")), "$${ is no reference")

	v, diags := attr(7, "input").Value(nil)
	require.False(t, diags.HasErrors(), "%v", diags)
	assert.Equal(t, "literal ${not.a.reference} and 100%% and %{x}", v.AsString())
	v, diags = attr(2, "read_capacity").Value(nil)
	require.False(t, diags.HasErrors())
	assert.Equal(t, "5", v.AsBigFloat().String())
}

// The schema comes from `terraform providers schema -json`, reduced to block names.
func TestParseSchemaKeepsNestedBlockNames(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "schema.json"))
	require.NoError(t, err)
	s, err := tfscan.ParseSchema(raw)
	require.NoError(t, err)
	table := s.Resources["aws_dynamodb_table"]
	require.NotNil(t, table)
	assert.Contains(t, table.Blocks, "server_side_encryption")
	assert.NotContains(t, table.Blocks, "tags", "attributes are not blocks")
	assert.True(t, s.Resources["aws_thing"].Blocks["labelled"].Map)
	assert.Contains(t, s.Data["aws_iam_policy_document"].Blocks["statement"].Blocks, "condition")
	assert.Contains(t, s.Provider.Blocks, "endpoints")

	_, err = tfscan.ParseSchema([]byte(`{"provider_schemas": {}}`))
	assert.ErrorContains(t, err, "has no registry.terraform.io/hashicorp/aws")
}
