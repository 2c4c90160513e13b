package fargateservice_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/constructs/accesslogs"
	"github.com/acme/module-registry/constructs/encryptionkey"
	"github.com/acme/module-registry/constructs/fargateservice"
	"github.com/acme/module-registry/constructs/iampolicy"
	"github.com/acme/module-registry/constructs/internal/synthtest"
)

// keyUse returns the key policy statement letting CloudWatch Logs use the key for the
// log group whose ARN ends with groupSuffix.
func keyUse(key *encryptionkey.Key, groupSuffix string) *iampolicy.Statement {
	for _, st := range key.PolicyStatements() {
		if len(st.Conditions) == 1 && st.Conditions[0].Variable == "kms:EncryptionContext:aws:logs:arn" &&
			strings.HasSuffix(st.Conditions[0].Values[0], groupSuffix) {
			return &st
		}
	}
	return nil
}

// The load balancer logs into the stack's access-log bucket under its own prefix, once
// that bucket lets Elastic Load Balancing write there.
func TestLoadBalancerAccessLogs(t *testing.T) {
	r, _ := synth(t, nil)
	alb := r.Resource(t, "aws_lb")
	assert.Equal(t, map[string]any{
		"bucket": "${aws_s3_bucket." + onlyKey(t, r.Resources("aws_s3_bucket")) + ".bucket}", "prefix": "alb/acme-registry", "enabled": true,
	}, alb["access_logs"])
	assert.Equal(t, []any{"aws_s3_bucket_policy." + onlyKey(t, r.Resources("aws_s3_bucket_policy"))}, alb["depends_on"])
	st := synthtest.BySid(r.PolicyStatements(t, r.Resource(t, "aws_s3_bucket_policy")["policy"]))
	require.Contains(t, st, accesslogs.LoadBalancerLogsSidPrefix+"TestSvc")
	assert.Contains(t, synthtest.Strings(st[accesslogs.LoadBalancerLogsSidPrefix+"TestSvc"]["resources"])[0], "/alb/acme-registry/AWSLogs/")

	f := newFixture(t)
	p := baseProps(f.key)
	p.AccessLogs = accesslogs.New(f.stack, "SharedLogs", &accesslogs.Props{BucketName: "team-b-access-logs"})
	fargateservice.New(f.stack, "Svc", p)
	r = synthtest.Synth(t, f.stack)
	assert.Len(t, r.Resources("aws_s3_bucket"), 1, "only the given bucket")
	assert.Regexp(t, `^\$\{aws_s3_bucket\.SharedLogs_`, r.Resource(t, "aws_lb")["access_logs"].(map[string]any)["bucket"])
}

// The web ACL logs to aws-waf-logs-<name>, under the project key and with retention,
// through a resource policy letting only this account's log deliveries write, and
// without the credential headers.
func TestWebACLLogging(t *testing.T) {
	var key *encryptionkey.Key
	r, _ := synth(t, func(f fixture, p *fargateservice.Props) { key = f.key })
	groups := rules(r, "aws_cloudwatch_log_group")
	group := groups["Svc_WafLogGroup"]
	require.NotNil(t, group, "%v", groups)
	assert.Equal(t, "aws-waf-logs-acme-registry", group["name"])
	assert.Equal(t, 90.0, group["retention_in_days"])
	assert.Regexp(t, `^\$\{aws_kms_key\.Key_[^.]+\.arn\}$`, group["kms_key_id"])
	require.NotNil(t, keyUse(key, ":log-group:aws-waf-logs-acme-registry"), "the key policy lets CloudWatch Logs use the key for this group")

	logging := r.Resource(t, "aws_wafv2_web_acl_logging_configuration")
	assert.Regexp(t, `^\$\{aws_wafv2_web_acl\.`, logging["resource_arn"])
	assert.Equal(t, []any{"${aws_cloudwatch_log_group." + groupKey(r, "Svc_WafLogGroup") + ".arn}"}, logging["log_destination_configs"])
	var redacted []string
	for _, f := range logging["redacted_fields"].([]any) {
		redacted = append(redacted, f.(map[string]any)["single_header"].(map[string]any)["name"].(string))
	}
	assert.Equal(t, fargateservice.DefaultRedactedLogHeaders, redacted)
	assert.Contains(t, redacted, "x-authorization", "the registry's tokens never reach the logs")

	delivery := r.Resource(t, "aws_cloudwatch_log_resource_policy")
	assert.Equal(t, []any{"aws_cloudwatch_log_resource_policy." + onlyKey(t, r.Resources("aws_cloudwatch_log_resource_policy"))}, logging["depends_on"])
	st := r.PolicyStatements(t, delivery["policy_document"])
	require.Len(t, st, 1)
	assert.Equal(t, fargateservice.WAFLogDeliverySid, st[0]["sid"])
	assert.Equal(t, []any{map[string]any{"type": "Service", "identifiers": []any{"delivery.logs.amazonaws.com"}}}, st[0]["principals"])
	assert.Equal(t, []string{"logs:CreateLogStream", "logs:PutLogEvents"}, synthtest.Strings(st[0]["actions"]))
	assert.Regexp(t, `:log-group:aws-waf-logs-acme-registry:log-stream:\*$`, synthtest.Strings(st[0]["resources"])[0])
	c := synthtest.Conditions(st[0])
	assert.Len(t, c["StringEquals aws:SourceAccount"], 1)
	assert.Regexp(t, `^arn:\$\{[^}]+\}:logs:\$\{[^}]+\}:\$\{[^}]+\}:\*$`, c["ArnLike aws:SourceArn"][0])

	r, _ = synth(t, func(f fixture, p *fargateservice.Props) { p.RedactedLogHeaders = []string{} })
	assert.Empty(t, r.Resource(t, "aws_wafv2_web_acl_logging_configuration")["redacted_fields"], "an empty list redacts nothing")
}

