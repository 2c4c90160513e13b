package compliance_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/acme/module-registry/constructs/compliance"
)

// Every kind of long-lived credential fires the rule, each at its own address.
func TestNoLongLivedCredentialsFires(t *testing.T) {
	for _, typ := range []string{
		"aws_iam_user", "aws_iam_access_key", "aws_iam_user_login_profile", "aws_iam_user_ssh_key",
		"aws_iam_service_specific_credential", "aws_iam_signing_certificate", "aws_iam_user_policy",
		"aws_iam_user_policy_attachment", "aws_iam_user_group_membership", "aws_iam_group_membership",
	} {
		t.Run(typ, func(t *testing.T) {
			tree := compliant(t)
			tree["resource"].(map[string]any)[typ] = map[string]any{"ci": map[string]any{"name": "ci"}}
			assert.Equal(t, []string{typ + ".ci " + compliance.RuleNoLongLivedCredentials}, check(t, tree, compliance.Options{}))
		})
	}
}

// Roles, groups and OIDC providers are not long-lived credentials.
func TestRolesGroupsAndOIDCProvidersPass(t *testing.T) {
	tree := compliant(t)
	r := tree["resource"].(map[string]any)
	r["aws_iam_group"] = map[string]any{"admins": map[string]any{"name": "admins"}}
	r["aws_iam_openid_connect_provider"] = map[string]any{"github": map[string]any{"url": "https://token.actions.githubusercontent.com"}}
	assert.Empty(t, check(t, tree, compliance.Options{}))
}
