package fargateservice_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/constructs/encryptionkey"
	"github.com/acme/module-registry/constructs/fargateservice"
	"github.com/acme/module-registry/constructs/iampolicy"
	"github.com/acme/module-registry/constructs/internal/synthtest"
	"github.com/acme/module-registry/constructs/jwtsecret"
)

func TestTaskDefinition(t *testing.T) {
	r, _ := synth(t, func(f fixture, p *fargateservice.Props) {
		p.Environment = map[string]string{"REGISTRY_ADDR": "0.0.0.0:8080", "AWS_REGION": "us-east-1"}
	})
	td := r.Resource(t, "aws_ecs_task_definition")
	assert.Equal(t, "acme-registry", td["family"])
	assert.Equal(t, []any{"FARGATE"}, td["requires_compatibilities"])
	assert.Equal(t, "awsvpc", td["network_mode"])
	assert.Equal(t, "256", td["cpu"])
	assert.Equal(t, "512", td["memory"])
	assert.Equal(t, map[string]any{"operating_system_family": "LINUX", "cpu_architecture": "X86_64"}, td["runtime_platform"])
	assert.Contains(t, td["execution_role_arn"], "aws_iam_role.Svc_ExecutionRole")
	assert.Contains(t, td["task_role_arn"], "aws_iam_role.Svc_TaskRole")

	c := container(t, r)
	assert.Equal(t, "app", c["name"])
	assert.Equal(t, *publicImage.ImageURI(), c["image"])
	assert.Equal(t, true, c["essential"])
	assert.Equal(t, true, c["readonlyRootFilesystem"])
	assert.Equal(t, "65532:65532", c["user"])
	assert.Nil(t, c["privileged"])
	assert.Equal(t, map[string]any{"capabilities": map[string]any{"drop": []any{"ALL"}}}, c["linuxParameters"])
	assert.Equal(t, []any{map[string]any{"containerPort": 8080.0, "hostPort": 8080.0, "protocol": "tcp"}}, c["portMappings"])
	assert.Equal(t, []any{
		map[string]any{"name": "AWS_REGION", "value": "us-east-1"},
		map[string]any{"name": "REGISTRY_ADDR", "value": "0.0.0.0:8080"},
	}, c["environment"], "sorted by name")
	hc := c["healthCheck"].(map[string]any)
	assert.Equal(t, []any{"CMD", "/registry", "-healthcheck"}, hc["command"])
	lc := c["logConfiguration"].(map[string]any)
	assert.Equal(t, "awslogs", lc["logDriver"])
	opts := lc["options"].(map[string]any)
	assert.Equal(t, "/ecs/acme-registry", opts["awslogs-group"])
	assert.Contains(t, opts["awslogs-region"], "data.aws_region.")
	assert.Equal(t, "app", opts["awslogs-stream-prefix"])
}

func TestTaskProps(t *testing.T) {
	r, _ := synth(t, func(f fixture, p *fargateservice.Props) {
		p.CPU, p.MemoryMiB, p.CPUArchitecture = 1024, 3072, "ARM64"
		p.User, p.ContainerPort, p.ContainerName = "1000:1000", 9090, "web"
	})
	td := r.Resource(t, "aws_ecs_task_definition")
	assert.Equal(t, "1024", td["cpu"])
	assert.Equal(t, "3072", td["memory"])
	assert.Equal(t, "ARM64", td["runtime_platform"].(map[string]any)["cpu_architecture"])
	c := container(t, r)
	assert.Equal(t, "1000:1000", c["user"])
	assert.Equal(t, "web", c["name"])
	assert.Equal(t, 9090.0, c["portMappings"].([]any)[0].(map[string]any)["containerPort"])
	svc := r.Resource(t, "aws_ecs_service")
	lb := svc["load_balancer"].([]any)[0].(map[string]any)
	assert.Equal(t, "web", lb["container_name"])
	assert.Equal(t, 9090.0, lb["container_port"])
	assert.Equal(t, 9090.0, r.Resource(t, "aws_lb_target_group")["port"])
}

