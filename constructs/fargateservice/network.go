package fargateservice

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/aws/jsii-runtime-go"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/dataawsavailabilityzones"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/defaultsecuritygroup"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/internetgateway"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/route"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/routetable"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/routetableassociation"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/securitygroup"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/subnet"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/vpc"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/vpcendpoint"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/vpcsecuritygroupegressrule"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/vpcsecuritygroupingressrule"
	"github.com/hashicorp/terraform-cdk-go/cdktf"

	"github.com/acme/module-registry/constructs/internal/awsenv"
	"github.com/acme/module-registry/constructs/internal/validation"
)

// network is the VPC part of a Service: subnets, endpoints and the security groups.
type network struct {
	vpcID          string
	publicSubnets  []string
	privateSubnets []string
	defaultSG      defaultsecuritygroup.DefaultSecurityGroup
	albSG          securitygroup.SecurityGroup
	taskSG         securitygroup.SecurityGroup
	endpointSG     securitygroup.SecurityGroup
}

// SubnetCidrs splits a VPC range into four equal subnets: public in zone a and b, then
// private in zone a and b.
func SubnetCidrs(vpcCidr string) (public, private []string, err error) {
	prefix, err := netip.ParsePrefix(vpcCidr)
	if err != nil || !prefix.Addr().Is4() || prefix.Masked() != prefix {
		return nil, nil, fmt.Errorf("%q is not an IPv4 network in CIDR notation (like 10.0.0.0/16)", vpcCidr)
	}
	if prefix.Bits() < 16 || prefix.Bits() > 24 {
		return nil, nil, fmt.Errorf("%q must be a /16 to /24 (AWS allows /16-/28 for a VPC; four subnets of it must hold tasks)", vpcCidr)
	}
	bits := prefix.Bits() + 2
	size := uint32(1) << (32 - bits)
	base := prefix.Addr().As4()
	start := uint32(base[0])<<24 | uint32(base[1])<<16 | uint32(base[2])<<8 | uint32(base[3])
	var out []string
	for i := uint32(0); i < 4; i++ {
		a := start + i*size
		out = append(out, fmt.Sprintf("%d.%d.%d.%d/%d", a>>24, a>>16&0xff, a>>8&0xff, a&0xff, bits))
	}
	return out[:2], out[2:], nil
}

