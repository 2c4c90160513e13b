package compliance_test

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/constructs/compliance"
)

func resources(tree map[string]any, typ string) map[string]any {
	return tree["resource"].(map[string]any)[typ].(map[string]any)
}

func document(tree map[string]any, name string) map[string]any {
	return tree["data"].(map[string]any)["aws_iam_policy_document"].(map[string]any)[name].(map[string]any)
}

// fsbpCases break one FSBP control each in the compliant stack; the case's control is
// its name (a suffix tells variants apart).
var fsbpCases = []struct {
	control, rule, addr string
	breakIt             func(tree map[string]any)
}{
	{"S3.1", compliance.RuleS3AccountPublicAccess, "aws_s3_account_public_access_block.account", func(tr map[string]any) {
		res(tr, "aws_s3_account_public_access_block", "account")["block_public_policy"] = false
	}},
	{"S3.9", compliance.RuleS3AccessLogging, "aws_s3_bucket.b", func(tr map[string]any) {
		delete(resources(tr, "aws_s3_bucket_logging"), "b")
		resources(tr, "aws_s3_bucket_logging")["other"] = map[string]any{"bucket": "other", "target_bucket": "${aws_s3_bucket.logs.bucket}"}
		delete(tr["resource"].(map[string]any), "aws_cloudtrail") // whose bucket is b: CloudTrail.7 would fire too
	}},
	{"S3.9 into itself", compliance.RuleS3AccessLogging, "aws_s3_bucket.b", func(tr map[string]any) {
		resources(tr, "aws_s3_bucket_logging")["self"] = map[string]any{"bucket": "${aws_s3_bucket.b.id}", "target_bucket": "${aws_s3_bucket.b.bucket}"}
		// b is now a log target itself, so its SSE-KMS is still fine and only the loop fires.
	}},
	{"S3.11", compliance.RuleS3EventNotifications, "aws_s3_bucket.b", func(tr map[string]any) {
		res(tr, "aws_s3_bucket_notification", "b")["eventbridge"] = false
	}},
	{"S3.13", compliance.RuleS3Lifecycle, "aws_s3_bucket.b", func(tr map[string]any) {
		res(tr, "aws_s3_bucket_lifecycle_configuration", "b")["rule"] = []any{map[string]any{"id": "abort", "status": "Disabled"}}
	}},
	{"S3.17 SSE-S3 outside a log target", compliance.RuleS3KMS, "aws_s3_bucket.b", func(tr map[string]any) {
		res(tr, "aws_s3_bucket_server_side_encryption_configuration", "b")["rule"] = []any{
			map[string]any{"apply_server_side_encryption_by_default": map[string]any{"sse_algorithm": "AES256"}}}
	}},
	{"S3.17 log target without encryption", compliance.RuleS3KMS, "aws_s3_bucket.logs", func(tr map[string]any) {
		delete(resources(tr, "aws_s3_bucket_server_side_encryption_configuration"), "logs")
	}},
	{"CloudTrail.1", compliance.RuleCloudTrailMultiRegion, "aws_cloudtrail.trail", func(tr map[string]any) {
		res(tr, "aws_cloudtrail", "trail")["is_multi_region_trail"] = false
	}},
	{"CloudTrail.1 write events only", compliance.RuleCloudTrailMultiRegion, "aws_cloudtrail.trail", func(tr map[string]any) {
		res(tr, "aws_cloudtrail", "trail")["advanced_event_selector"] = []any{map[string]any{"field_selector": []any{
			map[string]any{"field": "eventCategory", "equals": []any{"Management"}},
			map[string]any{"field": "readOnly", "equals": []any{"false"}}}}}
	}},
	{"CloudTrail.1 basic selector", compliance.RuleCloudTrailMultiRegion, "aws_cloudtrail.trail", func(tr map[string]any) {
		delete(res(tr, "aws_cloudtrail", "trail"), "advanced_event_selector")
		res(tr, "aws_cloudtrail", "trail")["event_selector"] = []any{map[string]any{"read_write_type": "WriteOnly"}}
	}},
	{"CloudTrail.2", compliance.RuleCloudTrailKMS, "aws_cloudtrail.trail", func(tr map[string]any) {
		delete(res(tr, "aws_cloudtrail", "trail"), "kms_key_id")
	}},
	{"CloudTrail.4", compliance.RuleCloudTrailLogValidation, "aws_cloudtrail.trail", func(tr map[string]any) {
		res(tr, "aws_cloudtrail", "trail")["enable_log_file_validation"] = false
	}},
	{"CloudTrail.5", compliance.RuleCloudTrailCloudWatchLogs, "aws_cloudtrail.trail", func(tr map[string]any) {
		delete(res(tr, "aws_cloudtrail", "trail"), "cloud_watch_logs_group_arn")
	}},
	{"CloudTrail.7", compliance.RuleCloudTrailBucketLogged, "aws_cloudtrail.trail", func(tr map[string]any) {
		res(tr, "aws_cloudtrail", "trail")["s3_bucket_name"] = "${aws_s3_bucket.logs.bucket}"
	}},
	{"KMS.1", compliance.RuleKMSNoDecryptAllKeys, "data.aws_iam_policy_document.pull statement 2", func(tr map[string]any) {
		document(tr, "pull")["statement"].([]any)[2].(map[string]any)["resources"] = []any{"arn:aws:kms:us-east-1:111122223333:key/*"}
	}},
	{"KMS.2 literal policy", compliance.RuleKMSNoDecryptAllKeys, "aws_iam_role_policy.inline statement 0", func(tr map[string]any) {
		resources(tr, "aws_iam_role_policy")["inline"] = map[string]any{
			"policy": `{"Statement":[{"Effect":"Allow","Action":"kms:ReEncryptFrom","Resource":"arn:aws:kms:us-east-1:111122223333:alias/*"}]}`}
	}},
	{"KMS.4", compliance.RuleKMSRotation, "aws_kms_key.key", func(tr map[string]any) {
		delete(res(tr, "aws_kms_key", "key"), "enable_key_rotation")
	}},
	{"DynamoDB.1", compliance.RuleDynamoDBScaling, "aws_dynamodb_table.t", func(tr map[string]any) {
		res(tr, "aws_dynamodb_table", "t")["billing_mode"] = "PROVISIONED"
		resources(tr, "aws_dynamodb_table")["t"].(map[string]any)["read_capacity"] = 5
		tr["resource"].(map[string]any)["aws_appautoscaling_target"] = map[string]any{"read": map[string]any{
			"resource_id": "table/t", "scalable_dimension": "dynamodb:table:ReadCapacityUnits", "service_namespace": "dynamodb"}}
	}},
	{"DynamoDB.2", compliance.RuleDynamoDBPITR, "aws_dynamodb_table.t", func(tr map[string]any) {
		res(tr, "aws_dynamodb_table", "t")["point_in_time_recovery"] = map[string]any{"enabled": false}
	}},
	{"DynamoDB.6", compliance.RuleDynamoDBDeletionProtection, "aws_dynamodb_table.t", func(tr map[string]any) {
		res(tr, "aws_dynamodb_table", "t")["deletion_protection_enabled"] = false
	}},
	{"ECS.4", compliance.RuleContainerNotPrivileged, "aws_ecs_task_definition.td container app", func(tr map[string]any) {
		res(tr, "aws_ecs_task_definition", "td")["container_definitions"] = `[{"name":"app","image":"${terraform_data.push.output}","user":"65532","readonlyRootFilesystem":true,"privileged":true,"logConfiguration":{"logDriver":"awslogs"}}]`
	}},
	{"ECS.8", compliance.RuleContainerNoSecretEnv, "aws_ecs_task_definition.td container app", func(tr map[string]any) {
		res(tr, "aws_ecs_task_definition", "td")["container_definitions"] = `[{"name":"app","image":"${terraform_data.push.output}","user":"65532","readonlyRootFilesystem":true,"environment":[{"name":"AWS_SECRET_ACCESS_KEY","value":"x"}],"logConfiguration":{"logDriver":"awslogs"}}]`
	}},
	{"ECS.9", compliance.RuleContainerLogging, "aws_ecs_task_definition.td container app", func(tr map[string]any) {
		res(tr, "aws_ecs_task_definition", "td")["container_definitions"] = `[{"name":"app","image":"${terraform_data.push.output}","user":"65532","readonlyRootFilesystem":true}]`
	}},
	{"ECS.10", compliance.RuleServiceLatestPlatform, "aws_ecs_service.svc", func(tr map[string]any) {
		res(tr, "aws_ecs_service", "svc")["platform_version"] = "1.3.0"
	}},
	{"ECS.12", compliance.RuleClusterContainerInsight, "aws_ecs_cluster.cluster", func(tr map[string]any) {
		res(tr, "aws_ecs_cluster", "cluster")["setting"] = []any{map[string]any{"name": "containerInsights", "value": "disabled"}}
	}},
	{"ELB.1", compliance.RuleELBRedirectHTTP, "aws_lb_listener.http", func(tr map[string]any) {
		res(tr, "aws_lb_listener", "http")["default_action"] = []any{map[string]any{"type": "forward", "target_group_arn": "${aws_lb_target_group.tg.arn}"}}
	}},
	{"ELB.4", compliance.RuleELBDropInvalidHeaders, "aws_lb.alb", func(tr map[string]any) {
		delete(res(tr, "aws_lb", "alb"), "drop_invalid_header_fields")
	}},
	{"ELB.5", compliance.RuleELBAccessLogs, "aws_lb.alb", func(tr map[string]any) {
		res(tr, "aws_lb", "alb")["access_logs"] = map[string]any{"bucket": "${aws_s3_bucket.logs.bucket}", "enabled": false}
	}},
	{"ELB.6", compliance.RuleELBDeletionProtection, "aws_lb.alb", func(tr map[string]any) {
		res(tr, "aws_lb", "alb")["enable_deletion_protection"] = false
	}},
	{"ELB.12", compliance.RuleELBDesyncMitigation, "aws_lb.alb", func(tr map[string]any) {
		res(tr, "aws_lb", "alb")["desync_mitigation_mode"] = "monitor"
	}},
	{"ELB.13", compliance.RuleELBMultiAZ, "aws_lb.alb", func(tr map[string]any) {
		res(tr, "aws_lb", "alb")["subnets"] = []any{"${aws_subnet.a.id}"}
	}},
	{"ELB.16", compliance.RuleELBWebACL, "aws_lb.alb", func(tr map[string]any) {
		delete(tr["resource"].(map[string]any), "aws_wafv2_web_acl_association")
	}},
	{"ELB.17", compliance.RuleELBRecommendedTLSPolicy, "aws_lb_listener.https", func(tr map[string]any) {
		res(tr, "aws_lb_listener", "https")["ssl_policy"] = "ELBSecurityPolicy-TLS-1-2-2017-01"
	}},
	{"ELB.17 default policy", compliance.RuleELBRecommendedTLSPolicy, "aws_lb_listener.https", func(tr map[string]any) {
		delete(res(tr, "aws_lb_listener", "https"), "ssl_policy")
	}},
	{"WAF.10", compliance.RuleWAFHasRules, "aws_wafv2_web_acl.acl", func(tr map[string]any) {
		delete(res(tr, "aws_wafv2_web_acl", "acl"), "rule")
	}},
	{"WAF.11", compliance.RuleWAFLogging, "aws_wafv2_web_acl.acl", func(tr map[string]any) {
		delete(tr["resource"].(map[string]any), "aws_wafv2_web_acl_logging_configuration")
	}},
	{"WAF.12", compliance.RuleWAFRuleMetrics, "aws_wafv2_web_acl.acl", func(tr map[string]any) {
		rule := res(tr, "aws_wafv2_web_acl", "acl")["rule"].([]any)[0].(map[string]any)
		rule["visibility_config"].(map[string]any)["cloudwatch_metrics_enabled"] = false
	}},
	{"WAF.12 web ACL", compliance.RuleWAFRuleMetrics, "aws_wafv2_web_acl.acl", func(tr map[string]any) {
		res(tr, "aws_wafv2_web_acl", "acl")["visibility_config"].(map[string]any)["cloudwatch_metrics_enabled"] = false
	}},
	{"EC2.2", compliance.RuleEC2DefaultSecurityGroupClosed, "aws_vpc.vpc", func(tr map[string]any) {
		res(tr, "aws_default_security_group", "vpc")["egress"] = []any{map[string]any{"protocol": "-1", "from_port": 0, "to_port": 0, "cidr_blocks": []any{"0.0.0.0/0"}}}
	}},
	{"EC2.2 unmanaged", compliance.RuleEC2DefaultSecurityGroupClosed, "aws_vpc.vpc", func(tr map[string]any) {
		delete(tr["resource"].(map[string]any), "aws_default_security_group")
	}},
	{"EC2.6", compliance.RuleEC2FlowLogs, "aws_vpc.vpc", func(tr map[string]any) {
		res(tr, "aws_flow_log", "vpc")["traffic_type"] = "ACCEPT"
	}},
	{"ECR.1", compliance.RuleECRScanOnPush, "aws_ecr_repository.repo", func(tr map[string]any) {
		res(tr, "aws_ecr_repository", "repo")["image_scanning_configuration"] = map[string]any{"scan_on_push": false}
	}},
	{"ECR.2", compliance.RuleECRImmutableTags, "aws_ecr_repository.repo", func(tr map[string]any) {
		res(tr, "aws_ecr_repository", "repo")["image_tag_mutability"] = "MUTABLE"
	}},
	{"ECR.3", compliance.RuleECRLifecyclePolicy, "aws_ecr_repository.repo", func(tr map[string]any) {
		res(tr, "aws_ecr_lifecycle_policy", "repo")["repository"] = "another-repository"
	}},
}

