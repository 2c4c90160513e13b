package githuboidc_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/constructs/encryptionkey"
	"github.com/acme/module-registry/constructs/githuboidc"
	"github.com/acme/module-registry/constructs/internal/synthtest"
	"github.com/acme/module-registry/constructs/securebucket"
)

const stateKeyArn = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"

func synth(t *testing.T, p githuboidc.Props) (*synthtest.Result, *githuboidc.GitHubOIDC) {
	t.Helper()
	stack := synthtest.NewStack(t)
	if p.State != nil {
		key := encryptionkey.FromKeyArn(stack, "StateKey", stateKeyArn)
		p.State.Bucket = securebucket.FromBucketAttributes(stack, "State", securebucket.Attributes{BucketName: "acme-tfstate", EncryptionKey: key})
		p.State.EncryptionKey = key
	}
	g := githuboidc.New(stack, "GitHub", &p)
	return synthtest.Synth(t, stack), g
}

// roles maps role names to their trust statement and their synthesized role.
func roles(t *testing.T, out *synthtest.Result) map[string]map[string]any {
	out2 := map[string]map[string]any{}
	for _, r := range out.Resources("aws_iam_role") {
		out2[r["name"].(string)] = r
	}
	return out2
}

var roleRef = regexp.MustCompile(`^\$\{aws_iam_role\.GitHub_([A-Za-z]+)_[^.]+\.name\}$`)

// roleID is "Deploy" or "Plan" for a reference to one of the two roles.
func roleID(ref any) string {
	m := roleRef.FindStringSubmatch(ref.(string))
	if m == nil {
		return ""
	}
	return m[1]
}

func trust(t *testing.T, out *synthtest.Result, role map[string]any) map[string][]string {
	t.Helper()
	sts := out.PolicyStatements(t, role["assume_role_policy"])
	require.Len(t, sts, 1)
	assert.Equal(t, []string{"sts:AssumeRoleWithWebIdentity"}, synthtest.Strings(sts[0]["actions"]))
	principals := sts[0]["principals"].([]any)
	require.Len(t, principals, 1)
	assert.Equal(t, "Federated", principals[0].(map[string]any)["type"])
	assert.Regexp(t, `^\$\{aws_iam_openid_connect_provider\.[^.]+\.arn\}$`, synthtest.Strings(principals[0].(map[string]any)["identifiers"])[0])
	return synthtest.Conditions(sts[0])
}

func TestDefaultsTrustMainAndPullRequestsExactly(t *testing.T) {
	out, g := synth(t, githuboidc.Props{Repository: "acme/module-registry"})
	provider := out.Resource(t, "aws_iam_openid_connect_provider")
	assert.Equal(t, "https://token.actions.githubusercontent.com", provider["url"])
	assert.Equal(t, []string{"sts.amazonaws.com"}, synthtest.Strings(provider["client_id_list"]))
	assert.Equal(t, githuboidc.Thumbprints, synthtest.Strings(provider["thumbprint_list"]))

	rs := roles(t, out)
	require.Len(t, rs, 2)
	for name, sub := range map[string]string{
		"acme-github-deploy": "repo:acme/module-registry:ref:refs/heads/main",
		"acme-github-plan":   "repo:acme/module-registry:pull_request",
	} {
		r := rs[name]
		require.NotNil(t, r, name)
		c := trust(t, out, r)
		assert.Equal(t, map[string][]string{
			"StringEquals token.actions.githubusercontent.com:aud": {"sts.amazonaws.com"},
			"StringEquals token.actions.githubusercontent.com:sub": {sub},
		}, c, "%s: exact audience and subject, nothing else", name)
		assert.EqualValues(t, 3600, r["max_session_duration"])
		assert.Equal(t, githuboidc.AdministratorAccess, r["permissions_boundary"])
	}
	assert.Equal(t, "repo:acme/module-registry:ref:refs/heads/main", g.DeploySubject())

	managed := map[string]string{}
	for _, a := range out.Resources("aws_iam_role_policy_attachment") {
		managed[roleID(a["role"])] = a["policy_arn"].(string)
	}
	assert.Equal(t, map[string]string{"Deploy": githuboidc.AdministratorAccess, "Plan": githuboidc.ReadOnlyAccess}, managed)
}

