package fargateservice_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-cdk-go/cdktf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/constructs/encryptionkey"
	"github.com/acme/module-registry/constructs/fargateservice"
	"github.com/acme/module-registry/constructs/iampolicy"
	"github.com/acme/module-registry/constructs/internal/synthtest"
)

const digest = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

var publicImage = fargateservice.ImageFromDigestURI("public.ecr.aws/acme/registry@sha256:" + digest)

// pullImage is an image double that grants a marker statement, so tests see that the
// service hands its execution role to GrantPull.
type pullImage struct {
	uri   string
	scope cdktf.TerraformStack
}

func (i pullImage) ImageURI() *string { return &i.uri }
func (i pullImage) GrantPull(role iampolicy.Role) {
	iampolicy.Grant(i.scope, "PullMarker", role, iampolicy.Statement{
		Sid: "PullImage", Actions: []string{"ecr:BatchGetImage"}, Resources: []string{"arn:aws:ecr:us-east-1:123456789012:repository/registry"},
	})
}

func baseProps(key *encryptionkey.Key) *fargateservice.Props {
	return &fargateservice.Props{
		Image:              publicImage,
		EncryptionKey:      key,
		IngressCidrs:       []string{"0.0.0.0/0"},
		CertificateArn:     "arn:aws:acm:us-east-1:123456789012:certificate/abc",
		HealthCheckCommand: []string{"CMD", "/registry", "-healthcheck"},
	}
}

type fixture struct {
	stack cdktf.TerraformStack
	key   *encryptionkey.Key
}

func newFixture(t *testing.T) fixture {
	stack := synthtest.NewStack(t)
	return fixture{stack: stack, key: encryptionkey.New(stack, "Key", nil)}
}

func synth(t *testing.T, mutate func(f fixture, p *fargateservice.Props)) (*synthtest.Result, *fargateservice.Service) {
	t.Helper()
	f := newFixture(t)
	p := baseProps(f.key)
	if mutate != nil {
		mutate(f, p)
	}
	svc := fargateservice.New(f.stack, "Svc", p)
	return synthtest.Synth(t, f.stack), svc
}

func container(t *testing.T, r *synthtest.Result) map[string]any {
	t.Helper()
	td := r.Resource(t, "aws_ecs_task_definition")
	var defs []map[string]any
	require.NoError(t, json.Unmarshal([]byte(td["container_definitions"].(string)), &defs))
	require.Len(t, defs, 1)
	return defs[0]
}

func TestServiceAndCluster(t *testing.T) {
	r, _ := synth(t, nil)
	cl := r.Resource(t, "aws_ecs_cluster")
	assert.Equal(t, []any{map[string]any{"name": "containerInsights", "value": "enabled"}}, cl["setting"])
	svc := r.Resource(t, "aws_ecs_service")
	assert.Equal(t, "FARGATE", svc["launch_type"])
	assert.Equal(t, 2.0, svc["desired_count"])
	assert.Equal(t, map[string]any{"enable": true, "rollback": true}, svc["deployment_circuit_breaker"])
	assert.Equal(t, 100.0, svc["deployment_minimum_healthy_percent"])
	assert.Equal(t, 200.0, svc["deployment_maximum_percent"])
	assert.Equal(t, "SERVICE", svc["propagate_tags"])
	assert.Equal(t, "ENABLED", svc["availability_zone_rebalancing"])
	assert.Equal(t, []any{"desired_count"}, svc["lifecycle"].(map[string]any)["ignore_changes"])
	assert.NotEmpty(t, svc["depends_on"], "waits for the listener")
}

func TestTaskRoleIsGrantable(t *testing.T) {
	f := newFixture(t)
	svc := fargateservice.New(f.stack, "Svc", baseProps(f.key))
	f.key.GrantDecrypt(svc.TaskRole(), "s3")
	r := synthtest.Synth(t, f.stack)
	assert.Contains(t, rolePolicies(t, r, "Svc_TaskRole"), "UseKeyDecrypt")
}

func suffixOf(t *testing.T, r *synthtest.Result, typ string) string {
	for name := range r.Resources(typ) {
		return name[strings.LastIndex(name, "_")+1:]
	}
	t.Fatalf("no %s", typ)
	return ""
}

func keysOf(m map[string]map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// rolePolicies returns the statements of every aws_iam_role_policy attached to the role
// whose logical name starts with rolePrefix, by Sid.
func rolePolicies(t *testing.T, r *synthtest.Result, rolePrefix string) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, pol := range r.Resources("aws_iam_role_policy") {
		if !strings.HasPrefix(pol["role"].(string), "${aws_iam_role."+rolePrefix) {
			continue
		}
		for sid, st := range synthtest.BySid(r.PolicyStatements(t, pol["policy"])) {
			out[sid] = st
		}
	}
	return out
}