func TestEachFSBPRuleFires(t *testing.T) {
	for _, tc := range fsbpCases {
		t.Run(tc.control, func(t *testing.T) {
			tree := compliant(t)
			tc.breakIt(tree)
			assert.Equal(t, []string{tc.addr + " " + tc.rule}, check(t, tree, compliance.Options{}))
			control, _, _ := strings.Cut(tc.control, " ")
			assert.Contains(t, compliance.Controls(tc.rule), control, "rule %s carries its control", tc.rule)
		})
	}
}

// A wildcard action on every key breaks the IAM rules and KMS.1/KMS.2 alike.
func TestWildcardDecryptOnAllKeys(t *testing.T) {
	tree := compliant(t)
	resources(tree, "aws_iam_role_policy")["inline"] = map[string]any{
		"policy": `{"Statement":[{"Effect":"Allow","Action":"kms:Re*","Resource":"*"}]}`}
	assert.ElementsMatch(t, []string{
		"aws_iam_role_policy.inline.policy statement 0 " + compliance.RuleWildcardAction,
		"aws_iam_role_policy.inline.policy statement 0 " + compliance.RuleWildcardResource,
		"aws_iam_role_policy.inline statement 0 " + compliance.RuleKMSNoDecryptAllKeys,
	}, check(t, tree, compliance.Options{}))
}

