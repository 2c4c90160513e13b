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
	"github.com/acme/module-registry/constructs/jwtsecret"
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

func TestTrustPolicies(t *testing.T) {
	r, _ := synth(t, nil)
	roles := r.Resources("aws_iam_role")
	require.Len(t, roles, 2)
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
	lg := r.Resource(t, "aws_cloudwatch_log_group")
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
	assert.Equal(t, 90.0, r.Resource(t, "aws_cloudwatch_log_group")["retention_in_days"], "default retention")
}

func TestNetwork(t *testing.T) {
	r, _ := synth(t, nil)
	v := r.Resource(t, "aws_vpc")
	assert.Equal(t, "10.0.0.0/16", v["cidr_block"])
	assert.Equal(t, true, v["enable_dns_hostnames"])
	subnets := map[string]string{}
	for name, s := range r.Resources("aws_subnet") {
		subnets[name[:strings.LastIndex(name, "_")]] = s["cidr_block"].(string)
		assert.Equal(t, false, s["map_public_ip_on_launch"])
		assert.Contains(t, s["availability_zone"], "data.aws_availability_zones.")
	}
	assert.Equal(t, map[string]string{
		"Svc_PublicSubnet0": "10.0.0.0/18", "Svc_PublicSubnet1": "10.0.64.0/18",
		"Svc_PrivateSubnet0": "10.0.128.0/18", "Svc_PrivateSubnet1": "10.0.192.0/18",
	}, subnets)
	assert.Empty(t, r.Resources("aws_nat_gateway"), "no NAT: tasks use endpoints")
	routes := r.Resources("aws_route")
	require.Len(t, routes, 1, "only the public subnets have a default route")
	for _, rt := range routes {
		assert.Contains(t, rt["route_table_id"], "Svc_PublicRoutes")
		assert.Contains(t, rt["gateway_id"], "aws_internet_gateway.")
	}
	var iface, gw []string
	for _, ep := range r.Resources("aws_vpc_endpoint") {
		name := ep["service_name"].(string)
		name = name[strings.LastIndex(name, "}.")+2:]
		if ep["vpc_endpoint_type"] == "Interface" {
			iface = append(iface, name)
			assert.Equal(t, true, ep["private_dns_enabled"])
			assert.Len(t, ep["subnet_ids"], 2)
		} else {
			gw = append(gw, name)
			assert.Contains(t, ep["route_table_ids"].([]any)[0], "Svc_PrivateRoutes")
		}
	}
	assert.ElementsMatch(t, []string{"ecr.api", "ecr.dkr", "logs", "secretsmanager"}, iface)
	assert.ElementsMatch(t, []string{"s3", "dynamodb"}, gw)

	svc := r.Resource(t, "aws_ecs_service")
	nc := svc["network_configuration"].(map[string]any)
	assert.Equal(t, false, nc["assign_public_ip"])
	for _, s := range synthtest.Strings(nc["subnets"]) {
		assert.Contains(t, s, "Svc_PrivateSubnet")
	}
	for _, s := range synthtest.Strings(r.Resource(t, "aws_lb")["subnets"]) {
		assert.Contains(t, s, "Svc_PublicSubnet")
	}

	r, _ = synth(t, func(f fixture, p *fargateservice.Props) {
		p.VpcCidr, p.AvailabilityZones = "172.16.0.0/20", []string{"eu-west-1a", "eu-west-1b"}
		p.ExtraInterfaceEndpointServices = []string{"kms"}
		p.Internal = true
	})
	assert.Equal(t, "172.16.0.0/20", r.Resource(t, "aws_vpc")["cidr_block"])
	zones := map[string]bool{}
	for _, s := range r.Resources("aws_subnet") {
		zones[s["availability_zone"].(string)] = true
	}
	assert.Equal(t, map[string]bool{"eu-west-1a": true, "eu-west-1b": true}, zones)
	assert.Empty(t, r.DataSources("aws_availability_zones"))
	assert.Len(t, r.Resources("aws_vpc_endpoint"), 7)
	alb := r.Resource(t, "aws_lb")
	assert.Equal(t, true, alb["internal"])
	for _, s := range synthtest.Strings(alb["subnets"]) {
		assert.Contains(t, s, "Svc_PrivateSubnet", "internal load balancer in the private subnets")
	}
}

