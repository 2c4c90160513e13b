package compliance_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/constructs/compliance"
)

const stack = `{
  "data": {"aws_iam_policy_document": {
    "keypolicy": {"statement": [
      {"effect": "Allow", "actions": ["kms:*"], "resources": ["*"]}]},
    "tooWide": {"statement": [
      {"actions": ["s3:GetObject"], "resources": ["*"]},
      {"effect": "Allow", "actions": ["*"], "resources": ["arn:aws:s3:::b/*"]},
      {"effect": "Allow", "not_actions": ["iam:*"], "resources": ["arn:aws:s3:::b"]},
      {"effect": "Deny", "actions": ["*"], "resources": ["*"]}]},
    "narrow": {"statement": [{"actions": ["s3:GetObject"], "resources": ["arn:aws:s3:::b/p/*"]}]}
  }},
  "resource": {
    "aws_kms_key": {"k": {"policy": "${data.aws_iam_policy_document.keypolicy.json}"}},
    "aws_iam_role_policy": {
      "literal": {"policy": "{\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}}"},
      "ref": {"policy": "${data.aws_iam_policy_document.tooWide.json}"}
    }
  }
}`

func TestWildcardsOutsideExceptionsAreReported(t *testing.T) {
	v, err := compliance.CheckIAMWildcards([]byte(stack))
	require.NoError(t, err)
	got := map[string]bool{}
	for _, x := range v {
		got[x.Address+" "+x.Rule] = true
	}
	assert.Equal(t, map[string]bool{
		"aws_iam_role_policy.literal.policy statement 0 iam-no-wildcard-action":     true,
		"aws_iam_role_policy.literal.policy statement 0 iam-no-wildcard-resource":   true,
		"data.aws_iam_policy_document.tooWide statement 0 iam-no-wildcard-resource": true,
		"data.aws_iam_policy_document.tooWide statement 1 iam-no-wildcard-action":   true,
		"data.aws_iam_policy_document.tooWide statement 2 iam-no-allow-notaction":   true,
	}, got, "key policy Resource * is the named exception; Deny statements never count")
}

func TestKeyPolicyExceptionCoversOnlyResources(t *testing.T) {
	v, err := compliance.CheckIAMWildcards([]byte(`{
	  "data": {"aws_iam_policy_document": {"kp": {"statement": [{"actions": ["*"], "resources": ["*"]}]}}},
	  "resource": {"aws_kms_key": {"k": {"policy": "${data.aws_iam_policy_document.kp.json}"}}}}`))
	require.NoError(t, err)
	require.Len(t, v, 1)
	assert.Equal(t, compliance.RuleWildcardAction, v[0].Rule)
}

func TestInvalidJSONIsAnError(t *testing.T) {
	_, err := compliance.CheckIAMWildcards([]byte(`{`))
	assert.ErrorContains(t, err, "not valid JSON")
}

// Partial wildcards grant actions nobody named: refused in identity policies and in key
// policies alike, except the key policy's own root "kms:*".
func TestPartialWildcardActionsAreReported(t *testing.T) {
	v, err := compliance.CheckIAMWildcards([]byte(`{
	  "data": {"aws_iam_policy_document": {
	    "kp": {"statement": [
	      {"actions": ["kms:*"], "resources": ["*"]},
	      {"actions": ["kms:GenerateDataKey*"], "resources": ["*"]}]},
	    "role": {"statement": [
	      {"actions": ["kms:Decrypt", "kms:ReEncrypt*"], "resources": ["arn:aws:kms:us-east-1:111122223333:key/k"]},
	      {"actions": ["kms:*"], "resources": ["arn:aws:kms:us-east-1:111122223333:key/k"]},
	      {"actions": ["s3:Get?bject"], "resources": ["arn:aws:s3:::b/*"]},
	      {"actions": ["kms:Decrypt", "kms:GenerateDataKey"], "resources": ["arn:aws:kms:us-east-1:111122223333:key/k"]}]}}},
	  "resource": {"aws_kms_key": {"k": {"policy": "${data.aws_iam_policy_document.kp.json}"}}}}`))
	require.NoError(t, err)
	var got []string
	for _, x := range v {
		got = append(got, x.Address+": "+x.Detail)
	}
	assert.ElementsMatch(t, []string{
		`data.aws_iam_policy_document.kp statement 1: Allow with Action "kms:GenerateDataKey*"; name each action exactly (partial wildcards grant actions nobody uses)`,
		`data.aws_iam_policy_document.role statement 0: Allow with Action "kms:ReEncrypt*"; name each action exactly (partial wildcards grant actions nobody uses)`,
		`data.aws_iam_policy_document.role statement 1: Allow with Action "kms:*"; name each action exactly (partial wildcards grant actions nobody uses)`,
		`data.aws_iam_policy_document.role statement 2: Allow with Action "s3:Get?bject"; name each action exactly (partial wildcards grant actions nobody uses)`,
	}, got)
}
