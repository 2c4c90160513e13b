package test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/jsii-runtime-go"
	"github.com/hashicorp/terraform-cdk-go/cdktf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/app/config"
	"github.com/acme/module-registry/constructs/accesslogs"
	"github.com/acme/module-registry/constructs/adminaccess"
	"github.com/acme/module-registry/constructs/configrecorder"
	"github.com/acme/module-registry/constructs/encryptionkey"
	"github.com/acme/module-registry/constructs/githuboidc"
	"github.com/acme/module-registry/constructs/removal"
	"github.com/acme/module-registry/constructs/securebucket"
	"github.com/acme/module-registry/test/deploy"
	"github.com/acme/module-registry/test/policy"
)

// The governance constructs deployed together, as the governance stack composes them,
// and checked live: the OIDC provider and the roles' exact trust, AWS Config recording
// and delivering encrypted with every rule, and the MFA-enforcing statement.
func TestGovernanceLive(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const repo = "acme/module-registry"
	d := deploy.Apply(t, "governance", func(stack cdktf.TerraformStack, cfg config.Config) {
		// The buckets' server access logs land here; destroy empties it with the rest.
		accesslogs.New(stack, accesslogs.DefaultID, &accesslogs.Props{RemovalPolicy: removal.Destroy})
		key := encryptionkey.New(stack, "GovernanceKey", &encryptionkey.Props{Alias: "alias/acme-governance-key"})
		state := securebucket.New(stack, "State", &securebucket.Props{BucketName: "acme-tfstate", EncryptionKey: key, RemovalPolicy: removal.Destroy})
		oidc := githuboidc.New(stack, "GitHub", &githuboidc.Props{
			Repository: repo, DeployEnvironment: "prod",
			State: &githuboidc.State{Bucket: state, Key: "prod/registry.tfstate", EncryptionKey: key},
		})
		rec := configrecorder.New(stack, "Config", &configrecorder.Props{EncryptionKey: key, RemovalPolicy: removal.Destroy})
		admins := adminaccess.New(stack, "Administrators", nil)
		deploy.Output(stack, "provider_arn", oidc.ProviderArn())
		deploy.Output(stack, "key_arn", key.KeyArn())
		deploy.Output(stack, "config_bucket", rec.Bucket().BucketName())
		deploy.Output(stack, "topic_arn", rec.TopicArn())
		deploy.Output(stack, "group", admins.GroupName())
		deploy.Output(stack, "recorder", jsii.String(*rec.RecorderName()))
	})
	roles := iam.NewFromConfig(d.AWS)

	t.Run("OIDCRolesTrustExactSubjects", func(t *testing.T) {
		providerArn := d.Output(t, "provider_arn")
		p, err := roles.GetOpenIDConnectProvider(ctx, &iam.GetOpenIDConnectProviderInput{OpenIDConnectProviderArn: aws.String(providerArn)})
		require.NoError(t, err)
		assert.Equal(t, []string{githuboidc.Audience}, p.ClientIDList)
		assert.ElementsMatch(t, githuboidc.Thumbprints, p.ThumbprintList)
		for name, sub := range map[string]string{
			githuboidc.DefaultDeployRoleName: "repo:" + repo + ":environment:prod",
			githuboidc.DefaultPlanRoleName:   "repo:" + repo + ":pull_request",
		} {
			r, err := roles.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(name)})
			require.NoError(t, err)
			assert.EqualValues(t, 3600, aws.ToInt32(r.Role.MaxSessionDuration), name)
			require.NotNil(t, r.Role.PermissionsBoundary, name)
			assert.Equal(t, githuboidc.AdministratorAccess, aws.ToString(r.Role.PermissionsBoundary.PermissionsBoundaryArn))
			trust := parsePolicy(t, aws.ToString(r.Role.AssumeRolePolicyDocument))[githuboidc.TrustSid]
			assert.Equal(t, stringList{"sts:AssumeRoleWithWebIdentity"}, trust.Action)
			assert.Equal(t, map[string]map[string]stringList{"StringEquals": {
				githuboidc.AudienceKey: {githuboidc.Audience},
				githuboidc.SubjectKey:  {sub},
			}}, trust.Condition, "%s: exact audience and subject only", name)
			assert.Equal(t, map[string]any{"Federated": providerArn}, trust.Principal)
		}
	})

	t.Run("ConfigRecordsAndDeliversEncrypted", func(t *testing.T) {
		recorders := configCall(t, d, "DescribeConfigurationRecorders", `{}`)
		rec := recorders["ConfigurationRecorders"].([]any)[0].(map[string]any)
		assert.Equal(t, configrecorder.DefaultRecorderName, rec["name"])
		group := rec["recordingGroup"].(map[string]any)
		assert.Equal(t, true, group["allSupported"])
		assert.Equal(t, true, group["includeGlobalResourceTypes"])
		status := configCall(t, d, "DescribeConfigurationRecorderStatus", `{}`)["ConfigurationRecordersStatus"].([]any)[0].(map[string]any)
		assert.Equal(t, true, status["recording"], "the recorder is started")
		ch := configCall(t, d, "DescribeDeliveryChannels", `{}`)["DeliveryChannels"].([]any)[0].(map[string]any)
		assert.Equal(t, d.Output(t, "config_bucket"), ch["s3BucketName"])
		assert.Equal(t, d.Output(t, "key_arn"), ch["s3KmsKeyArn"])
		assert.Equal(t, d.Output(t, "topic_arn"), ch["snsTopicARN"])
		var live []string
		for _, r := range configCall(t, d, "DescribeConfigRules", `{}`)["ConfigRules"].([]any) {
			m := r.(map[string]any)
			live = append(live, m["ConfigRuleName"].(string))
			assert.Equal(t, "AWS", m["Source"].(map[string]any)["Owner"])
		}
		var want []string
		for _, r := range configrecorder.ManagedRules {
			want = append(want, r.Name)
		}
		assert.ElementsMatch(t, want, live)

		s3c, err := d.Emulator.S3Client(ctx)
		require.NoError(t, err)
		enc, err := s3c.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: aws.String(d.Output(t, "config_bucket"))})
		require.NoError(t, err)
		rule := enc.ServerSideEncryptionConfiguration.Rules[0].ApplyServerSideEncryptionByDefault
		assert.Equal(t, "aws:kms", string(rule.SSEAlgorithm))
		assert.Equal(t, d.Output(t, "key_arn"), aws.ToString(rule.KMSMasterKeyID))
	})

	t.Run("AdministratorsNeedMFA", func(t *testing.T) {
		group := d.Output(t, "group")
		names, err := roles.ListGroupPolicies(ctx, &iam.ListGroupPoliciesInput{GroupName: aws.String(group)})
		require.NoError(t, err)
		require.Len(t, names.PolicyNames, 1)
		gp, err := roles.GetGroupPolicy(ctx, &iam.GetGroupPolicyInput{GroupName: aws.String(group), PolicyName: aws.String(names.PolicyNames[0])})
		require.NoError(t, err)
		raw, err := url.QueryUnescape(aws.ToString(gp.PolicyDocument))
		require.NoError(t, err)
		var doc struct{ Statement []map[string]any }
		require.NoError(t, json.Unmarshal([]byte(raw), &doc))
		i := slices.IndexFunc(doc.Statement, func(s map[string]any) bool { return s["Sid"] == adminaccess.BlockUnlessSignedInWithMFA })
		require.GreaterOrEqual(t, i, 0, "the MFA-enforcing statement is deployed: %s", raw)
		block := doc.Statement[i]
		assert.Equal(t, "Deny", block["Effect"])
		assert.ElementsMatch(t, adminaccess.SelfServiceActions, block["NotAction"])
		assert.Equal(t, map[string]any{"BoolIfExists": map[string]any{"aws:MultiFactorAuthPresent": "false"}}, block["Condition"])
		assert.Contains(t, raw, "${aws:username}", "the policy variable reached IAM as AWS writes it")
		attached, err := roles.ListAttachedGroupPolicies(ctx, &iam.ListAttachedGroupPoliciesInput{GroupName: aws.String(group)})
		require.NoError(t, err)
		require.Len(t, attached.AttachedPolicies, 1)
		assert.Equal(t, adminaccess.AdministratorAccess, aws.ToString(attached.AttachedPolicies[0].PolicyArn))

		// Evaluated: a member's rights are the group's policies as deployed. Without MFA
		// (false, or absent as with access keys) an admin action is denied by the
		// blocking statement and only MFA self-service is left; with MFA it is allowed.
		managed, err := roles.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(adminaccess.AdministratorAccess)})
		require.NoError(t, err)
		version, err := roles.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: managed.Policy.Arn, VersionId: managed.Policy.DefaultVersionId})
		require.NoError(t, err)
		managedDoc, err := url.QueryUnescape(aws.ToString(version.PolicyVersion.Document))
		require.NoError(t, err)
		account := d.Config.AccountID
		member := "arn:aws:iam::" + account + ":user/alice"
		pol := policy.Policies{Identity: map[string][]policy.NamedPolicy{member: {
			{Name: names.PolicyNames[0], Policy: policy.Document(raw)},
			{Name: "AdministratorAccess", Policy: policy.Document(managedDoc)},
		}}}
		mfa := func(present ...string) map[string][]string {
			c := map[string][]string{"aws:username": {"alice"}}
			if len(present) > 0 {
				c[adminaccess.MFAPresentKey] = present
			}
			return c
		}
		table := "arn:aws:dynamodb:" + d.Config.Region + ":" + account + ":table/acme-registry-users"
		ownMFA := "arn:aws:iam::" + account + ":mfa/alice"
		calls := []policy.Call{
			{Principal: member, Action: "dynamodb:DeleteTable", Resource: table, Context: mfa("false"), Why: "admin action, signed in without MFA"},
			{Principal: member, Action: "dynamodb:DeleteTable", Resource: table, Context: mfa(), Why: "admin action with access keys (no MFA key)"},
			{Principal: member, Action: "dynamodb:DeleteTable", Resource: table, Context: mfa("true"), Why: "admin action, signed in with MFA"},
			{Principal: member, Action: "iam:CreateVirtualMFADevice", Resource: ownMFA, Context: mfa("false"), Why: "setting up MFA before having it"},
			{Principal: member, Action: "iam:DeactivateMFADevice", Resource: member, Context: mfa("false"), Why: "removing MFA without MFA"},
		}
		want := []string{"ExplicitlyDenied", "ExplicitlyDenied", "Allowed", "Allowed", "ExplicitlyDenied"}
		decisions, err := policy.Evaluate(pol, account, calls)
		require.NoError(t, err)
		for i, dec := range decisions {
			assert.Equal(t, want[i], dec.Result, "%s: %s", dec.Call.Why, dec.Decided())
			if want[i] == "ExplicitlyDenied" && dec.Result == want[i] {
				assert.Contains(t, dec.Decided(), adminaccess.BlockUnlessSignedInWithMFA, "%s: denied by the blocking statement", dec.Call.Why)
			}
		}
	})
	assert.True(t, d.PlanIsEmpty(t), "no drift after apply")

	d.AfterDestroy(func(t *testing.T) {
		_, err := roles.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(githuboidc.DefaultDeployRoleName)})
		assert.Error(t, err, "deploy role gone")
		assert.Empty(t, configCall(t, d, "DescribeConfigurationRecorders", `{}`)["ConfigurationRecorders"], "recorder gone")
	})
}

// configCall sends one AWS Config JSON call to the emulator (the Go SDK's Config client
// is not a dependency; the emulator does not check signatures).
func configCall(t *testing.T, d *deploy.Deployment, action, body string) map[string]any {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, d.Emulator.Endpoint(), bytes.NewBufferString(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "StarlingDoveService."+action)
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=test/20260101/"+d.Config.Region+"/config/aws4_request, SignedHeaders=host, Signature=0")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", action, b)
	out := map[string]any{}
	require.NoError(t, json.Unmarshal(b, &out))
	return out
}