func TestExistingVpc(t *testing.T) {
	r, svc := synth(t, func(f fixture, p *fargateservice.Props) {
		p.ExistingVpc = &fargateservice.ExistingVpc{
			VpcID:            "vpc-0123456789abcdef0",
			PublicSubnetIDs:  []string{"subnet-00000001", "subnet-00000002"},
			PrivateSubnetIDs: []string{"subnet-00000003", "subnet-00000004"},
		}
	})
	assert.Empty(t, r.Resources("aws_vpc"))
	assert.Empty(t, r.Resources("aws_vpc_endpoint"))
	assert.Equal(t, "vpc-0123456789abcdef0", *svc.VpcID())
	nc := r.Resource(t, "aws_ecs_service")["network_configuration"].(map[string]any)
	assert.Equal(t, []any{"subnet-00000003", "subnet-00000004"}, nc["subnets"])
	assert.Equal(t, []any{"subnet-00000001", "subnet-00000002"}, r.Resource(t, "aws_lb")["subnets"])
	egress := r.Resources("aws_vpc_security_group_egress_rule")
	var task []map[string]any
	for name, e := range egress {
		if strings.HasPrefix(name, "Svc_TaskHttpsEgress") {
			task = append(task, e)
		}
	}
	require.Len(t, task, 1)
	assert.Equal(t, "0.0.0.0/0", task[0]["cidr_ipv4"])
	assert.Equal(t, 443.0, task[0]["from_port"])
}

// rules indexes security group rules by logical name without the hash suffix.
func rules(r *synthtest.Result, typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for name, v := range r.Resources(typ) {
		out[name[:strings.LastIndex(name, "_")]] = v
	}
	return out
}

func TestSecurityGroups(t *testing.T) {
	r, _ := synth(t, func(f fixture, p *fargateservice.Props) {
		p.IngressCidrs = []string{"203.0.113.0/24", "2001:db8::/32"}
	})
	for _, sg := range r.Resources("aws_security_group") {
		assert.Nil(t, sg["ingress"], "rules are separate resources")
		assert.Nil(t, sg["egress"])
	}
	in := rules(r, "aws_vpc_security_group_ingress_rule")
	out := rules(r, "aws_vpc_security_group_egress_rule")
	names := func(m map[string]map[string]any) []string { return keysOf(m) }
	assert.ElementsMatch(t, []string{
		"Svc_LoadBalancerPort80From0", "Svc_LoadBalancerPort443From0",
		"Svc_LoadBalancerPort80From1", "Svc_LoadBalancerPort443From1",
		"Svc_TasksFromLoadBalancer", "Svc_EndpointHttpsFromTasks",
	}, names(in))
	assert.ElementsMatch(t, []string{
		"Svc_LoadBalancerToTasks", "Svc_TaskHttpsToEndpoints", "Svc_TaskHttpsToS3", "Svc_TaskHttpsToDynamodb",
	}, names(out))
	assert.Equal(t, "203.0.113.0/24", in["Svc_LoadBalancerPort443From0"]["cidr_ipv4"])
	assert.Equal(t, "2001:db8::/32", in["Svc_LoadBalancerPort443From1"]["cidr_ipv6"])
	assert.Equal(t, 443.0, in["Svc_LoadBalancerPort443From0"]["to_port"])
	task := in["Svc_TasksFromLoadBalancer"]
	assert.Contains(t, task["security_group_id"], "Svc_TaskSecurityGroup")
	assert.Contains(t, task["referenced_security_group_id"], "Svc_LoadBalancerSecurityGroup")
	assert.Equal(t, 8080.0, task["from_port"])
	assert.Equal(t, 8080.0, task["to_port"])
	assert.Nil(t, task["cidr_ipv4"])
	lbOut := out["Svc_LoadBalancerToTasks"]
	assert.Contains(t, lbOut["referenced_security_group_id"], "Svc_TaskSecurityGroup")
	assert.Equal(t, 8080.0, lbOut["from_port"])
	for name, e := range out {
		assert.Equal(t, "tcp", e["ip_protocol"], name)
		assert.Nil(t, e["cidr_ipv4"], "%s: no egress to CIDRs in the new VPC", name)
		if strings.HasPrefix(name, "Svc_Task") {
			assert.Equal(t, 443.0, e["from_port"], name)
		}
	}
	assert.Contains(t, out["Svc_TaskHttpsToS3"]["prefix_list_id"], "aws_vpc_endpoint.Svc_EndpointS3")

	r, _ = synth(t, func(f fixture, p *fargateservice.Props) { p.CertificateArn, p.AllowPlainHTTP = "", true })
	assert.ElementsMatch(t, []string{"Svc_LoadBalancerPort80From0", "Svc_TasksFromLoadBalancer", "Svc_EndpointHttpsFromTasks"},
		keysOf(rules(r, "aws_vpc_security_group_ingress_rule")), "no 443 without a certificate")
}