// Every violation of a rule that implements FSBP controls names them.
func TestViolationsNameTheirControls(t *testing.T) {
	tree := compliant(t)
	res(tree, "aws_kms_key", "key")["enable_key_rotation"] = false
	b, err := json.Marshal(tree)
	require.NoError(t, err)
	v, err := compliance.Check(b, compliance.Options{})
	require.NoError(t, err)
	require.Len(t, v, 1)
	assert.Equal(t, "aws_kms_key.key: kms-key-rotation: enable_key_rotation is not true (FSBP KMS.4)", v[0].String())
}

// The two exceptions to the bucket rules hold only for what they name: a bucket that
// receives access logs may use SSE-S3 and need not log its own access; any other bucket
// may not, and a log target may not go unencrypted.
func TestAccessLogTargetExceptions(t *testing.T) {
	assert.Equal(t, compliance.RuleS3KMS, compliance.AccessLogTargetEncryption.Rule)
	assert.Equal(t, compliance.RuleS3AccessLogging, compliance.AccessLogTargetLogging.Rule)
	assert.NotEmpty(t, compliance.AccessLogTargetEncryption.Why)
	assert.NotEmpty(t, compliance.AccessLogTargetLogging.Why)

	tree := compliant(t)
	// The log bucket of the load balancer alone (no bucket logs into it) is still a log
	// target: SSE-S3 and no logging of its own pass.
	delete(resources(tree, "aws_s3_bucket_logging"), "b")
	assert.ElementsMatch(t, []string{
		"aws_s3_bucket.b " + compliance.RuleS3AccessLogging, "aws_cloudtrail.trail " + compliance.RuleCloudTrailBucketLogged,
	}, check(t, tree, compliance.Options{}))
	// Once nothing logs into it, it is a bucket like any other.
	delete(res(tree, "aws_lb", "alb"), "access_logs")
	assert.ElementsMatch(t, []string{
		"aws_s3_bucket.b " + compliance.RuleS3AccessLogging, "aws_cloudtrail.trail " + compliance.RuleCloudTrailBucketLogged,
		"aws_s3_bucket.logs " + compliance.RuleS3AccessLogging, "aws_s3_bucket.logs " + compliance.RuleS3KMS,
		"aws_lb.alb " + compliance.RuleELBAccessLogs,
	}, check(t, tree, compliance.Options{}))
}