func newNetwork(s *Service, env awsenv.Env, p Props) *network {
	n := &network{}
	if p.ExistingVpc != nil {
		n.vpcID = p.ExistingVpc.VpcID
		n.publicSubnets = p.ExistingVpc.PublicSubnetIDs
		n.privateSubnets = p.ExistingVpc.PrivateSubnetIDs
		n.securityGroups(s, p)
		for i, cidr := range p.ExistingVpc.TaskEgressCidrs {
			egress(s, fmt.Sprintf("TaskHttpsEgress%d", i), n.taskSG, "HTTPS to AWS services", 443, func(c *vpcsecuritygroupegressrule.VpcSecurityGroupEgressRuleConfig) {
				setCidr(&c.CidrIpv4, &c.CidrIpv6, cidr)
			})
		}
		return n
	}

	public, private, err := SubnetCidrs(p.VpcCidr)
	if err != nil {
		// Reported by validation; placeholders keep the tree buildable.
		public, private = []string{"10.0.0.0/18", "10.0.64.0/18"}, []string{"10.0.128.0/18", "10.0.192.0/18"}
	}
	zones := p.AvailabilityZones
	if len(zones) == 0 {
		azs := dataawsavailabilityzones.NewDataAwsAvailabilityZones(s, jsii.String("Zones"), &dataawsavailabilityzones.DataAwsAvailabilityZonesConfig{
			State: jsii.String("available"),
		})
		for i := 0; i < 2; i++ {
			zones = append(zones, *cdktf.Token_AsString(cdktf.Fn_Element(azs.Names(), jsii.Number(float64(i))), nil))
		}
	}
	v := vpc.NewVpc(s, jsii.String("Vpc"), &vpc.VpcConfig{
		CidrBlock: jsii.String(p.VpcCidr),
		// Interface endpoints' private DNS names need both.
		EnableDnsSupport:   jsii.Bool(true),
		EnableDnsHostnames: jsii.Bool(true),
		Tags:               &map[string]*string{"Name": jsii.String(p.Name)},
	})
	n.vpcID = *v.Id()
	// The VPC's default security group keeps no rules at all: nothing here uses it, and
	// whatever lands in it by mistake can reach nothing and be reached by nothing.
	n.defaultSG = defaultsecuritygroup.NewDefaultSecurityGroup(s, jsii.String("DefaultSecurityGroup"), &defaultsecuritygroup.DefaultSecurityGroupConfig{
		VpcId: v.Id(),
		Tags:  &map[string]*string{"Name": jsii.String(p.Name + "-default-unused")},
	})
	// Empty lists, not omitted ones: omitted, later rules would go unnoticed.
	n.defaultSG.AddOverride(jsii.String("ingress"), []any{})
	n.defaultSG.AddOverride(jsii.String("egress"), []any{})
	s.createFlowLogs(env, v.Id())
	igw := internetgateway.NewInternetGateway(s, jsii.String("InternetGateway"), &internetgateway.InternetGatewayConfig{
		VpcId: v.Id(), Tags: &map[string]*string{"Name": jsii.String(p.Name)},
	})
	publicRoutes := routetable.NewRouteTable(s, jsii.String("PublicRoutes"), &routetable.RouteTableConfig{
		VpcId: v.Id(), Tags: &map[string]*string{"Name": jsii.String(p.Name + "-public")},
	})
	route.NewRoute(s, jsii.String("PublicDefaultRoute"), &route.RouteConfig{
		RouteTableId: publicRoutes.Id(), DestinationCidrBlock: jsii.String("0.0.0.0/0"), GatewayId: igw.Id(),
	})
	// The private route table has no default route: tasks reach AWS only via endpoints.
	privateRoutes := routetable.NewRouteTable(s, jsii.String("PrivateRoutes"), &routetable.RouteTableConfig{
		VpcId: v.Id(), Tags: &map[string]*string{"Name": jsii.String(p.Name + "-private")},
	})
	subnetIn := func(kind string, i int, cidr string, routes routetable.RouteTable) string {
		id := fmt.Sprintf("%sSubnet%d", kind, i)
		sn := subnet.NewSubnet(s, jsii.String(id), &subnet.SubnetConfig{
			VpcId: v.Id(), CidrBlock: jsii.String(cidr), AvailabilityZone: jsii.String(zones[min(i, len(zones)-1)]),
			MapPublicIpOnLaunch: jsii.Bool(false),
			Tags:                &map[string]*string{"Name": jsii.String(fmt.Sprintf("%s-%s-%d", p.Name, strings.ToLower(kind), i))},
		})
		routetableassociation.NewRouteTableAssociation(s, jsii.String(id+"Routes"), &routetableassociation.RouteTableAssociationConfig{
			SubnetId: sn.Id(), RouteTableId: routes.Id(),
		})
		return *sn.Id()
	}
	for i := 0; i < 2; i++ {
		n.publicSubnets = append(n.publicSubnets, subnetIn("Public", i, public[i], publicRoutes))
		n.privateSubnets = append(n.privateSubnets, subnetIn("Private", i, private[i], privateRoutes))
	}

	n.securityGroups(s, p)
	n.endpointSG = securitygroup.NewSecurityGroup(s, jsii.String("EndpointSecurityGroup"), &securitygroup.SecurityGroupConfig{
		Name:        jsii.String(p.Name + "-endpoints"),
		Description: jsii.String("VPC interface endpoints of " + p.Name + ": HTTPS from its tasks only"),
		VpcId:       v.Id(),
	})
	ingress(s, "EndpointHttpsFromTasks", n.endpointSG, "HTTPS from the tasks", 443, func(c *vpcsecuritygroupingressrule.VpcSecurityGroupIngressRuleConfig) {
		c.ReferencedSecurityGroupId = n.taskSG.Id()
	})
	egress(s, "TaskHttpsToEndpoints", n.taskSG, "HTTPS to the VPC interface endpoints", 443, func(c *vpcsecuritygroupegressrule.VpcSecurityGroupEgressRuleConfig) {
		c.ReferencedSecurityGroupId = n.endpointSG.Id()
	})
	for _, svc := range interfaceEndpointServices(p) {
		vpcendpoint.NewVpcEndpoint(s, jsii.String("Endpoint"+endpointID(svc)), &vpcendpoint.VpcEndpointConfig{
			VpcId:             v.Id(),
			ServiceName:       jsii.String("com.amazonaws." + *env.Region + "." + svc),
			VpcEndpointType:   jsii.String("Interface"),
			SubnetIds:         jsii.Strings(n.privateSubnets...),
			SecurityGroupIds:  jsii.Strings(*n.endpointSG.Id()),
			PrivateDnsEnabled: jsii.Bool(true),
		})
	}
	for _, svc := range []string{"s3", "dynamodb"} {
		gw := vpcendpoint.NewVpcEndpoint(s, jsii.String("Endpoint"+endpointID(svc)), &vpcendpoint.VpcEndpointConfig{
			VpcId:           v.Id(),
			ServiceName:     jsii.String("com.amazonaws." + *env.Region + "." + svc),
			VpcEndpointType: jsii.String("Gateway"),
			RouteTableIds:   jsii.Strings(*privateRoutes.Id()),
		})
		egress(s, "TaskHttpsTo"+endpointID(svc), n.taskSG, "HTTPS to "+svc+" through its gateway endpoint", 443, func(c *vpcsecuritygroupegressrule.VpcSecurityGroupEgressRuleConfig) {
			c.PrefixListId = gw.PrefixListId()
		})
	}
	return n
}

