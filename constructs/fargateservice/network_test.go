package fargateservice_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/constructs/fargateservice"
	"github.com/acme/module-registry/constructs/internal/synthtest"
)

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
		assert.Contains(t, s, "Svc_PrivateSubnet", "internal load balancer in the private subnets by default")
	}

	r, _ = synth(t, func(f fixture, p *fargateservice.Props) {
		p.VpcCidr, p.AvailabilityZones = "172.16.0.0/20", []string{"eu-west-1a", "eu-west-1b"}
		p.ExtraInterfaceEndpointServices = []string{"kms"}
		p.InternetFacing = true
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
	assert.Equal(t, false, alb["internal"])
	for _, s := range synthtest.Strings(alb["subnets"]) {
		assert.Contains(t, s, "Svc_PublicSubnet", "an internet-facing load balancer in the public subnets")
	}
}

func TestExistingVpc(t *testing.T) {
	r, svc := synth(t, func(f fixture, p *fargateservice.Props) {
		p.InternetFacing = true
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

	// Internal (the default): no public subnets needed, the load balancer sits with the tasks.
	r, _ = synth(t, func(f fixture, p *fargateservice.Props) {
		p.ExistingVpc = &fargateservice.ExistingVpc{VpcID: "vpc-0123456789abcdef0", PrivateSubnetIDs: []string{"subnet-00000003", "subnet-00000004"}}
	})
	assert.Equal(t, []any{"subnet-00000003", "subnet-00000004"}, r.Resource(t, "aws_lb")["subnets"])
	assert.Equal(t, true, r.Resource(t, "aws_lb")["internal"])
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

func TestSubnetCidrs(t *testing.T) {
	pub, priv, err := fargateservice.SubnetCidrs("10.1.0.0/24")
	require.NoError(t, err)
	assert.Equal(t, []string{"10.1.0.0/26", "10.1.0.64/26"}, pub)
	assert.Equal(t, []string{"10.1.0.128/26", "10.1.0.192/26"}, priv)
	_, _, err = fargateservice.SubnetCidrs("10.1.0.0/25")
	assert.Error(t, err)
}