// The new VPC records every flow in a log group under the project key, through a role
// only VPC Flow Logs of this account may assume, allowed to write to that group only.
func TestFlowLogs(t *testing.T) {
	var key *encryptionkey.Key
	r, svc := synth(t, func(f fixture, p *fargateservice.Props) { key = f.key })
	flow := r.Resource(t, "aws_flow_log")
	assert.Regexp(t, `^\$\{aws_vpc\.`, flow["vpc_id"])
	assert.Equal(t, "ALL", flow["traffic_type"])
	assert.Equal(t, "cloud-watch-logs", flow["log_destination_type"])
	assert.Equal(t, "${aws_cloudwatch_log_group."+groupKey(r, "Svc_FlowLogGroup")+".arn}", flow["log_destination"])
	assert.Regexp(t, `^\$\{aws_iam_role\.Svc_FlowLogRole_`, flow["iam_role_arn"])
	group := rules(r, "aws_cloudwatch_log_group")["Svc_FlowLogGroup"]
	assert.Equal(t, "/vpc/flow-logs/acme-registry", group["name"])
	assert.Equal(t, 90.0, group["retention_in_days"])
	assert.Regexp(t, `^\$\{aws_kms_key\.Key_[^.]+\.arn\}$`, group["kms_key_id"])
	require.NotNil(t, keyUse(key, ":log-group:/vpc/flow-logs/acme-registry"))
	require.NotNil(t, svc.FlowLogID())

	role := rules(r, "aws_iam_role")["Svc_FlowLogRole"]
	assert.Equal(t, "acme-registry-flow-logs", role["name"])
	trust := r.PolicyStatements(t, role["assume_role_policy"])
	require.Len(t, trust, 1)
	assert.Equal(t, []any{map[string]any{"type": "Service", "identifiers": []any{"vpc-flow-logs.amazonaws.com"}}}, trust[0]["principals"])
	c := synthtest.Conditions(trust[0])
	assert.Len(t, c["StringEquals aws:SourceAccount"], 1)
	assert.Regexp(t, `:ec2:\$\{[^}]+\}:\$\{[^}]+\}:vpc-flow-log/\*$`, c["ArnLike aws:SourceArn"][0])

	st := synthtest.BySid(flowLogStatements(t, r))
	require.Len(t, st, 2, "%v", st)
	assert.Equal(t, []string{"logs:CreateLogStream", "logs:PutLogEvents"}, synthtest.Strings(st[fargateservice.WriteFlowLogsSid]["actions"]))
	assert.Regexp(t, `:log-group:/vpc/flow-logs/acme-registry:log-stream:\*$`, synthtest.Strings(st[fargateservice.WriteFlowLogsSid]["resources"])[0])
	assert.Equal(t, []string{"logs:DescribeLogStreams"}, synthtest.Strings(st[fargateservice.DescribeFlowLogsSid]["actions"]))
	assert.Regexp(t, `:log-group:/vpc/flow-logs/acme-registry:\*$`, synthtest.Strings(st[fargateservice.DescribeFlowLogsSid]["resources"])[0])
}

// The new VPC's default security group is managed, with explicitly no rules.
func TestDefaultSecurityGroupHasNoRules(t *testing.T) {
	r, svc := synth(t, nil)
	sg := r.Resource(t, "aws_default_security_group")
	assert.Regexp(t, `^\$\{aws_vpc\.`, sg["vpc_id"])
	assert.Equal(t, []any{}, sg["ingress"])
	assert.Equal(t, []any{}, sg["egress"])
	require.NotNil(t, svc.DefaultSecurityGroupID())
}

// An existing VPC is not this construct's: no flow log and no default group are added.
func TestExistingVpcGetsNoFlowLogOrDefaultGroup(t *testing.T) {
	r, svc := synth(t, func(f fixture, p *fargateservice.Props) {
		p.ExistingVpc = &fargateservice.ExistingVpc{VpcID: "vpc-0123456789abcdef0",
			PrivateSubnetIDs: []string{"subnet-0123456789abcdef0", "subnet-0123456789abcdef1"}}
	})
	assert.Empty(t, r.Resources("aws_flow_log"))
	assert.Empty(t, r.Resources("aws_default_security_group"))
	assert.Nil(t, svc.FlowLogID())
	assert.Nil(t, svc.DefaultSecurityGroupID())
}

func flowLogStatements(t *testing.T, r *synthtest.Result) []map[string]any {
	t.Helper()
	for name, p := range r.Resources("aws_iam_role_policy") {
		if strings.HasPrefix(name, "Svc_FlowLogDelivery") {
			return r.PolicyStatements(t, p["policy"])
		}
	}
	t.Fatal("no flow log delivery policy")
	return nil
}

func groupKey(r *synthtest.Result, prefix string) string {
	for name := range r.Resources("aws_cloudwatch_log_group") {
		if strings.HasPrefix(name, prefix+"_") {
			return name
		}
	}
	return ""
}

func onlyKey(t *testing.T, m map[string]map[string]any) string {
	t.Helper()
	require.Len(t, m, 1)
	for k := range m {
		return k
	}
	return ""
}