// securityGroups creates the load balancer's and the tasks' groups and the rules between
// them. Rules are separate resources so each is visible and replaceable on its own;
// aws_security_group removes AWS's default allow-all egress.
func (n *network) securityGroups(s *Service, p Props) {
	vpcID := jsii.String(n.vpcID)
	n.albSG = securitygroup.NewSecurityGroup(s, jsii.String("LoadBalancerSecurityGroup"), &securitygroup.SecurityGroupConfig{
		Name:        jsii.String(p.Name + "-alb"),
		Description: jsii.String("Load balancer of " + p.Name + ": HTTP(S) from the allowed ranges, to the tasks only"),
		VpcId:       vpcID,
	})
	n.taskSG = securitygroup.NewSecurityGroup(s, jsii.String("TaskSecurityGroup"), &securitygroup.SecurityGroupConfig{
		Name:        jsii.String(p.Name + "-tasks"),
		Description: jsii.String("Tasks of " + p.Name + ": the container port from the load balancer only"),
		VpcId:       vpcID,
	})
	ports := []int{80}
	if p.CertificateArn != "" {
		ports = append(ports, 443)
	}
	for i, cidr := range p.IngressCidrs {
		for _, port := range ports {
			ingress(s, fmt.Sprintf("LoadBalancerPort%dFrom%d", port, i), n.albSG, fmt.Sprintf("port %d from %s", port, cidr), port,
				func(c *vpcsecuritygroupingressrule.VpcSecurityGroupIngressRuleConfig) {
					setCidr(&c.CidrIpv4, &c.CidrIpv6, cidr)
				})
		}
	}
	egress(s, "LoadBalancerToTasks", n.albSG, "container port of the tasks", p.ContainerPort, func(c *vpcsecuritygroupegressrule.VpcSecurityGroupEgressRuleConfig) {
		c.ReferencedSecurityGroupId = n.taskSG.Id()
	})
	ingress(s, "TasksFromLoadBalancer", n.taskSG, "container port from the load balancer", p.ContainerPort, func(c *vpcsecuritygroupingressrule.VpcSecurityGroupIngressRuleConfig) {
		c.ReferencedSecurityGroupId = n.albSG.Id()
	})
}

func ingress(s *Service, id string, sg securitygroup.SecurityGroup, desc string, port int, set func(*vpcsecuritygroupingressrule.VpcSecurityGroupIngressRuleConfig)) {
	c := &vpcsecuritygroupingressrule.VpcSecurityGroupIngressRuleConfig{
		SecurityGroupId: sg.Id(), Description: jsii.String(desc), IpProtocol: jsii.String("tcp"),
		FromPort: jsii.Number(float64(port)), ToPort: jsii.Number(float64(port)),
	}
	set(c)
	vpcsecuritygroupingressrule.NewVpcSecurityGroupIngressRule(s, jsii.String(id), c)
}

func egress(s *Service, id string, sg securitygroup.SecurityGroup, desc string, port int, set func(*vpcsecuritygroupegressrule.VpcSecurityGroupEgressRuleConfig)) {
	c := &vpcsecuritygroupegressrule.VpcSecurityGroupEgressRuleConfig{
		SecurityGroupId: sg.Id(), Description: jsii.String(desc), IpProtocol: jsii.String("tcp"),
		FromPort: jsii.Number(float64(port)), ToPort: jsii.Number(float64(port)),
	}
	set(c)
	vpcsecuritygroupegressrule.NewVpcSecurityGroupEgressRule(s, jsii.String(id), c)
}

func setCidr(v4, v6 **string, cidr string) {
	if strings.Contains(cidr, ":") {
		*v6 = jsii.String(cidr)
	} else {
		*v4 = jsii.String(cidr)
	}
}

// endpointID turns "ecr.api" into "EcrApi".
func endpointID(svc string) string { return validation.PascalCase(svc) }

// interfaceEndpointServices are the defaults plus the valid extras; invalid or repeated
// extras are reported by validation and left out here.
func interfaceEndpointServices(p Props) []string {
	out := append([]string{}, DefaultInterfaceEndpointServices...)
	for _, svc := range p.ExtraInterfaceEndpointServices {
		if validExtraEndpoint(svc) && !slices.Contains(out, svc) {
			out = append(out, svc)
		}
	}
	return out
}
