// Package writeonly generates secret values inside Terraform: an ephemeral
// aws_secretsmanager_random_password whose result flows only into the write-only
// secret_string_wo of a secret version, so the value never reaches Go, the synthesized
// JSON, the plan or the state. See constructs/jwtsecret's package doc for the reasoning.
package writeonly

import (
	"github.com/aws/jsii-runtime-go"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/secretsmanagersecretversion"
	"github.com/hashicorp/terraform-cdk-go/cdktf"
)

// Toolchain the mechanism needs: write-only arguments (Terraform 1.11) and
// secret_string_wo (AWS provider 5.99).
const (
	RequiredAWSProvider = ">= 5.99.0, < 6.0.0"
	RequiredTerraform   = ">= 1.11.0"
)

// RandomPassword declares an ephemeral random password of length letters and digits
// (safe in env vars, headers and shells), named after version and field, and returns the
// Terraform reference to its value, to be used unquoted inside SetValue's expression.
// It also narrows the stack's AWS provider and Terraform constraints to what the
// mechanism needs: an older toolchain stops at init with a version message.
func RandomPassword(version secretsmanagersecretversion.SecretsmanagerSecretVersion, field string, length int) string {
	stack := cdktf.TerraformStack_Of(version)
	addr := "ephemeral.aws_secretsmanager_random_password." + *version.FriendlyUniqueId() + "_" + field
	// cdktf 0.20 has no ephemeral blocks; the stack override emits one verbatim.
	stack.AddOverride(jsii.String(addr), map[string]any{
		"password_length":            length,
		"exclude_punctuation":        true,
		"require_each_included_type": true,
	})
	stack.AddOverride(jsii.String("terraform.required_providers.aws.version"), jsii.String(RequiredAWSProvider))
	stack.AddOverride(jsii.String("terraform.required_version"), jsii.String(RequiredTerraform))
	return addr + ".random_password"
}

// SetValue sets version's write-only value to the Terraform expression expr (for example
// "${jsonencode({password = <reference>})}"). cdktf's Fn.jsonencode would quote the
// reference as a literal string, so callers write the expression themselves.
func SetValue(version secretsmanagersecretversion.SecretsmanagerSecretVersion, expr string) {
	version.AddOverride(jsii.String("secret_string_wo"), jsii.String(expr))
}
