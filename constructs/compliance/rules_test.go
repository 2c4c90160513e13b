package compliance_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/constructs/compliance"
)

// compliant loads a stack that holds every invariant; each rule test breaks one thing.
func compliant(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile("testdata/compliant.json")
	require.NoError(t, err)
	var tree map[string]any
	require.NoError(t, json.Unmarshal(b, &tree))
	return tree
}

func res(tree map[string]any, typ, name string) map[string]any {
	return tree["resource"].(map[string]any)[typ].(map[string]any)[name].(map[string]any)
}

func check(t *testing.T, tree map[string]any, opts compliance.Options) []string {
	t.Helper()
	b, err := json.Marshal(tree)
	require.NoError(t, err)
	v, err := compliance.Check(b, opts)
	require.NoError(t, err)
	out := make([]string, len(v))
	for i, x := range v {
		out[i] = x.Address + " " + x.Rule
	}
	return out
}

func TestCompliantStackHasNoViolations(t *testing.T) {
	assert.Empty(t, check(t, compliant(t), compliance.Options{}))
}

func TestEachRuleFires(t *testing.T) {
	cases := []struct {
		rule, addr string
		breakIt    func(tree map[string]any)
	}{
		{compliance.RuleS3KMS, "aws_s3_bucket.b", func(tr map[string]any) {
			res(tr, "aws_s3_bucket_server_side_encryption_configuration", "b")["rule"] = []any{
				map[string]any{"apply_server_side_encryption_by_default": map[string]any{"sse_algorithm": "AES256"}}}
		}},
		{compliance.RuleS3KMS, "aws_s3_bucket.b", func(tr map[string]any) {
			res(tr, "aws_s3_bucket_server_side_encryption_configuration", "b")["rule"] = []any{
				map[string]any{"apply_server_side_encryption_by_default": map[string]any{"sse_algorithm": "aws:kms", "kms_master_key_id": "alias/aws/s3"}}}
		}},
		{compliance.RuleS3PublicAccess, "aws_s3_bucket.b", func(tr map[string]any) {
			res(tr, "aws_s3_bucket_public_access_block", "b")["restrict_public_buckets"] = false
		}},
		{compliance.RuleS3Versioning, "aws_s3_bucket.b", func(tr map[string]any) {
			res(tr, "aws_s3_bucket_versioning", "b")["versioning_configuration"] = map[string]any{"status": "Suspended"}
		}},
		{compliance.RuleS3OwnerEnforced, "aws_s3_bucket.b", func(tr map[string]any) {
			delete(tr["resource"].(map[string]any)["aws_s3_bucket_ownership_controls"].(map[string]any), "b")
		}},
		{compliance.RuleS3TLSOnly, "aws_s3_bucket.b", func(tr map[string]any) {
			st := tr["data"].(map[string]any)["aws_iam_policy_document"].(map[string]any)["bucketpolicy"].(map[string]any)["statement"].([]any)[0].(map[string]any)
			st["condition"] = []any{}
		}},
		{compliance.RuleDynamoDBKMS, "aws_dynamodb_table.t", func(tr map[string]any) {
			delete(res(tr, "aws_dynamodb_table", "t"), "server_side_encryption")
		}},
		{compliance.RuleSecretsKMS, "aws_secretsmanager_secret.s", func(tr map[string]any) {
			delete(res(tr, "aws_secretsmanager_secret", "s"), "kms_key_id")
		}},
		{compliance.RuleECRKMS, "aws_ecr_repository.repo", func(tr map[string]any) {
			res(tr, "aws_ecr_repository", "repo")["encryption_configuration"] = []any{map[string]any{"encryption_type": "AES256"}}
		}},
		{compliance.RuleLogsKMS, "aws_cloudwatch_log_group.lg", func(tr map[string]any) {
			delete(res(tr, "aws_cloudwatch_log_group", "lg"), "kms_key_id")
		}},
		{compliance.RuleLogsRetention, "aws_cloudwatch_log_group.lg", func(tr map[string]any) {
			delete(res(tr, "aws_cloudwatch_log_group", "lg"), "retention_in_days")
		}},
		{compliance.RuleWildcardResource, "data.aws_iam_policy_document.pull statement 1", func(tr map[string]any) {
			st := tr["data"].(map[string]any)["aws_iam_policy_document"].(map[string]any)["pull"].(map[string]any)["statement"].([]any)[1].(map[string]any)
			st["resources"] = []any{"*"}
		}},
		{compliance.RuleContainerReadOnly, "aws_ecs_task_definition.td container app", func(tr map[string]any) {
			res(tr, "aws_ecs_task_definition", "td")["container_definitions"] = `[{"name":"app","image":"${terraform_data.push.output}","user":"65532","logConfiguration":{"logDriver":"awslogs"}}]`
		}},
		{compliance.RuleContainerNonRoot, "aws_ecs_task_definition.td container app", func(tr map[string]any) {
			res(tr, "aws_ecs_task_definition", "td")["container_definitions"] = `[{"name":"app","image":"${terraform_data.push.output}","user":"0:0","readonlyRootFilesystem":true,"logConfiguration":{"logDriver":"awslogs"}}]`
		}},
		{compliance.RuleContainerNonRoot, "aws_ecs_task_definition.td container app", func(tr map[string]any) {
			res(tr, "aws_ecs_task_definition", "td")["container_definitions"] = `[{"name":"app","image":"${terraform_data.push.output}","readonlyRootFilesystem":true,"logConfiguration":{"logDriver":"awslogs"}}]`
		}},
		{compliance.RuleContainerDigest, "aws_ecs_task_definition.td container app", func(tr map[string]any) {
			res(tr, "terraform_data", "push")["input"] = "${aws_ecr_repository.repo.repository_url}:latest"
		}},
		{compliance.RuleContainerDigest, "aws_ecs_task_definition.td container app", func(tr map[string]any) {
			res(tr, "aws_ecs_task_definition", "td")["container_definitions"] = `[{"name":"app","image":"nginx:1.27","user":"1000","readonlyRootFilesystem":true,"logConfiguration":{"logDriver":"awslogs"}}]`
		}},
		{compliance.RuleContainerReadable, "aws_ecs_task_definition.td", func(tr map[string]any) {
			res(tr, "aws_ecs_task_definition", "td")["container_definitions"] = `${jsonencode(local.defs)}`
		}},
		{compliance.RuleServiceNoPublicIP, "aws_ecs_service.svc", func(tr map[string]any) {
			res(tr, "aws_ecs_service", "svc")["network_configuration"] = map[string]any{"assign_public_ip": true}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.rule, func(t *testing.T) {
			tree := compliant(t)
			tc.breakIt(tree)
			assert.Equal(t, []string{tc.addr + " " + tc.rule}, check(t, tree, compliance.Options{}))
		})
	}
}

func TestBucketWithoutAnyConfigurationBreaksEveryBucketRule(t *testing.T) {
	tree := compliant(t)
	res(tree, "aws_s3_bucket_public_access_block", "b")["bucket"] = "other"
	for _, typ := range []string{"aws_s3_bucket_server_side_encryption_configuration", "aws_s3_bucket_versioning", "aws_s3_bucket_ownership_controls", "aws_s3_bucket_policy",
		"aws_s3_bucket_logging", "aws_s3_bucket_notification", "aws_s3_bucket_lifecycle_configuration"} {
		delete(tree["resource"].(map[string]any)[typ].(map[string]any), "b")
	}
	assert.ElementsMatch(t, []string{
		"aws_s3_bucket.b " + compliance.RuleS3KMS, "aws_s3_bucket.b " + compliance.RuleS3PublicAccess,
		"aws_s3_bucket.b " + compliance.RuleS3Versioning, "aws_s3_bucket.b " + compliance.RuleS3OwnerEnforced,
		"aws_s3_bucket.b " + compliance.RuleS3TLSOnly, "aws_s3_bucket.b " + compliance.RuleS3AccessLogging,
		"aws_s3_bucket.b " + compliance.RuleS3EventNotifications, "aws_s3_bucket.b " + compliance.RuleS3Lifecycle,
		// The trail's log bucket lost its logging too.
		"aws_cloudtrail.trail " + compliance.RuleCloudTrailBucketLogged,
	}, check(t, tree, compliance.Options{}))
}

func TestImportedProjectKeyCountsWhenNamed(t *testing.T) {
	tree := compliant(t)
	const imported = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	res(tree, "aws_secretsmanager_secret", "s")["kms_key_id"] = imported
	assert.Equal(t, []string{"aws_secretsmanager_secret.s " + compliance.RuleSecretsKMS}, check(t, tree, compliance.Options{}))
	assert.Empty(t, check(t, tree, compliance.Options{ProjectKeyArns: []string{imported}}))
}

func TestWaiverNeedsAReason(t *testing.T) {
	tree := compliant(t)
	delete(res(tree, "aws_cloudwatch_log_group", "lg"), "retention_in_days")
	b, err := json.Marshal(tree)
	require.NoError(t, err)
	w := compliance.Waiver{Address: "aws_cloudwatch_log_group.lg", Rule: compliance.RuleLogsRetention}
	for _, why := range []string{"", " \t"} {
		w.Why = why
		v, err := compliance.Check(b, compliance.Options{Waivers: []compliance.Waiver{w}})
		require.Error(t, err, "a waiver with reason %q is refused, not ignored", why)
		assert.Equal(t, "compliance: waiver of rule logs-retention for aws_cloudwatch_log_group.lg has no reason: set Why to say why the exception is safe", err.Error())
		assert.Nil(t, v)
	}
	w.Why = "kept by the legal-hold process"
	assert.Empty(t, check(t, tree, compliance.Options{Waivers: []compliance.Waiver{w}}))
	w.Rule = compliance.RuleLogsKMS
	assert.Len(t, check(t, tree, compliance.Options{Waivers: []compliance.Waiver{w}}), 1, "a waiver covers only its rule")
}

func TestEveryWaiverWithoutAReasonIsNamed(t *testing.T) {
	_, err := compliance.Check([]byte(`{}`), compliance.Options{Waivers: []compliance.Waiver{
		{Address: "aws_s3_bucket.a", Rule: compliance.RuleS3Versioning},
		{Address: "aws_s3_bucket.b", Rule: compliance.RuleS3TLSOnly, Why: "served through CloudFront only"},
		{Address: "aws_s3_bucket.c", Rule: compliance.RuleS3KMS},
	}})
	require.Error(t, err)
	lines := strings.Split(err.Error(), "\n")
	require.Len(t, lines, 2, err.Error())
	assert.Contains(t, lines[0], "waiver of rule s3-versioned for aws_s3_bucket.a has no reason")
	assert.Contains(t, lines[1], "waiver of rule s3-sse-kms-project-key for aws_s3_bucket.c has no reason")
}