// Both roles carry the guardrails: no long-lived credentials, no change to the CI
// identity, no stopping the watchers.
func TestGuardrailsDenyWhatCIMustNeverDo(t *testing.T) {
	out, g := synth(t, githuboidc.Props{Repository: "acme/module-registry"})
	found := 0
	for _, p := range out.Resources("aws_iam_role_policy") {
		sts := synthtest.BySid(out.PolicyStatements(t, p["policy"]))
		creds, ok := sts[githuboidc.DenyLongLivedCredentialSid]
		if !ok {
			continue
		}
		found++
		assert.Equal(t, "Deny", creds["effect"])
		assert.Subset(t, synthtest.Strings(creds["actions"]), []string{"iam:CreateUser", "iam:CreateAccessKey", "iam:CreateLoginProfile"})
		self := sts[githuboidc.DenyChangingCISid]
		assert.Equal(t, "Deny", self["effect"])
		assert.Contains(t, synthtest.Strings(self["actions"]), "iam:UpdateAssumeRolePolicy")
		assert.Len(t, synthtest.Strings(self["resources"]), 3, "the provider and both roles")
		watchers := sts[githuboidc.DenyBlindingWatchersSid]
		assert.Subset(t, synthtest.Strings(watchers["actions"]), []string{"cloudtrail:StopLogging", "config:StopConfigurationRecorder"})
	}
	assert.Equal(t, 2, found, "one guardrail policy per role")
	assert.Len(t, g.GuardrailStatements(), 3)
}

func TestEnvironmentReplacesTheRef(t *testing.T) {
	out, g := synth(t, githuboidc.Props{Repository: "acme/module-registry", DeployEnvironment: "prod", MaxSessionSeconds: 900,
		DeployRoleName: "deploy", PlanRoleName: "plan", PermissionsBoundaryArn: "arn:aws:iam::111122223333:policy/ci-boundary",
		ProviderArn: "arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"})
	assert.Empty(t, out.Resources("aws_iam_openid_connect_provider"), "an existing provider is reused")
	r := roles(t, out)["deploy"]
	sts := out.PolicyStatements(t, r["assume_role_policy"])
	assert.Equal(t, []string{"repo:acme/module-registry:environment:prod"}, synthtest.Conditions(sts[0])["StringEquals token.actions.githubusercontent.com:sub"])
	assert.EqualValues(t, 900, r["max_session_duration"])
	assert.Equal(t, "arn:aws:iam::111122223333:policy/ci-boundary", r["permissions_boundary"])
	assert.Equal(t, "repo:acme/module-registry:environment:prod", g.DeploySubject())
	assert.Equal(t, "repo:acme/module-registry:environment:prod", synthtest.Strings(func() any {
		var out []any
		for _, c := range g.TrustStatements("deploy")[0].Conditions {
			if c.Variable == githuboidc.SubjectKey {
				for _, v := range c.Values {
					out = append(out, v)
				}
			}
		}
		return out
	}())[0])
}

// The deploy role reads and writes the state object and its lock; the plan role reads
// the state and writes only the lock.
func TestStateGrants(t *testing.T) {
	out, _ := synth(t, githuboidc.Props{Repository: "acme/module-registry", State: &githuboidc.State{Key: "prod/registry.tfstate"}})
	byRole := map[string]map[string]map[string]any{}
	for _, p := range out.Resources("aws_iam_role_policy") {
		role := roleID(p["role"])
		if byRole[role] == nil {
			byRole[role] = map[string]map[string]any{}
		}
		for sid, st := range synthtest.BySid(out.PolicyStatements(t, p["policy"])) {
			byRole[role][sid] = st
		}
	}
	deploy, plan := byRole["Deploy"], byRole["Plan"]
	require.NotNil(t, deploy)
	require.NotNil(t, plan)
	objects := func(st map[string]any) string {
		r := synthtest.Strings(st["resources"])
		require.Len(t, r, 1)
		_, key, _ := strings.Cut(r[0], ":s3:::")
		return key
	}
	assert.Equal(t, "acme-tfstate/prod/registry.tfstate*", objects(deploy["ObjectsReadWrite"]))
	assert.Contains(t, synthtest.Strings(deploy["ObjectsReadWrite"]["actions"]), "s3:PutObject")
	assert.Equal(t, "acme-tfstate/prod/registry.tfstate.tflock", objects(deploy["ReleaseStateLock"]))
	assert.NotContains(t, synthtest.Strings(plan["ObjectsRead"]["actions"]), "s3:PutObject", "a plan never writes the state")
	assert.Equal(t, "acme-tfstate/prod/registry.tfstate", strings.TrimSuffix(objects(plan["ObjectsRead"]), "*"))
	assert.Equal(t, "acme-tfstate/prod/registry.tfstate.tflock", objects(plan["TakeAndReleaseStateLock"]))
	assert.Equal(t, []string{"kms:GenerateDataKey"}, synthtest.Strings(plan["UseKeyEncrypt"]["actions"]))
	assert.Equal(t, []string{stateKeyArn}, synthtest.Strings(plan["UseKeyEncrypt"]["resources"]))
}

