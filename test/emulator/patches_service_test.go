package emulator

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

func TestPatchECSCreateServiceSettings(t *testing.T) {
	testPatch(t, PatchECSCreateServiceSettings, Options{}, ecsDeploymentConfiguration, "kept the service settings")
}

// ecsDeploymentConfiguration creates a service with a circuit breaker, a grace period and
// managed tags and rebalancing off, and one without them, and checks DescribeServices reports what AWS does.
func ecsDeploymentConfiguration(t *testing.T, e *Emulator) error {
	t.Helper()
	ctx := context.Background()
	cfg, err := e.AWSConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c := ecs.NewFromConfig(cfg, func(o *ecs.Options) { o.RetryMaxAttempts = patchTestAttempts })
	if _, err := c.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String("c")}); err != nil {
		t.Fatal(err)
	}
	td, err := c.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
		Family: aws.String("f"), NetworkMode: ecstypes.NetworkModeAwsvpc, Cpu: aws.String("256"), Memory: aws.String("512"),
		RequiresCompatibilities: []ecstypes.Compatibility{ecstypes.CompatibilityFargate},
		ContainerDefinitions:    []ecstypes.ContainerDefinition{{Name: aws.String("app"), Image: aws.String("nginx")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	create := func(name string, dc *ecstypes.DeploymentConfiguration, grace *int32, managedTags bool, rebalancing ecstypes.AvailabilityZoneRebalancing) {
		if _, err := c.CreateService(ctx, &ecs.CreateServiceInput{
			Cluster: aws.String("c"), ServiceName: aws.String(name), TaskDefinition: td.TaskDefinition.TaskDefinitionArn,
			DesiredCount: aws.Int32(1), LaunchType: ecstypes.LaunchTypeFargate, DeploymentConfiguration: dc,
			HealthCheckGracePeriodSeconds: grace, EnableECSManagedTags: managedTags, AvailabilityZoneRebalancing: rebalancing,
		}); err != nil {
			t.Fatal(err)
		}
	}
	create("guarded", &ecstypes.DeploymentConfiguration{
		DeploymentCircuitBreaker: &ecstypes.DeploymentCircuitBreaker{Enable: true, Rollback: true},
		MinimumHealthyPercent:    aws.Int32(50), MaximumPercent: aws.Int32(150),
	}, aws.Int32(60), true, ecstypes.AvailabilityZoneRebalancingDisabled)
	create("plain", nil, nil, false, "")
	out, err := c.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String("c"), Services: []string{"guarded", "plain"}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"guarded": "cb=true/true min=50 max=150 grace=60 tags=true az=DISABLED", "plain": "cb=false/false min=100 max=200 grace=0 tags=false az=ENABLED"}
	for _, s := range out.Services {
		dc := s.DeploymentConfiguration
		if dc == nil || dc.DeploymentCircuitBreaker == nil {
			return fmt.Errorf("service %s: no deployment configuration reported", aws.ToString(s.ServiceName))
		}
		got := fmt.Sprintf("cb=%v/%v min=%d max=%d grace=%d tags=%v az=%s", dc.DeploymentCircuitBreaker.Enable, dc.DeploymentCircuitBreaker.Rollback,
			aws.ToInt32(dc.MinimumHealthyPercent), aws.ToInt32(dc.MaximumPercent), aws.ToInt32(s.HealthCheckGracePeriodSeconds), s.EnableECSManagedTags, s.AvailabilityZoneRebalancing)
		if got != want[aws.ToString(s.ServiceName)] {
			return fmt.Errorf("service %s: %s, AWS reports %s", aws.ToString(s.ServiceName), got, want[aws.ToString(s.ServiceName)])
		}
	}
	return nil
}

func TestPatchELBv2DefaultScheme(t *testing.T) {
	testPatch(t, PatchELBv2DefaultScheme, Options{}, elbDefaultScheme, "reported the default scheme")
}

// elbDefaultScheme creates load balancers with and without Scheme and checks the
// schemes AWS would report.
func elbDefaultScheme(t *testing.T, e *Emulator) error {
	t.Helper()
	ctx := context.Background()
	cfg, err := e.AWSConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ec2c := ec2.NewFromConfig(cfg)
	vpc, err := ec2c.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.0.0.0/16")})
	if err != nil {
		t.Fatal(err)
	}
	var subnets []string
	for i, az := range []string{"us-east-1a", "us-east-1b"} {
		sn, err := ec2c.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: vpc.Vpc.VpcId, AvailabilityZone: aws.String(az),
			CidrBlock: aws.String(fmt.Sprintf("10.0.%d.0/24", i))})
		if err != nil {
			t.Fatal(err)
		}
		subnets = append(subnets, aws.ToString(sn.Subnet.SubnetId))
	}
	c := elb.NewFromConfig(cfg, func(o *elb.Options) { o.RetryMaxAttempts = patchTestAttempts })
	for name, want := range map[string]elbtypes.LoadBalancerSchemeEnum{
		"default":  elbtypes.LoadBalancerSchemeEnumInternetFacing,
		"internal": elbtypes.LoadBalancerSchemeEnumInternal,
	} {
		in := &elb.CreateLoadBalancerInput{Name: aws.String(name), Subnets: subnets, Type: elbtypes.LoadBalancerTypeEnumApplication}
		if name == "internal" {
			in.Scheme = elbtypes.LoadBalancerSchemeEnumInternal
		}
		created, err := c.CreateLoadBalancer(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		out, err := c.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{LoadBalancerArns: []string{aws.ToString(created.LoadBalancers[0].LoadBalancerArn)}})
		if err != nil {
			t.Fatal(err)
		}
		if got := out.LoadBalancers[0].Scheme; got != want {
			return fmt.Errorf("load balancer %s: scheme %q, AWS reports %q", name, got, want)
		}
	}
	return nil
}