// The README's FSBP table lists every control the aspect implements, each row naming a
// rule that carries the control and tests that exist in the files it names.
func TestReadmeControlTableIsCurrent(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	rows := regexp.MustCompile("(?m)^\\| ([A-Za-z0-9]+\\.[0-9]+) \\| (.*) \\| (.*) \\| (.*) \\|$").FindAllStringSubmatch(string(readme), -1)
	require.NotEmpty(t, rows, "README.md has no FSBP table rows")
	code := regexp.MustCompile("`([^`]+)`")
	test := regexp.MustCompile("^([a-z0-9/_.]+_test\\.go) (Test[A-Za-z0-9_]+|Example[A-Za-z0-9_]*)(/.*)?$")
	listed := map[string]bool{}
	for _, row := range rows {
		control, rulesCell, testsCell := row[1], row[2], row[4]
		listed[control] = true
		for _, m := range code.FindAllStringSubmatch(rulesCell, -1) {
			if strings.Contains(m[1], ".") {
				continue // a named exception or waiver (rule names have no dots)
			}
			assert.Contains(t, compliance.Controls(m[1]), control, "README row %s names rule %s, which does not carry it", control, m[1])
		}
		for _, m := range code.FindAllStringSubmatch(testsCell, -1) {
			parts := test.FindStringSubmatch(m[1])
			if !assert.NotNil(t, parts, "README row %s: %q is not `<file>_test.go <TestName>`", control, m[1]) {
				continue
			}
			src, err := os.ReadFile("../../" + parts[1])
			if assert.NoError(t, err, "README row %s", control) {
				assert.Contains(t, string(src), "func "+parts[2]+"(", "README row %s: %s has no %s", control, parts[1], parts[2])
			}
		}
	}
	var missing []string
	for control := range compliance.ControlRules() {
		if !listed[control] {
			missing = append(missing, control)
		}
	}
	sort.Strings(missing)
	assert.Empty(t, missing, "controls the aspect implements but the README table does not list")
}

// Every control a rule carries is broken once by TestEachFSBPRuleFires (or, for the
// rules older than it, by TestEachRuleFires and the IAM tests).
func TestEveryControlHasAFiringCase(t *testing.T) {
	fired := map[string]bool{}
	for _, tc := range fsbpCases {
		control, _, _ := strings.Cut(tc.control, " ")
		fired[control] = true
	}
	older := []string{"S3.5", "S3.8", "S3.12", "S3.14", "S3.17", "ECS.2", "ECS.5", "IAM.1", "IAM.21", "IAM.2", "IAM.3"}
	for control := range compliance.ControlRules() {
		assert.True(t, fired[control] || slices.Contains(older, control), "no case breaks %s", control)
	}
}