// Any subject broader than one repository and one ref or environment fails synth.
func TestTooBroadSubjectsAreRefused(t *testing.T) {
	for _, tc := range []struct {
		props githuboidc.Props
		want  string
	}{
		{githuboidc.Props{Repository: "acme/*"}, `Repository: "acme/*" must be exactly <owner>/<name>, without wildcards`},
		{githuboidc.Props{Repository: "*"}, `Repository: "*" must be exactly`},
		{githuboidc.Props{Repository: "acme"}, `Repository: "acme" must be exactly`},
		{githuboidc.Props{Repository: "acme/module-registry", DeployRef: "refs/heads/*"}, `DeployRef: "refs/heads/*" must be one branch or tag`},
		{githuboidc.Props{Repository: "acme/module-registry", DeployRef: "main"}, `DeployRef: "main" must be one branch or tag`},
		{githuboidc.Props{Repository: "acme/module-registry", DeployEnvironment: "prod?"}, `DeployEnvironment: "prod?" must be one environment name`},
		{githuboidc.Props{Repository: "acme/module-registry", DeployEnvironment: "prod", DeployRef: "refs/heads/main"},
			`DeployRef: is "refs/heads/main" but DeployEnvironment is "prod"; trust one or the other`},
	} {
		stack := synthtest.NewStack(t)
		githuboidc.New(stack, "GitHub", &tc.props)
		errs := strings.Join(synthtest.ValidationErrors(t, stack), "\n")
		assert.Contains(t, errs, "[test/GitHub] "+tc.want)
	}
}

func TestInvalidPropsListEveryViolation(t *testing.T) {
	stack := synthtest.NewStack(t)
	githuboidc.New(stack, "GitHub", &githuboidc.Props{
		Repository: "acme/module-registry", DeployRoleName: "same", PlanRoleName: "same", MaxSessionSeconds: 7200,
		PermissionsBoundaryArn: "boundary", DeployPolicyArns: []string{"x"}, PlanPolicyArns: []string{"y"},
		ProviderArn: "arn:aws:iam::111122223333:oidc-provider/example.com", State: &githuboidc.State{Key: "prod/*"},
	})
	assert.ElementsMatch(t, []string{
		`[test/GitHub] PlanRoleName: "same" is the deploy role's name too`,
		"[test/GitHub] MaxSessionSeconds: must be between 900 and 3600 (one hour), got 7200",
		`[test/GitHub] PermissionsBoundaryArn: "boundary" is not a managed policy ARN (arn:aws:iam::aws:policy/<name> or arn:aws:iam::<account>:policy/<name>)`,
		`[test/GitHub] DeployPolicyArns: "x" is not a managed policy ARN (arn:aws:iam::aws:policy/<name> or arn:aws:iam::<account>:policy/<name>)`,
		`[test/GitHub] PlanPolicyArns: "y" is not a managed policy ARN (arn:aws:iam::aws:policy/<name> or arn:aws:iam::<account>:policy/<name>)`,
		`[test/GitHub] ProviderArn: "arn:aws:iam::111122223333:oidc-provider/example.com" is not the ARN of an account's OIDC provider for token.actions.githubusercontent.com`,
		"[test/GitHub] State.Bucket: is required with State",
		`[test/GitHub] State.Key: "prod/*" must be one object key without wildcards, e.g. prod/registry.tfstate`,
	}, synthtest.ValidationErrors(t, stack))
}
