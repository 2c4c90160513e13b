package app_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/constructs/adminaccess"
	"github.com/acme/module-registry/constructs/configrecorder"
	"github.com/acme/module-registry/constructs/githuboidc"
	"github.com/acme/module-registry/constructs/secretrotation"
	"github.com/acme/module-registry/stacks"
)

type stackTree struct {
	Resource map[string]map[string]map[string]any `json:"resource"`
	Data     map[string]map[string]map[string]any `json:"data"`
}

func parse(t *testing.T, raw []byte) stackTree {
	t.Helper()
	var tr stackTree
	require.NoError(t, json.Unmarshal(raw, &tr))
	return tr
}

// document resolves "${data.aws_iam_policy_document.X.json}" to X's statements.
func (tr stackTree) document(t *testing.T, ref any) []map[string]any {
	t.Helper()
	s, _ := ref.(string)
	const prefix, suffix = "${data.aws_iam_policy_document.", ".json}"
	require.True(t, len(s) > len(prefix)+len(suffix), "not a document reference: %v", ref)
	doc := tr.Data["aws_iam_policy_document"][s[len(prefix):len(s)-len(suffix)]]
	require.NotNil(t, doc, "document %s", s)
	var out []map[string]any
	for _, st := range doc["statement"].([]any) {
		out = append(out, st.(map[string]any))
	}
	return out
}

func conditions(st map[string]any) map[string][]any {
	out := map[string][]any{}
	list, _ := st["condition"].([]any)
	for _, c := range list {
		m := c.(map[string]any)
		k := m["test"].(string) + " " + m["variable"].(string)
		out[k] = append(out[k], m["values"].([]any)...)
	}
	return out
}

// A prod synth deploys without long-lived keys (OIDC roles trusting one exact subject
// each), watches for drift (AWS Config with every mirrored rule), requires MFA of
// administrators and rotates both secrets at most 30 days apart.
func TestProdSynthHasTheGovernance(t *testing.T) {
	out := synth(t, map[string]string{
		"ACME_ENV": "prod", "ACME_ACCOUNT_ID": "111122223333",
		"ACME_GITHUB_REPOSITORY": "acme/module-registry", "ACME_GITHUB_DEPLOY_ENVIRONMENT": "prod",
	})
	gov := parse(t, out[stacks.GovernanceStackName])

	provider := gov.Resource["aws_iam_openid_connect_provider"]
	require.Len(t, provider, 1)
	for _, p := range provider {
		assert.Equal(t, githuboidc.IssuerURL, p["url"])
		assert.Equal(t, []any{githuboidc.Audience}, p["client_id_list"])
		assert.NotEmpty(t, p["thumbprint_list"])
	}
	subjects := map[string]string{}
	for _, role := range gov.Resource["aws_iam_role"] {
		if role["name"] == "acme-config-recorder" {
			continue
		}
		assert.EqualValues(t, 3600, role["max_session_duration"], "%s: at most one hour", role["name"])
		assert.NotEmpty(t, role["permissions_boundary"], "%s", role["name"])
		trust := gov.document(t, role["assume_role_policy"])
		require.Len(t, trust, 1)
		assert.Equal(t, []any{"sts:AssumeRoleWithWebIdentity"}, trust[0]["actions"])
		c := conditions(trust[0])
		assert.Equal(t, []any{githuboidc.Audience}, c["StringEquals "+githuboidc.AudienceKey])
		sub := c["StringEquals "+githuboidc.SubjectKey]
		require.Len(t, sub, 1, "%s: one exact subject", role["name"])
		subjects[role["name"].(string)] = sub[0].(string)
		for k := range c {
			assert.NotContains(t, k, "StringLike", "no pattern conditions")
		}
	}
	assert.Equal(t, map[string]string{
		githuboidc.DefaultDeployRoleName: "repo:acme/module-registry:environment:prod",
		githuboidc.DefaultPlanRoleName:   "repo:acme/module-registry:pull_request",
	}, subjects)

	recorder := gov.Resource["aws_config_configuration_recorder"]
	require.Len(t, recorder, 1)
	for _, r := range recorder {
		group := r["recording_group"].(map[string]any)
		assert.Equal(t, true, group["all_supported"])
		assert.Equal(t, true, group["include_global_resource_types"])
	}
	for _, ch := range gov.Resource["aws_config_delivery_channel"] {
		assert.Regexp(t, `^\$\{aws_s3_bucket\.`, ch["s3_bucket_name"])
		assert.Regexp(t, `^\$\{aws_kms_key\.`, ch["s3_kms_key_arn"])
		assert.Regexp(t, `^\$\{aws_sns_topic\.`, ch["sns_topic_arn"])
	}
	require.Len(t, gov.Resource["aws_config_delivery_channel"], 1)
	for _, s := range gov.Resource["aws_config_configuration_recorder_status"] {
		assert.Equal(t, true, s["is_enabled"])
	}
	for _, topic := range gov.Resource["aws_sns_topic"] {
		assert.Regexp(t, `^\$\{aws_kms_key\.`, topic["kms_master_key_id"])
	}
	var rules []string
	for _, r := range gov.Resource["aws_config_config_rule"] {
		rules = append(rules, r["name"].(string))
	}
	var want []string
	for _, r := range configrecorder.ManagedRules {
		want = append(want, r.Name)
	}
	assert.ElementsMatch(t, want, rules)

	var mfa map[string]any
	for _, p := range gov.Resource["aws_iam_group_policy"] {
		for _, st := range gov.document(t, p["policy"]) {
			if st["sid"] == adminaccess.BlockUnlessSignedInWithMFA {
				mfa = st
			}
		}
	}
	require.NotNil(t, mfa, "the MFA-enforcing statement")
	assert.Equal(t, "Deny", mfa["effect"])
	assert.Equal(t, []any{"false"}, conditions(mfa)["BoolIfExists aws:MultiFactorAuthPresent"])
	assert.NotEmpty(t, mfa["not_actions"])

	reg := parse(t, out[stacks.RegistryStackName])
	rotated := map[string]float64{}
	for _, r := range reg.Resource["aws_secretsmanager_secret_rotation"] {
		days := r["rotation_rules"].(map[string]any)["automatically_after_days"].(float64)
		assert.LessOrEqual(t, days, float64(secretrotation.MaxRotationDays))
		rotated[r["secret_id"].(string)] = days
	}
	secrets := reg.Resource["aws_secretsmanager_secret"]
	require.Len(t, secrets, 2)
	for name := range secrets {
		assert.Contains(t, rotated, "${aws_secretsmanager_secret."+name+".arn}", "%s rotates", name)
	}
	for _, fn := range reg.Resource["aws_lambda_function"] {
		assert.Equal(t, secretrotation.Runtime, fn["runtime"])
		assert.Regexp(t, `^\$\{aws_kms_key\.`, fn["kms_key_arn"], "environment under the project key")
	}
}

// The local app stays the one registry stack, so make up deploys it alone, with both
// rotations (the emulator keeps their configuration).
func TestLocalSynthIsTheRegistryWithRotations(t *testing.T) {
	out := synth(t, map[string]string{})
	require.Len(t, out, 1)
	assert.Len(t, parse(t, out[stacks.RegistryStackName]).Resource["aws_secretsmanager_secret_rotation"], 2)
}