func TestLoadBalancer(t *testing.T) {
	r, svc := synth(t, nil)
	alb := r.Resource(t, "aws_lb")
	assert.Equal(t, "acme-registry", alb["name"])
	assert.Equal(t, "application", alb["load_balancer_type"])
	assert.Equal(t, false, alb["internal"])
	assert.Equal(t, true, alb["drop_invalid_header_fields"])
	assert.Equal(t, "strictest", alb["desync_mitigation_mode"])
	assert.Equal(t, true, alb["enable_deletion_protection"])

	tg := r.Resource(t, "aws_lb_target_group")
	assert.Equal(t, "ip", tg["target_type"])
	assert.Equal(t, "HTTP", tg["protocol"])
	hc := tg["health_check"].(map[string]any)
	assert.Equal(t, "/health", hc["path"])
	assert.Equal(t, "200", hc["matcher"])

	listeners := rules(r, "aws_lb_listener")
	require.Len(t, listeners, 2)
	https := listeners["Svc_HttpsListener"]
	assert.Equal(t, 443.0, https["port"])
	assert.Equal(t, "HTTPS", https["protocol"])
	assert.Equal(t, "ELBSecurityPolicy-TLS13-1-2-2021-06", https["ssl_policy"])
	assert.Equal(t, "arn:aws:acm:us-east-1:123456789012:certificate/abc", https["certificate_arn"])
	assert.Equal(t, "forward", https["default_action"].([]any)[0].(map[string]any)["type"])
	redirect := listeners["Svc_HttpRedirectListener"]["default_action"].([]any)[0].(map[string]any)
	assert.Equal(t, "redirect", redirect["type"])
	assert.Equal(t, map[string]any{"protocol": "HTTPS", "port": "443", "status_code": "HTTP_301"}, redirect["redirect"])
	assert.True(t, strings.HasPrefix(*svc.ServiceURL(), "https://"))

	r, svc = synth(t, func(f fixture, p *fargateservice.Props) {
		p.CertificateArn, p.AllowPlainHTTP, p.DisableDeletionProtection = "", true, true
		p.HealthCheckPath = "/ready"
	})
	assert.Equal(t, false, r.Resource(t, "aws_lb")["enable_deletion_protection"])
	l := r.Resource(t, "aws_lb_listener")
	assert.Equal(t, "HTTP", l["protocol"])
	assert.Equal(t, "forward", l["default_action"].([]any)[0].(map[string]any)["type"])
	assert.Equal(t, "/ready", r.Resource(t, "aws_lb_target_group")["health_check"].(map[string]any)["path"])
	assert.True(t, strings.HasPrefix(*svc.ServiceURL(), "http://"))
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

func TestScaling(t *testing.T) {
	r, _ := synth(t, func(f fixture, p *fargateservice.Props) {
		p.DesiredCount, p.MinCapacity, p.MaxCapacity = 3, 2, 6
		p.CPUTargetPercent, p.RequestsPerTarget = 50, 500
	})
	tgt := r.Resource(t, "aws_appautoscaling_target")
	assert.Equal(t, "ecs", tgt["service_namespace"])
	assert.Equal(t, "ecs:service:DesiredCount", tgt["scalable_dimension"])
	assert.Regexp(t, `^service/\$\{aws_ecs_cluster\.[^}]+\.name\}/\$\{aws_ecs_service\.[^}]+\.name\}$`, tgt["resource_id"])
	assert.Equal(t, 2.0, tgt["min_capacity"])
	assert.Equal(t, 6.0, tgt["max_capacity"])
	pols := rules(r, "aws_appautoscaling_policy")
	cpu := pols["Svc_CPUScaling"]["target_tracking_scaling_policy_configuration"].(map[string]any)
	assert.Equal(t, 50.0, cpu["target_value"])
	assert.Equal(t, "ECSServiceAverageCPUUtilization", cpu["predefined_metric_specification"].(map[string]any)["predefined_metric_type"])
	req := pols["Svc_RequestScaling"]["target_tracking_scaling_policy_configuration"].(map[string]any)
	assert.Equal(t, 500.0, req["target_value"])
	spec := req["predefined_metric_specification"].(map[string]any)
	assert.Equal(t, "ALBRequestCountPerTarget", spec["predefined_metric_type"])
	assert.Regexp(t, `^\$\{aws_lb\.[^}]+\.arn_suffix\}/\$\{aws_lb_target_group\.[^}]+\.arn_suffix\}$`, spec["resource_label"])
	assert.Equal(t, "TargetTrackingScaling", pols["Svc_CPUScaling"]["policy_type"])

	r, _ = synth(t, nil)
	tgt = r.Resource(t, "aws_appautoscaling_target")
	assert.Equal(t, 2.0, tgt["min_capacity"], "default min = desired")
	assert.Equal(t, 4.0, tgt["max_capacity"], "default max = 2 * min")
}

func TestAlarms(t *testing.T) {
	topic := "arn:aws:sns:us-east-1:123456789012:ops"
	r, _ := synth(t, func(f fixture, p *fargateservice.Props) {
		p.AlarmTopicArns = []string{topic}
		p.LatencyP95Seconds, p.Error5xxRatePercent, p.MinRunningTasks = 0.5, 2, 1
	})
	alarms := rules(r, "aws_cloudwatch_metric_alarm")
	require.Len(t, alarms, 3)
	lat := alarms["Svc_LatencyAlarm"]
	assert.Equal(t, "acme-registry-p95-latency", lat["alarm_name"])
	assert.Equal(t, "AWS/ApplicationELB", lat["namespace"])
	assert.Equal(t, "TargetResponseTime", lat["metric_name"])
	assert.Equal(t, "p95", lat["extended_statistic"])
	assert.Nil(t, lat["statistic"])
	assert.Equal(t, 0.5, lat["threshold"])
	assert.Equal(t, "GreaterThanThreshold", lat["comparison_operator"])
	assert.Contains(t, lat["dimensions"].(map[string]any)["LoadBalancer"], ".arn_suffix}")

	errs := alarms["Svc_ErrorRateAlarm"]
	assert.Equal(t, 2.0, errs["threshold"])
	byID := map[string]map[string]any{}
	for _, q := range errs["metric_query"].([]any) {
		m := q.(map[string]any)
		byID[m["id"].(string)] = m
	}
	require.Len(t, byID, 4)
	for id, name := range map[string]string{"target5xx": "HTTPCode_Target_5XX_Count", "elb5xx": "HTTPCode_ELB_5XX_Count", "requests": "RequestCount"} {
		m := byID[id]["metric"].(map[string]any)
		assert.Equal(t, name, m["metric_name"])
		assert.Equal(t, "Sum", m["stat"])
		assert.Equal(t, "AWS/ApplicationELB", m["namespace"])
		assert.Equal(t, false, byID[id]["return_data"])
	}
	assert.Equal(t, fargateservice.ErrorRateExpression, byID["errorRate"]["expression"])
	assert.Equal(t, true, byID["errorRate"]["return_data"])

	run := alarms["Svc_RunningTaskAlarm"]
	assert.Equal(t, "ECS/ContainerInsights", run["namespace"])
	assert.Equal(t, "RunningTaskCount", run["metric_name"])
	assert.Equal(t, "LessThanThreshold", run["comparison_operator"])
	assert.Equal(t, 1.0, run["threshold"])
	assert.Equal(t, "breaching", run["treat_missing_data"])
	dims := run["dimensions"].(map[string]any)
	assert.Contains(t, dims["ClusterName"], "aws_ecs_cluster.")
	assert.Contains(t, dims["ServiceName"], "aws_ecs_service.")
	for name, a := range alarms {
		assert.Equal(t, []any{topic}, a["alarm_actions"], name)
		assert.Equal(t, []any{topic}, a["ok_actions"], name)
	}

	r, _ = synth(t, nil)
	alarms = rules(r, "aws_cloudwatch_metric_alarm")
	assert.Equal(t, 1.0, alarms["Svc_LatencyAlarm"]["threshold"])
	assert.Equal(t, 5.0, alarms["Svc_ErrorRateAlarm"]["threshold"])
	assert.Equal(t, 2.0, alarms["Svc_RunningTaskAlarm"]["threshold"], "default: below the desired count")
	assert.Nil(t, alarms["Svc_LatencyAlarm"]["alarm_actions"])
}

func TestWebACL(t *testing.T) {
	r, _ := synth(t, func(f fixture, p *fargateservice.Props) { p.RateLimitPer5Minutes = 500 })
	acl := r.Resource(t, "aws_wafv2_web_acl")
	assert.Equal(t, "acme-registry-waf", acl["name"])
	assert.Equal(t, "REGIONAL", acl["scope"])
	assert.Equal(t, map[string]any{"allow": map[string]any{}}, acl["default_action"])
	assert.Equal(t, true, acl["visibility_config"].(map[string]any)["cloudwatch_metrics_enabled"])
	rulesList := acl["rule"].([]any)
	require.Len(t, rulesList, 1)
	rule := rulesList[0].(map[string]any)
	assert.Equal(t, fargateservice.RateLimitRuleName, rule["name"])
	assert.Equal(t, map[string]any{"block": map[string]any{}}, rule["action"])
	assert.Equal(t, map[string]any{"rate_based_statement": map[string]any{"limit": 500.0, "aggregate_key_type": "IP"}}, rule["statement"])
	assert.Equal(t, true, rule["visibility_config"].(map[string]any)["sampled_requests_enabled"])
	assoc := r.Resource(t, "aws_wafv2_web_acl_association")
	assert.Contains(t, assoc["resource_arn"], "aws_lb.")
	assert.Contains(t, assoc["web_acl_arn"], "aws_wafv2_web_acl.")

	r, _ = synth(t, nil)
	rule = r.Resource(t, "aws_wafv2_web_acl")["rule"].([]any)[0].(map[string]any)
	assert.Equal(t, 2000.0, rule["statement"].(map[string]any)["rate_based_statement"].(map[string]any)["limit"])
}

func TestTaskRoleIsGrantable(t *testing.T) {
	f := newFixture(t)
	svc := fargateservice.New(f.stack, "Svc", baseProps(f.key))
	f.key.GrantDecrypt(svc.TaskRole(), "s3")
	r := synthtest.Synth(t, f.stack)
	assert.Contains(t, rolePolicies(t, r, "Svc_TaskRole"), "UseKeyDecrypt")
}

func TestValidation(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(f fixture, p *fargateservice.Props)
		want   []string
	}{
		{"missing required", func(f fixture, p *fargateservice.Props) {
			p.Image, p.EncryptionKey, p.IngressCidrs, p.HealthCheckCommand, p.CertificateArn = nil, nil, nil, nil, ""
		}, []string{"Image: is required", "EncryptionKey: is required", "IngressCidrs: is required",
			"HealthCheckCommand: is required", "CertificateArn: is required"}},
		{"image by tag", func(f fixture, p *fargateservice.Props) {
			p.Image = fargateservice.ImageFromDigestURI("public.ecr.aws/acme/registry:latest")
		}, []string{"Image: ImageURI() \"public.ecr.aws/acme/registry:latest\" must be <registry>/<repository>@sha256:<64 hex digits>"}},
		{"short digest", func(f fixture, p *fargateservice.Props) {
			p.Image = fargateservice.ImageFromDigestURI("public.ecr.aws/acme/registry@sha256:abc")
		}, []string{"Image: ImageURI()"}},
		{"root user", func(f fixture, p *fargateservice.Props) { p.User = "0:0" }, []string{"User: \"0:0\" runs the container as root"}},
		{"root by name", func(f fixture, p *fargateservice.Props) { p.User = "root" }, []string{"User: \"root\" runs the container as root"}},
		{"bad user", func(f fixture, p *fargateservice.Props) { p.User = "a b" }, []string{"User: \"a b\" must be"}},
		{"cpu", func(f fixture, p *fargateservice.Props) { p.CPU = 300 }, []string{"CPU: 300 is not a Fargate CPU value"}},
		{"memory", func(f fixture, p *fargateservice.Props) { p.CPU, p.MemoryMiB = 512, 512 },
			[]string{"MemoryMiB: 512 MiB is not valid with CPU 512 on Fargate; use 1024-4096 in steps of 1024"}},
		{"memory 256", func(f fixture, p *fargateservice.Props) { p.MemoryMiB = 1536 }, []string{"MemoryMiB: 1536 MiB is not valid with CPU 256"}},
		{"arch", func(f fixture, p *fargateservice.Props) { p.CPUArchitecture = "arm" }, []string{"CPUArchitecture: \"arm\" must be X86_64 or ARM64"}},
		{"health command", func(f fixture, p *fargateservice.Props) { p.HealthCheckCommand = []string{"/registry"} }, []string{"HealthCheckCommand: is required"}},
		{"health path", func(f fixture, p *fargateservice.Props) { p.HealthCheckPath = "health" }, []string{"HealthCheckPath: \"health\" must be a path"}},
		{"both listeners", func(f fixture, p *fargateservice.Props) { p.AllowPlainHTTP = true }, []string{"AllowPlainHTTP: must not be set with CertificateArn"}},
		{"cert arn", func(f fixture, p *fargateservice.Props) { p.CertificateArn = "cert" }, []string{"CertificateArn: \"cert\" is not an ACM certificate ARN"}},
		{"ssl policy", func(f fixture, p *fargateservice.Props) { p.SslPolicy = "ELBSecurityPolicy-2016-08" },
			[]string{"SslPolicy: \"ELBSecurityPolicy-2016-08\" must be an ELBSecurityPolicy allowing only TLS 1.2"}},
		{"ingress cidr", func(f fixture, p *fargateservice.Props) { p.IngressCidrs = []string{"10.0.0.1/8", "any"} },
			[]string{"IngressCidrs[0]: \"10.0.0.1/8\" is not a network", "IngressCidrs[1]: \"any\" is not a network"}},
		{"vpc cidr", func(f fixture, p *fargateservice.Props) { p.VpcCidr = "10.0.0.0/8" }, []string{"VpcCidr: \"10.0.0.0/8\" must be a /16 to /24"}},
		{"vpc cidr syntax", func(f fixture, p *fargateservice.Props) { p.VpcCidr = "10.0.0.0" }, []string{"VpcCidr: \"10.0.0.0\" is not an IPv4 network"}},
		{"zones", func(f fixture, p *fargateservice.Props) { p.AvailabilityZones = []string{"a"} }, []string{"AvailabilityZones: must name exactly two zones"}},
		{"same zone", func(f fixture, p *fargateservice.Props) { p.AvailabilityZones = []string{"a", "a"} }, []string{"AvailabilityZones: must be two different zones"}},
		{"endpoints", func(f fixture, p *fargateservice.Props) { p.ExtraInterfaceEndpointServices = []string{"logs", "K M S"} },
			[]string{"ExtraInterfaceEndpointServices[0]: \"logs\"", "ExtraInterfaceEndpointServices[1]: \"K M S\""}},
		{"existing vpc", func(f fixture, p *fargateservice.Props) {
			p.ExistingVpc = &fargateservice.ExistingVpc{VpcID: "vpc1", PrivateSubnetIDs: []string{"subnet-00000001"}, TaskEgressCidrs: []string{"x"}}
			p.VpcCidr = "10.1.0.0/16"
		}, []string{"ExistingVpc.VpcID: \"vpc1\" is not a VPC id", "ExistingVpc.PrivateSubnetIDs: needs at least two subnets",
			"ExistingVpc.PublicSubnetIDs: needs at least two subnets", "ExistingVpc.TaskEgressCidrs[0]: \"x\" is not a network",
			"ExistingVpc: is set, so VpcCidr"}},
		{"name", func(f fixture, p *fargateservice.Props) { p.Name = "Acme_Registry" }, []string{"Name: \"Acme_Registry\" must be 1-28 lowercase"}},
		{"long name", func(f fixture, p *fargateservice.Props) { p.Name = strings.Repeat("a", 29) }, []string{"Name: \"" + strings.Repeat("a", 29) + "\" must be 1-28"}},
		{"container", func(f fixture, p *fargateservice.Props) { p.ContainerName, p.ContainerPort = "App", 70000 },
			[]string{"ContainerName: \"App\" must be", "ContainerPort: must be 1-65535, got 70000"}},
		{"env and secrets", func(f fixture, p *fargateservice.Props) {
			s := jwtsecret.New(f.stack, "Jwt", &jwtsecret.Props{EncryptionKey: f.key})
			p.Environment = map[string]string{"1BAD": "x", "JWT_SECRET": "y"}
			p.Secrets = []fargateservice.ContainerSecret{
				{EnvName: "JWT_SECRET", Secret: s, JSONKey: "jwt_secret"},
				{EnvName: "bad-name", Secret: nil, JSONKey: "a:b"},
			}
		}, []string{"Environment: \"1BAD\" is not a valid variable name", "Secrets[0].EnvName: \"JWT_SECRET\" is already set by Environment",
			"Secrets[1].EnvName: \"bad-name\" is not a valid variable name", "Secrets[1].Secret: is required",
			"Secrets[1].JSONKey: \"a:b\" must not contain ':'"}},
		{"retention", func(f fixture, p *fargateservice.Props) { p.LogRetentionDays = 10 }, []string{"LogRetentionDays: 10 is not a retention"}},
		{"scaling", func(f fixture, p *fargateservice.Props) { p.DesiredCount, p.MinCapacity, p.MaxCapacity = 5, 2, 1 },
			[]string{"MaxCapacity: 1 is below MinCapacity 2"}},
		{"desired outside", func(f fixture, p *fargateservice.Props) { p.DesiredCount, p.MinCapacity, p.MaxCapacity = 5, 2, 4 },
			[]string{"DesiredCount: 5 must be between MinCapacity 2 and MaxCapacity 4"}},
		{"bad min", func(f fixture, p *fargateservice.Props) { p.MinCapacity = -1 },
			[]string{"MinCapacity: must be at least 1, got -1"}},
		{"negatives", func(f fixture, p *fargateservice.Props) {
			p.DesiredCount, p.CPUTargetPercent, p.RequestsPerTarget, p.LatencyP95Seconds, p.Error5xxRatePercent, p.MinRunningTasks = -1, 150, -1, -1, 101, -1
		}, []string{"DesiredCount: must be at least 1, got -1", "CPUTargetPercent: must be in (0, 100], got 150", "RequestsPerTarget: must be positive",
			"LatencyP95Seconds: must be positive", "Error5xxRatePercent: must be in (0, 100], got 101", "MinRunningTasks: must be at least 1, got -1"}},
		{"topics", func(f fixture, p *fargateservice.Props) { p.AlarmTopicArns = []string{"ops"} }, []string{"AlarmTopicArns[0]: \"ops\" is not an SNS topic ARN"}},
		{"rate limit", func(f fixture, p *fargateservice.Props) { p.RateLimitPer5Minutes = 5 }, []string{"RateLimitPer5Minutes: must be between 10 and 2000000000, got 5"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			p := baseProps(f.key)
			tc.mutate(f, p)
			fargateservice.New(f.stack, "Svc", p)
			errs := synthtest.ValidationErrors(t, f.stack)
			for _, want := range tc.want {
				found := false
				for _, e := range errs {
					if strings.Contains(e, "] "+want) && strings.Contains(e, "[test/Svc") {
						found = true
					}
				}
				assert.True(t, found, "want %q among:\n%s", want, strings.Join(errs, "\n"))
			}
			assert.Len(t, errs, len(tc.want), "exactly the expected violations:\n%s", strings.Join(errs, "\n"))
		})
	}
}