// ec2WithVPC returns an EC2 client of e and a new VPC's id.
func ec2WithVPC(t *testing.T, e *Emulator) (*ec2.Client, *string) {
	t.Helper()
	ctx := context.Background()
	cfg, err := e.AWSConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c := ec2.NewFromConfig(cfg, func(o *ec2.Options) { o.RetryMaxAttempts = patchTestAttempts })
	vpc, err := c.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.0.0.0/16")})
	if err != nil {
		t.Fatal(err)
	}
	return c, vpc.Vpc.VpcId
}

func TestPatchEC2RuleDescriptions(t *testing.T) {
	testPatch(t, PatchEC2RuleDescriptions, Options{}, ruleDescriptions, "kept the descriptions")
}

// ruleDescriptions adds rules whose peers are a CIDR, a security group and a prefix
// list, each with a description, and checks DescribeSecurityGroupRules returns them.
func ruleDescriptions(t *testing.T, e *Emulator) error {
	t.Helper()
	ctx := context.Background()
	c, vpc := ec2WithVPC(t, e)
	group := func(name string) *string {
		g, err := c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String(name), Description: aws.String(name), VpcId: vpc})
		if err != nil {
			t.Fatal(err)
		}
		return g.GroupId
	}
	a, b := group("a"), group("b")
	pl, err := c.CreateManagedPrefixList(ctx, &ec2.CreateManagedPrefixListInput{
		PrefixListName: aws.String("pl"), AddressFamily: aws.String("IPv4"), MaxEntries: aws.Int32(1),
	})
	if err != nil {
		t.Fatal(err)
	}
	tcp := func(port int32) ec2types.IpPermission {
		return ec2types.IpPermission{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(port), ToPort: aws.Int32(port)}
	}
	cidr, grp, prefix := tcp(80), tcp(8080), tcp(443)
	cidr.IpRanges = []ec2types.IpRange{{CidrIp: aws.String("203.0.113.0/24"), Description: aws.String("from cidr")}}
	grp.UserIdGroupPairs = []ec2types.UserIdGroupPair{{GroupId: b, Description: aws.String("from group")}}
	prefix.PrefixListIds = []ec2types.PrefixListId{{PrefixListId: pl.PrefixList.PrefixListId, Description: aws.String("to prefix list")}}
	if _, err := c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: a, IpPermissions: []ec2types.IpPermission{cidr, grp}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AuthorizeSecurityGroupEgress(ctx, &ec2.AuthorizeSecurityGroupEgressInput{GroupId: a, IpPermissions: []ec2types.IpPermission{prefix}}); err != nil {
		t.Fatal(err)
	}
	rules, err := c.DescribeSecurityGroupRules(ctx, &ec2.DescribeSecurityGroupRulesInput{
		Filters: []ec2types.Filter{{Name: aws.String("group-id"), Values: []string{aws.ToString(a)}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[int32]string{80: "from cidr", 8080: "from group", 443: "to prefix list"}
	for _, r := range rules.SecurityGroupRules {
		w, ok := want[aws.ToInt32(r.FromPort)]
		if !ok {
			continue // the default egress rule
		}
		if got := aws.ToString(r.Description); got != w {
			return fmt.Errorf("rule on port %d: description %q, AWS returns %q", aws.ToInt32(r.FromPort), got, w)
		}
		delete(want, aws.ToInt32(r.FromPort))
	}
	if len(want) > 0 {
		t.Fatalf("rules missing: %v", want)
	}
	return nil
}

func TestPatchEC2VPCEndpointDeleteAgain(t *testing.T) {
	testPatch(t, PatchEC2VPCEndpointDeleteAgain, Options{}, gatewayEndpointDeletedTwice, "deleted a deleted gateway endpoint again")
}

// gatewayEndpointDeletedTwice deletes a gateway endpoint with a route table twice, as a
// client does that lost the first answer; AWS answers both with success.
func gatewayEndpointDeletedTwice(t *testing.T, e *Emulator) error {
	t.Helper()
	ctx := context.Background()
	c, vpc := ec2WithVPC(t, e)
	routes, err := c.CreateRouteTable(ctx, &ec2.CreateRouteTableInput{VpcId: vpc})
	if err != nil {
		t.Fatal(err)
	}
	endpoint, err := c.CreateVpcEndpoint(ctx, &ec2.CreateVpcEndpointInput{
		VpcId: vpc, ServiceName: aws.String("com.amazonaws." + e.Region() + ".s3"),
		VpcEndpointType: ec2types.VpcEndpointTypeGateway, RouteTableIds: []string{aws.ToString(routes.RouteTable.RouteTableId)},
	})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(endpoint.VpcEndpoint.VpcEndpointId)
	for _, attempt := range []string{"first", "second"} {
		out, err := c.DeleteVpcEndpoints(ctx, &ec2.DeleteVpcEndpointsInput{VpcEndpointIds: []string{id}})
		if err != nil {
			return fmt.Errorf("%s DeleteVpcEndpoints of %s: %w", attempt, id, err)
		}
		if len(out.Unsuccessful) > 0 {
			return fmt.Errorf("%s DeleteVpcEndpoints of %s: unsuccessful %+v", attempt, id, out.Unsuccessful[0].Error)
		}
	}
	return nil
}

func TestPatchCloudWatchCBOR(t *testing.T) {
	testPatch(t, PatchCloudWatchCBOR, Options{}, cloudWatchAlarms, "answered the Go SDK's CloudWatch client")
}

// cloudWatchAlarms puts a percentile alarm and a metric-math alarm with the Go SDK
// (which speaks CBOR), reads them back, and deletes them.
func cloudWatchAlarms(t *testing.T, e *Emulator) error {
	t.Helper()
	ctx := context.Background()
	cfg, err := e.AWSConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c := cloudwatch.NewFromConfig(cfg, func(o *cloudwatch.Options) { o.RetryMaxAttempts = patchTestAttempts })
	dims := []cwtypes.Dimension{{Name: aws.String("LoadBalancer"), Value: aws.String("app/lb/1")}}
	if _, err := c.PutMetricAlarm(ctx, &cloudwatch.PutMetricAlarmInput{
		AlarmName: aws.String("latency"), Namespace: aws.String("AWS/ApplicationELB"), MetricName: aws.String("TargetResponseTime"),
		ExtendedStatistic: aws.String("p95"), Dimensions: dims, Period: aws.Int32(60), EvaluationPeriods: aws.Int32(5),
		Threshold: aws.Float64(1.5), ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanThreshold,
	}); err != nil {
		return err
	}
	if _, err := c.PutMetricAlarm(ctx, &cloudwatch.PutMetricAlarmInput{
		AlarmName: aws.String("errors"), EvaluationPeriods: aws.Int32(3), Threshold: aws.Float64(5),
		ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanThreshold,
		Metrics: []cwtypes.MetricDataQuery{
			{Id: aws.String("m"), ReturnData: aws.Bool(false), MetricStat: &cwtypes.MetricStat{
				Metric: &cwtypes.Metric{Namespace: aws.String("AWS/ApplicationELB"), MetricName: aws.String("RequestCount"), Dimensions: dims},
				Period: aws.Int32(60), Stat: aws.String("Sum"),
			}},
			{Id: aws.String("e"), Expression: aws.String("m * 2"), ReturnData: aws.Bool(true)},
		},
	}); err != nil {
		return err
	}
	out, err := c.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNamePrefix: aws.String("")})
	if err != nil {
		return err
	}
	got := map[string]cwtypes.MetricAlarm{}
	for _, a := range out.MetricAlarms {
		got[aws.ToString(a.AlarmName)] = a
	}
	lat, errs := got["latency"], got["errors"]
	if aws.ToString(lat.ExtendedStatistic) != "p95" || aws.ToFloat64(lat.Threshold) != 1.5 || lat.AlarmConfigurationUpdatedTimestamp == nil {
		t.Fatalf("latency alarm read back as %+v", lat)
	}
	if len(errs.Metrics) != 2 || aws.ToString(errs.Metrics[1].Expression) != "m * 2" ||
		aws.ToString(errs.Metrics[0].MetricStat.Metric.MetricName) != "RequestCount" {
		t.Fatalf("metric-math alarm read back as %+v", errs)
	}
	if _, err := c.DeleteAlarms(ctx, &cloudwatch.DeleteAlarmsInput{AlarmNames: []string{"latency", "errors"}}); err != nil {
		return err
	}
	// An error answer must reach the caller as the AWS error, not a decoding failure.
	_, err = c.TagResource(ctx, &cloudwatch.TagResourceInput{
		ResourceARN: aws.String("arn:aws:cloudwatch:us-east-1:123456789012:alarm:latency"),
		Tags:        []cwtypes.Tag{{Key: aws.String("k"), Value: aws.String("v")}},
	})
	var notFound *cwtypes.ResourceNotFoundException
	if !errors.As(err, &notFound) {
		t.Fatalf("tagging a deleted alarm: got %v, AWS returns ResourceNotFoundException", err)
	}
	return nil
}