func TestSecretsAndExecutionRole(t *testing.T) {
	r, _ := synth(t, func(f fixture, p *fargateservice.Props) {
		s := jwtsecret.New(f.stack, "Jwt", &jwtsecret.Props{EncryptionKey: f.key})
		p.Image = pullImage{uri: "123456789012.dkr.ecr.us-east-1.amazonaws.com/registry@sha256:" + digest, scope: f.stack}
		p.Secrets = []fargateservice.ContainerSecret{
			{EnvName: "JWT_SECRET", Secret: s, JSONKey: "jwt_secret"},
			{EnvName: "WHOLE", Secret: s},
		}
	})
	c := container(t, r)
	assert.Equal(t, []any{
		map[string]any{"name": "JWT_SECRET", "valueFrom": "${aws_secretsmanager_secret.Jwt_Secret_" + suffixOf(t, r, "aws_secretsmanager_secret") + ".arn}:jwt_secret::"},
		map[string]any{"name": "WHOLE", "valueFrom": "${aws_secretsmanager_secret.Jwt_Secret_" + suffixOf(t, r, "aws_secretsmanager_secret") + ".arn}"},
	}, c["secrets"])

	// Every inline policy on the execution role, by statement id.
	got := rolePolicies(t, r, "Svc_ExecutionRole")
	logs := got[fargateservice.WriteLogsSid]
	require.NotNil(t, logs, "log statement: %v", got)
	assert.ElementsMatch(t, []string{"logs:CreateLogStream", "logs:PutLogEvents"}, synthtest.Strings(logs["actions"]))
	res := synthtest.Strings(logs["resources"])
	require.Len(t, res, 1)
	assert.Regexp(t, `^arn:\$\{data\.aws_partition\.[^}]+\}:logs:\$\{data\.aws_region\.[^}]+\}:\$\{data\.aws_caller_identity\.[^}]+\}:log-group:/ecs/acme-registry:log-stream:\*$`, res[0])
	assert.Contains(t, got, "PullImage", "the image's GrantPull was called with the execution role")
	assert.Contains(t, got, "ReadJwtSecret", "secret's GrantRead")
	assert.Contains(t, got, "UseKeyDecrypt", "secret's GrantRead decrypts via secretsmanager")
	assert.Len(t, got, 4, "nothing else: %v", keysOf(got))

	assert.Empty(t, rolePolicies(t, r, "Svc_TaskRole"), "task role has no permissions by default")
}

func TestTrustPolicies(t *testing.T) {
	r, _ := synth(t, nil)
	roles := rules(r, "aws_iam_role")
	require.Len(t, roles, 3, "execution, task and flow log roles")
	delete(roles, "Svc_FlowLogRole") // TestFlowLogs
	for name, role := range roles {
		st := r.PolicyStatements(t, role["assume_role_policy"])
		require.Len(t, st, 1, name)
		assert.Equal(t, []any{map[string]any{"type": "Service", "identifiers": []any{"ecs-tasks.amazonaws.com"}}}, st[0]["principals"])
		cond := synthtest.Conditions(st[0])
		assert.Len(t, cond["StringEquals aws:SourceAccount"], 1, name)
		if strings.HasPrefix(name, "Svc_TaskRole") {
			assert.Equal(t, "acme-registry-task", role["name"])
			require.Len(t, cond["ArnLike aws:SourceArn"], 1)
			assert.Regexp(t, `^arn:\$\{[^}]+\}:ecs:\$\{[^}]+\}:\$\{[^}]+\}:\*$`, cond["ArnLike aws:SourceArn"][0])
		} else {
			assert.Equal(t, "acme-registry-execution", role["name"])
		}
	}
}

func TestLogGroupAndKeyPolicy(t *testing.T) {
	var key *encryptionkey.Key
	r, _ := synth(t, func(f fixture, p *fargateservice.Props) {
		key = f.key
		p.LogRetentionDays = 30
	})
	lg := rules(r, "aws_cloudwatch_log_group")["Svc_LogGroup"]
	assert.Equal(t, "/ecs/acme-registry", lg["name"])
	assert.Equal(t, 30.0, lg["retention_in_days"])
	assert.Contains(t, lg["kms_key_id"], "aws_kms_key.Key_")
	var use *iampolicy.Statement
	for _, st := range key.PolicyStatements() {
		if st.Sid == "CloudWatchLogsUseAcmeRegistry" {
			use = &st
		}
	}
	require.NotNil(t, use, "key policy lets CloudWatch Logs use the key")
	assert.Equal(t, []iampolicy.Condition{{Test: "ArnEquals", Variable: "kms:EncryptionContext:aws:logs:arn",
		Values: []string{use.Conditions[0].Values[0]}}}, use.Conditions)
	assert.True(t, strings.HasSuffix(use.Conditions[0].Values[0], ":log-group:/ecs/acme-registry"), use.Conditions[0].Values[0])
	assert.True(t, strings.HasPrefix(use.Principals[0].Identifiers[0], "logs."), "regional logs principal")

	r, _ = synth(t, nil)
	for name, lg := range r.Resources("aws_cloudwatch_log_group") {
		assert.Equal(t, 90.0, lg["retention_in_days"], "default retention of %s", name)
	}
}
