package emulator

import (
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

func TestPatchECSDeploymentConfiguration(t *testing.T) {
	t.Parallel()
	t.Run("patched", func(t *testing.T) {
		t.Parallel()
		if err := ecsDeploymentConfiguration(t, Start(t)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("disabled", func(t *testing.T) {
		t.Parallel()
		if err := ecsDeploymentConfiguration(t, Start(t, Options{DisablePatches: []string{PatchECSDeploymentConfiguration}})); err == nil {
			t.Fatal("moto kept the deployment configuration without the patch; is the patch still needed?")
		}
	})
}

// ecsDeploymentConfiguration creates a service with a circuit breaker and one without
// a deployment configuration, and checks DescribeServices reports what AWS does.
func ecsDeploymentConfiguration(t *testing.T, e *Emulator) error {
	t.Helper()
	ctx := context.Background()
	cfg, err := e.AWSConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c := ecs.NewFromConfig(cfg, func(o *ecs.Options) { o.RetryMaxAttempts = 1 })
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
	create := func(name string, dc *ecstypes.DeploymentConfiguration) {
		if _, err := c.CreateService(ctx, &ecs.CreateServiceInput{
			Cluster: aws.String("c"), ServiceName: aws.String(name), TaskDefinition: td.TaskDefinition.TaskDefinitionArn,
			DesiredCount: aws.Int32(1), LaunchType: ecstypes.LaunchTypeFargate, DeploymentConfiguration: dc,
		}); err != nil {
			t.Fatal(err)
		}
	}
	create("guarded", &ecstypes.DeploymentConfiguration{
		DeploymentCircuitBreaker: &ecstypes.DeploymentCircuitBreaker{Enable: true, Rollback: true},
		MinimumHealthyPercent:    aws.Int32(50), MaximumPercent: aws.Int32(150),
	})
	create("plain", nil)
	out, err := c.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String("c"), Services: []string{"guarded", "plain"}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"guarded": "cb=true/true min=50 max=150", "plain": "cb=false/false min=100 max=200"}
	for _, s := range out.Services {
		dc := s.DeploymentConfiguration
		if dc == nil || dc.DeploymentCircuitBreaker == nil {
			return fmt.Errorf("service %s: no deployment configuration reported", aws.ToString(s.ServiceName))
		}
		got := fmt.Sprintf("cb=%v/%v min=%d max=%d", dc.DeploymentCircuitBreaker.Enable, dc.DeploymentCircuitBreaker.Rollback,
			aws.ToInt32(dc.MinimumHealthyPercent), aws.ToInt32(dc.MaximumPercent))
		if got != want[aws.ToString(s.ServiceName)] {
			return fmt.Errorf("service %s: %s, AWS reports %s", aws.ToString(s.ServiceName), got, want[aws.ToString(s.ServiceName)])
		}
	}
	return nil
}

func TestPatchELBv2DefaultScheme(t *testing.T) {
	t.Parallel()
	t.Run("patched", func(t *testing.T) {
		t.Parallel()
		if err := elbDefaultScheme(t, Start(t)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("disabled", func(t *testing.T) {
		t.Parallel()
		if err := elbDefaultScheme(t, Start(t, Options{DisablePatches: []string{PatchELBv2DefaultScheme}})); err == nil {
			t.Fatal("moto reported the default scheme without the patch; is the patch still needed?")
		}
	})
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
	c := elb.NewFromConfig(cfg, func(o *elb.Options) { o.RetryMaxAttempts = 1 })
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