func TestSubnetCidrs(t *testing.T) {
	pub, priv, err := fargateservice.SubnetCidrs("10.1.0.0/24")
	require.NoError(t, err)
	assert.Equal(t, []string{"10.1.0.0/26", "10.1.0.64/26"}, pub)
	assert.Equal(t, []string{"10.1.0.128/26", "10.1.0.192/26"}, priv)
	_, _, err = fargateservice.SubnetCidrs("10.1.0.0/25")
	assert.Error(t, err)
}

func TestValidateImageURI(t *testing.T) {
	for uri, ok := range map[string]bool{
		"123456789012.dkr.ecr.us-east-1.amazonaws.com/registry@sha256:" + digest: true,
		"localhost:5000/a/b@sha256:" + digest:                                    true,
		"public.ecr.aws/a/b:1.0":                                                 false,
		"public.ecr.aws/a/b@sha256:" + strings.ToUpper(digest):                   false,
		"public.ecr.aws/a/b:1.0@sha256:" + digest:                                false,
		"b@sha256:" + digest:                                                     false,
	} {
		assert.Equal(t, ok, fargateservice.ValidateImageURI(uri) == nil, uri)
	}
	img := fargateservice.ImageFromDigestURI("x")
	img.GrantPull(nil) // grants nothing, needs nothing
	assert.Equal(t, "x", *img.ImageURI())
}
