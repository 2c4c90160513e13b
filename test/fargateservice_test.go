package test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	aas "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	aastypes "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/wafv2"
	waftypes "github.com/aws/aws-sdk-go-v2/service/wafv2/types"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/ecrlifecyclepolicy"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/ecrrepository"
	"github.com/hashicorp/terraform-cdk-go/cdktf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/app/config"
	"github.com/acme/module-registry/constructs/accesslogs"
	"github.com/acme/module-registry/constructs/containerimage"
	"github.com/acme/module-registry/constructs/encryptionkey"
	"github.com/acme/module-registry/constructs/fargateservice"
	"github.com/acme/module-registry/constructs/iampolicy"
	"github.com/acme/module-registry/constructs/jwtsecret"
	"github.com/acme/module-registry/constructs/removal"
	"github.com/acme/module-registry/test/deploy"
)

// testImageDigest stands in for a pushed image's digest.
const testImageDigest = "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"

// repositoryImage is an image in an ECR repository, pinned by digest, granting pull on
// that repository as containerimage.Image does.
type repositoryImage struct {
	scope constructs.Construct
	repo  ecrrepository.EcrRepository
}

func (i repositoryImage) ImageURI() *string {
	return jsii.String(*i.repo.RepositoryUrl() + "@" + testImageDigest)
}

func (i repositoryImage) GrantPull(role iampolicy.Role) {
	iampolicy.Grant(i.scope, iampolicy.GrantID("Pull", role, 1), role, iampolicy.Statement{
		Sid:       "PullAuthorization",
		Actions:   []string{"ecr:GetAuthorizationToken"},
		Resources: []string{"*"}, // AWS requires "*" for GetAuthorizationToken
	}, iampolicy.Statement{
		Sid:       "PullImage",
		Actions:   []string{"ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"},
		Resources: []string{*i.repo.Arn()},
	})
}

func TestFargateServiceLive(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := deploy.Apply(t, "fargateservice", func(stack cdktf.TerraformStack, cfg config.Config) {
		key := encryptionkey.New(stack, "ProjectKey", nil)
		secret := jwtsecret.New(stack, "JwtSecret", &jwtsecret.Props{EncryptionKey: key, RemovalPolicy: removal.Destroy})
		repo := ecrrepository.NewEcrRepository(stack, jsii.String("Repository"), &ecrrepository.EcrRepositoryConfig{
			Name:                       jsii.String("acme-registry"),
			ImageTagMutability:         jsii.String("IMMUTABLE"),
			ImageScanningConfiguration: &ecrrepository.EcrRepositoryImageScanningConfiguration{ScanOnPush: jsii.Bool(true)},
			ForceDelete:                jsii.Bool(true),
			EncryptionConfiguration: &[]*ecrrepository.EcrRepositoryEncryptionConfiguration{{
				EncryptionType: jsii.String("KMS"), KmsKey: key.KeyArn(),
			}},
		})
		ecrlifecyclepolicy.NewEcrLifecyclePolicy(stack, jsii.String("RepositoryLifecycle"), &ecrlifecyclepolicy.EcrLifecyclePolicyConfig{
			Repository: repo.Name(), Policy: jsii.String(containerimage.LifecyclePolicy(containerimage.DefaultKeepImages)),
		})
		svc := fargateservice.New(stack, "Registry", &fargateservice.Props{
			Image:              repositoryImage{scope: stack, repo: repo},
			EncryptionKey:      key,
			IngressCidrs:       []string{"203.0.113.0/24"},
			AllowPlainHTTP:     true,
			InternetFacing:     true,
			RemovalPolicy:      removal.Destroy,
			HealthCheckCommand: []string{"CMD", "/registry", "-healthcheck"},
			Environment:        map[string]string{"REGISTRY_ADDR": "0.0.0.0:8080", "REGISTRY_PRODUCTION": "true"},
			Secrets: []fargateservice.ContainerSecret{
				{EnvName: "JWT_SECRET", Secret: secret, JSONKey: jwtsecret.FieldSecret},
			},
		})
		deploy.Output(stack, "cluster_name", svc.ClusterName())
		deploy.Output(stack, "service_name", svc.ServiceName())
		deploy.Output(stack, "task_definition_arn", svc.TaskDefinitionArn())
		deploy.Output(stack, "log_group_name", svc.LogGroupName())
		deploy.Output(stack, "log_group_arn", svc.LogGroupArn())
		deploy.Output(stack, "execution_role_arn", svc.ExecutionRoleArn())
		deploy.Output(stack, "task_role_arn", svc.TaskRoleArn())
		deploy.Output(stack, "lb_arn", svc.LoadBalancerArn())
		deploy.Output(stack, "lb_dns", svc.LoadBalancerDNSName())
		deploy.Output(stack, "service_url", svc.ServiceURL())
		deploy.Output(stack, "target_group_arn", svc.TargetGroupArn())
		deploy.Output(stack, "alb_sg", svc.LoadBalancerSecurityGroupID())
		deploy.Output(stack, "task_sg", svc.TaskSecurityGroupID())
		deploy.Output(stack, "vpc_id", svc.VpcID())
		deploy.Output(stack, "web_acl_arn", svc.WebACLArn())
		deploy.Output(stack, "secret_arn", secret.SecretArn())
		deploy.Output(stack, "repo_arn", repo.Arn())
		deploy.Output(stack, "repo_url", repo.RepositoryUrl())
		deploy.Output(stack, "key_arn", key.KeyArn())
		deploy.Output(stack, "waf_log_group", svc.WebACLLogGroupName())
		deploy.Output(stack, "flow_log_id", svc.FlowLogID())
		deploy.Output(stack, "flow_log_group", svc.FlowLogGroupName())
		deploy.Output(stack, "flow_log_role_arn", svc.FlowLogRoleArn())
		deploy.Output(stack, "default_sg", svc.DefaultSecurityGroupID())
		deploy.Output(stack, "access_logs_bucket", accesslogs.Of(stack).BucketName())
		deploy.Output(stack, "access_logs_bucket_arn", accesslogs.Of(stack).BucketArn())
	})
	out := func(name string) string { return d.Output(t, name) }
	account, region := d.Config.AccountID, d.Config.Region
	clusterName, serviceName := out("cluster_name"), out("service_name")
	logGroupName, logGroupArn := out("log_group_name"), strings.TrimSuffix(out("log_group_arn"), ":*")
	lbArn, albSG, taskSG := out("lb_arn"), out("alb_sg"), out("task_sg")
	secretArn, repoArn, keyArn := out("secret_arn"), out("repo_arn"), out("key_arn")
	execRoleName := roleNameOf(out("execution_role_arn"))
	taskRoleName := roleNameOf(out("task_role_arn"))

	assert.Equal(t, "acme-registry", clusterName)
	assert.Equal(t, "acme-registry", serviceName)
	assert.Equal(t, "/ecs/acme-registry", logGroupName)
	assert.Equal(t, "http://"+out("lb_dns"), out("service_url"))

	ecsc := ecs.NewFromConfig(d.AWS)
	t.Run("task definition", func(t *testing.T) {
		td, err := ecsc.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String(out("task_definition_arn"))})
		require.NoError(t, err)
		def := td.TaskDefinition
		assert.Equal(t, []ecstypes.Compatibility{ecstypes.CompatibilityFargate}, def.RequiresCompatibilities)
		assert.Equal(t, ecstypes.NetworkModeAwsvpc, def.NetworkMode)
		assert.Equal(t, "256", aws.ToString(def.Cpu))
		assert.Equal(t, "512", aws.ToString(def.Memory))
		assert.Equal(t, out("execution_role_arn"), aws.ToString(def.ExecutionRoleArn))
		assert.Equal(t, out("task_role_arn"), aws.ToString(def.TaskRoleArn))
		require.Len(t, def.ContainerDefinitions, 1)
		c := def.ContainerDefinitions[0]
		assert.Equal(t, out("repo_url")+"@"+testImageDigest, aws.ToString(c.Image), "pinned by digest")
		assert.True(t, aws.ToBool(c.ReadonlyRootFilesystem), "read-only root filesystem")
		assert.Equal(t, "65532:65532", aws.ToString(c.User))
		assert.False(t, aws.ToBool(c.Privileged))
		require.NotNil(t, c.LinuxParameters)
		require.NotNil(t, c.LinuxParameters.Capabilities)
		assert.Equal(t, []string{"ALL"}, c.LinuxParameters.Capabilities.Drop)
		require.Len(t, c.Secrets, 1)
		assert.Equal(t, "JWT_SECRET", aws.ToString(c.Secrets[0].Name))
		assert.Equal(t, secretArn+":jwt_secret::", aws.ToString(c.Secrets[0].ValueFrom))
		env := map[string]string{}
		for _, kv := range c.Environment {
			env[aws.ToString(kv.Name)] = aws.ToString(kv.Value)
		}
		assert.Equal(t, map[string]string{"REGISTRY_ADDR": "0.0.0.0:8080", "REGISTRY_PRODUCTION": "true"}, env)
		require.Len(t, c.PortMappings, 1)
		assert.EqualValues(t, 8080, aws.ToInt32(c.PortMappings[0].ContainerPort))
		require.NotNil(t, c.HealthCheck)
		assert.Equal(t, []string{"CMD", "/registry", "-healthcheck"}, c.HealthCheck.Command)
		require.NotNil(t, c.LogConfiguration)
		assert.Equal(t, ecstypes.LogDriverAwslogs, c.LogConfiguration.LogDriver)
		assert.Equal(t, map[string]string{
			"awslogs-group": logGroupName, "awslogs-region": region, "awslogs-stream-prefix": "app",
		}, c.LogConfiguration.Options)
	})

	logs := cloudwatchlogs.NewFromConfig(d.AWS)
	t.Run("log group", func(t *testing.T) {
		groups, err := logs.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: &logGroupName})
		require.NoError(t, err)
		require.Len(t, groups.LogGroups, 1)
		assert.EqualValues(t, 90, aws.ToInt32(groups.LogGroups[0].RetentionInDays))
		assert.Equal(t, keyArn, aws.ToString(groups.LogGroups[0].KmsKeyId), "encrypted with the project key")
	})

	iamc := iam.NewFromConfig(d.AWS)
	t.Run("execution role", func(t *testing.T) {
		trust := roleTrust(ctx, t, iamc, execRoleName, "ecs-tasks.amazonaws.com")
		assert.Equal(t, stringList{account}, trust.Condition["StringEquals"]["aws:SourceAccount"])
		st := inlineStatements(ctx, t, iamc, execRoleName)
		// Exactly: pull this image, write this log group, read this secret (and decrypt it
		// through Secrets Manager).
		want := map[string]policyStatement{
			"PullAuthorization": {Effect: "Allow", Action: stringList{"ecr:GetAuthorizationToken"}, Resource: stringList{"*"}},
			"PullImage": {Effect: "Allow", Action: stringList{"ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"},
				Resource: stringList{repoArn}},
			fargateservice.WriteLogsSid: {Effect: "Allow", Action: stringList{"logs:CreateLogStream", "logs:PutLogEvents"},
				Resource: stringList{logGroupArn + ":log-stream:*"}},
			"ReadJwtSecret": {Effect: "Allow", Action: stringList{"secretsmanager:GetSecretValue"},
				Resource: stringList{secretArn}},
			"UseKeyDecrypt": {Effect: "Allow", Action: stringList{"kms:Decrypt"}, Resource: stringList{keyArn},
				Condition: map[string]map[string]stringList{"StringEquals": {"kms:ViaService": {"secretsmanager." + region + ".amazonaws.com"}}}},
		}
		require.Len(t, st, len(want), "statements: %v", st)
		for sid, w := range want {
			g, ok := st[sid]
			if !assert.True(t, ok, "statement %s missing", sid) {
				continue
			}
			assert.Equal(t, w.Effect, g.Effect, sid)
			assert.ElementsMatch(t, w.Action, g.Action, sid)
			assert.ElementsMatch(t, w.Resource, g.Resource, sid)
			assert.Equal(t, w.Condition, nilIfEmpty(g.Condition), sid)
		}
	})

	t.Run("task role", func(t *testing.T) {
		trust := roleTrust(ctx, t, iamc, taskRoleName, "ecs-tasks.amazonaws.com")
		assert.Equal(t, stringList{account}, trust.Condition["StringEquals"]["aws:SourceAccount"])
		assert.Equal(t, stringList{"arn:aws:ecs:" + region + ":" + account + ":*"}, trust.Condition["ArnLike"]["aws:SourceArn"])
		assert.Empty(t, inlineStatements(ctx, t, iamc, taskRoleName), "no permissions until the stack grants some")
		attached, err := iamc.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: &taskRoleName})
		require.NoError(t, err)
		assert.Empty(t, attached.AttachedPolicies)
	})

	ec2c := ec2.NewFromConfig(d.AWS)
	t.Run("security groups", func(t *testing.T) {
		albRules := sgRules(ctx, t, ec2c, albSG)
		taskRules := sgRules(ctx, t, ec2c, taskSG)
		assert.ElementsMatch(t, []string{"in tcp 80-80 203.0.113.0/24", "out tcp 8080-8080 " + taskSG}, albRules,
			"load balancer: port 80 from the allowed range, out only to the tasks")
		require.Contains(t, taskRules, "in tcp 8080-8080 "+albSG, "tasks: container port from the load balancer")
		for _, r := range taskRules {
			if strings.HasPrefix(r, "in ") {
				assert.Equal(t, "in tcp 8080-8080 "+albSG, r, "the only ingress of the tasks")
			} else {
				assert.True(t, strings.HasPrefix(r, "out tcp 443-443 "), "tasks only open HTTPS: %s", r)
				assert.NotContains(t, r, "0.0.0.0/0")
			}
		}
		assert.Len(t, taskRules, 4, "in from ALB; out to endpoints, S3 and DynamoDB: %v", taskRules)
	})

	t.Run("service", func(t *testing.T) {
		desc, err := ecsc.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: &clusterName, Services: []string{serviceName}})
		require.NoError(t, err)
		require.Len(t, desc.Services, 1)
		s := desc.Services[0]
		assert.Equal(t, ecstypes.LaunchTypeFargate, s.LaunchType)
		require.NotNil(t, s.NetworkConfiguration)
		vpc := s.NetworkConfiguration.AwsvpcConfiguration
		assert.Equal(t, ecstypes.AssignPublicIpDisabled, vpc.AssignPublicIp, "no public IP")
		assert.Equal(t, []string{taskSG}, vpc.SecurityGroups)
		assert.Len(t, vpc.Subnets, 2)
		subnets, err := ec2c.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: vpc.Subnets})
		require.NoError(t, err)
		for _, sn := range subnets.Subnets {
			assert.Contains(t, aws.ToString(tagValue(sn.Tags, "Name")), "-private-", "tasks in private subnets")
			assert.False(t, aws.ToBool(sn.MapPublicIpOnLaunch))
		}
		require.NotNil(t, s.DeploymentConfiguration)
		cb := s.DeploymentConfiguration.DeploymentCircuitBreaker
		require.NotNil(t, cb, "circuit breaker")
		assert.True(t, cb.Enable)
		assert.True(t, cb.Rollback)
		assert.EqualValues(t, 100, aws.ToInt32(s.DeploymentConfiguration.MinimumHealthyPercent))
		assert.EqualValues(t, 200, aws.ToInt32(s.DeploymentConfiguration.MaximumPercent))
		assert.Equal(t, ecstypes.PropagateTagsService, s.PropagateTags)
		assert.Equal(t, ecstypes.AvailabilityZoneRebalancingEnabled, s.AvailabilityZoneRebalancing)
		assert.EqualValues(t, 2, s.DesiredCount)
		require.Len(t, s.LoadBalancers, 1)
		assert.Equal(t, out("target_group_arn"), aws.ToString(s.LoadBalancers[0].TargetGroupArn))

		cl, err := ecsc.DescribeClusters(ctx, &ecs.DescribeClustersInput{Clusters: []string{clusterName}, Include: []ecstypes.ClusterField{ecstypes.ClusterFieldSettings}})
		require.NoError(t, err)
		require.Len(t, cl.Clusters, 1)
		settings := map[string]string{}
		for _, st := range cl.Clusters[0].Settings {
			settings[string(st.Name)] = aws.ToString(st.Value)
		}
		assert.Equal(t, "enabled", settings["containerInsights"])
	})

	t.Run("auto scaling", func(t *testing.T) {
		c := aas.NewFromConfig(d.AWS)
		resourceID := "service/" + clusterName + "/" + serviceName
		targets, err := c.DescribeScalableTargets(ctx, &aas.DescribeScalableTargetsInput{
			ServiceNamespace: aastypes.ServiceNamespaceEcs, ResourceIds: []string{resourceID},
		})
		require.NoError(t, err)
		require.Len(t, targets.ScalableTargets, 1)
		tgt := targets.ScalableTargets[0]
		assert.Equal(t, aastypes.ScalableDimensionECSServiceDesiredCount, tgt.ScalableDimension)
		assert.EqualValues(t, 2, aws.ToInt32(tgt.MinCapacity))
		assert.EqualValues(t, 4, aws.ToInt32(tgt.MaxCapacity))

		pols, err := c.DescribeScalingPolicies(ctx, &aas.DescribeScalingPoliciesInput{
			ServiceNamespace: aastypes.ServiceNamespaceEcs, ResourceId: &resourceID,
		})
		require.NoError(t, err)
		byMetric := map[aastypes.MetricType]aastypes.ScalingPolicy{}
		for _, p := range pols.ScalingPolicies {
			assert.Equal(t, aastypes.PolicyTypeTargetTrackingScaling, p.PolicyType)
			spec := p.TargetTrackingScalingPolicyConfiguration.PredefinedMetricSpecification
			byMetric[spec.PredefinedMetricType] = p
		}
		require.Len(t, byMetric, 2, "CPU and request-count policies")
		cpu := byMetric[aastypes.MetricTypeECSServiceAverageCPUUtilization].TargetTrackingScalingPolicyConfiguration
		require.NotNil(t, cpu)
		assert.EqualValues(t, 60, aws.ToFloat64(cpu.TargetValue))
		req := byMetric[aastypes.MetricTypeALBRequestCountPerTarget].TargetTrackingScalingPolicyConfiguration
		require.NotNil(t, req)
		assert.EqualValues(t, 1000, aws.ToFloat64(req.TargetValue))
		lbSuffix := lbArn[strings.Index(lbArn, ":loadbalancer/")+len(":loadbalancer/"):]
		tgArn := out("target_group_arn")
		tgSuffix := tgArn[strings.LastIndex(tgArn, ":")+1:]
		assert.Equal(t, lbSuffix+"/"+tgSuffix, aws.ToString(req.PredefinedMetricSpecification.ResourceLabel))
	})

	t.Run("alarms", func(t *testing.T) {
		cw := cloudwatch.NewFromConfig(d.AWS)
		alarms, err := cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNamePrefix: aws.String("acme-registry-")})
		require.NoError(t, err)
		require.Len(t, alarms.MetricAlarms, 3)
		byName := map[string]int{}
		for i, a := range alarms.MetricAlarms {
			byName[aws.ToString(a.AlarmName)] = i
		}
		lat := alarms.MetricAlarms[byName["acme-registry"+fargateservice.LatencyAlarmSuffix]]
		assert.Equal(t, "AWS/ApplicationELB", aws.ToString(lat.Namespace))
		assert.Equal(t, "TargetResponseTime", aws.ToString(lat.MetricName))
		assert.Equal(t, "p95", aws.ToString(lat.ExtendedStatistic))
		assert.EqualValues(t, 1, aws.ToFloat64(lat.Threshold))

		rate := alarms.MetricAlarms[byName["acme-registry"+fargateservice.ErrorRateAlarmSuffix]]
		metrics := map[string]string{}
		var expr string
		for _, m := range rate.Metrics {
			if m.MetricStat != nil {
				metrics[aws.ToString(m.Id)] = aws.ToString(m.MetricStat.Metric.Namespace) + " " + aws.ToString(m.MetricStat.Metric.MetricName) + " " + aws.ToString(m.MetricStat.Stat)
			} else {
				expr = aws.ToString(m.Expression)
				assert.True(t, aws.ToBool(m.ReturnData))
			}
		}
		assert.Equal(t, map[string]string{
			"target5xx": "AWS/ApplicationELB HTTPCode_Target_5XX_Count Sum",
			"elb5xx":    "AWS/ApplicationELB HTTPCode_ELB_5XX_Count Sum",
			"requests":  "AWS/ApplicationELB RequestCount Sum",
		}, metrics)
		assert.Equal(t, fargateservice.ErrorRateExpression, expr)
		assert.EqualValues(t, 5, aws.ToFloat64(rate.Threshold))

		run := alarms.MetricAlarms[byName["acme-registry"+fargateservice.RunningTaskAlarmSuffix]]
		assert.Equal(t, "ECS/ContainerInsights", aws.ToString(run.Namespace))
		assert.Equal(t, "RunningTaskCount", aws.ToString(run.MetricName))
		assert.Equal(t, cwtypes.ComparisonOperatorLessThanThreshold, run.ComparisonOperator)
		assert.EqualValues(t, 2, aws.ToFloat64(run.Threshold))
		dims := map[string]string{}
		for _, dm := range run.Dimensions {
			dims[aws.ToString(dm.Name)] = aws.ToString(dm.Value)
		}
		assert.Equal(t, map[string]string{"ClusterName": clusterName, "ServiceName": serviceName}, dims)
	})

	waf := wafv2.NewFromConfig(d.AWS)
	t.Run("web acl", func(t *testing.T) {
		assoc, err := waf.GetWebACLForResource(ctx, &wafv2.GetWebACLForResourceInput{ResourceArn: &lbArn})
		require.NoError(t, err)
		require.NotNil(t, assoc.WebACL, "web ACL associated with the load balancer")
		acl := assoc.WebACL
		assert.Equal(t, out("web_acl_arn"), aws.ToString(acl.ARN))
		require.NotNil(t, acl.DefaultAction)
		assert.NotNil(t, acl.DefaultAction.Allow)
		require.Len(t, acl.Rules, 1)
		r := acl.Rules[0]
		assert.Equal(t, fargateservice.RateLimitRuleName, aws.ToString(r.Name))
		require.NotNil(t, r.Action)
		assert.NotNil(t, r.Action.Block)
		require.NotNil(t, r.Statement.RateBasedStatement)
		assert.EqualValues(t, 2000, aws.ToInt64(r.Statement.RateBasedStatement.Limit))
		assert.Equal(t, waftypes.RateBasedStatementAggregateKeyTypeIp, r.Statement.RateBasedStatement.AggregateKeyType)
		assert.True(t, r.VisibilityConfig.CloudWatchMetricsEnabled)
	})

	elbc := elb.NewFromConfig(d.AWS)
	lbAttributes := func(t *testing.T) map[string]string {
		t.Helper()
		attrs, err := elbc.DescribeLoadBalancerAttributes(ctx, &elb.DescribeLoadBalancerAttributesInput{LoadBalancerArn: &lbArn})
		require.NoError(t, err)
		got := map[string]string{}
		for _, a := range attrs.Attributes {
			got[aws.ToString(a.Key)] = aws.ToString(a.Value)
		}
		return got
	}
	t.Run("load balancer", func(t *testing.T) {
		got := lbAttributes(t)
		assert.Equal(t, "true", got["routing.http.drop_invalid_header_fields.enabled"])
		assert.Equal(t, "strictest", got["routing.http.desync_mitigation_mode"])
		assert.Equal(t, "false", got["deletion_protection.enabled"], "off for this test stack only")
		lbs, err := elbc.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{LoadBalancerArns: []string{lbArn}})
		require.NoError(t, err)
		require.Len(t, lbs.LoadBalancers, 1)
		assert.EqualValues(t, "internet-facing", lbs.LoadBalancers[0].Scheme)
		assert.Equal(t, []string{albSG}, lbs.LoadBalancers[0].SecurityGroups)
		tgs, err := elbc.DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{TargetGroupArns: []string{out("target_group_arn")}})
		require.NoError(t, err)
		require.Len(t, tgs.TargetGroups, 1)
		assert.EqualValues(t, "ip", tgs.TargetGroups[0].TargetType)
		assert.Equal(t, "/health", aws.ToString(tgs.TargetGroups[0].HealthCheckPath))
	})

	groupArn := func(name string) string { return "arn:aws:logs:" + region + ":" + account + ":log-group:" + name }
	encryptedGroup := func(t *testing.T, name string) {
		t.Helper()
		groups, err := logs.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: &name})
		require.NoError(t, err)
		require.Len(t, groups.LogGroups, 1)
		assert.EqualValues(t, 90, aws.ToInt32(groups.LogGroups[0].RetentionInDays), "%s kept 90 days", name)
		assert.Equal(t, keyArn, aws.ToString(groups.LogGroups[0].KmsKeyId), "%s under the project key", name)
	}

	t.Run("load balancer access logs", func(t *testing.T) {
		got := lbAttributes(t)
		assert.Equal(t, "true", got["access_logs.s3.enabled"], "ELB.5")
		assert.Equal(t, out("access_logs_bucket"), got["access_logs.s3.bucket"])
		assert.Equal(t, "alb/acme-registry", got["access_logs.s3.prefix"])

		s3c := s3.NewFromConfig(d.AWS, func(o *s3.Options) { o.UsePathStyle = true })
		pol, err := s3c.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String(out("access_logs_bucket"))})
		require.NoError(t, err)
		st := parsePolicy(t, aws.ToString(pol.Policy))[accesslogs.LoadBalancerLogsSidPrefix+"FargateserviceRegistry"]
		assert.Equal(t, map[string]any{"AWS": "arn:aws:iam::127311923021:root"}, st.Principal, "us-east-1's Elastic Load Balancing account")
		assert.Equal(t, stringList{"s3:PutObject"}, st.Action)
		assert.Equal(t, stringList{out("access_logs_bucket_arn") + "/alb/acme-registry/AWSLogs/" + account + "/*"}, st.Resource)
	})

	t.Run("web acl logging", func(t *testing.T) {
		cfg, err := waf.GetLoggingConfiguration(ctx, &wafv2.GetLoggingConfigurationInput{ResourceArn: aws.String(out("web_acl_arn"))})
		require.NoError(t, err, "WAF.11")
		assert.Equal(t, []string{groupArn(out("waf_log_group"))}, cfg.LoggingConfiguration.LogDestinationConfigs)
		var redacted []string
		for _, f := range cfg.LoggingConfiguration.RedactedFields {
			redacted = append(redacted, aws.ToString(f.SingleHeader.Name))
		}
		assert.Equal(t, fargateservice.DefaultRedactedLogHeaders, redacted)
		assert.Equal(t, "aws-waf-logs-acme-registry", out("waf_log_group"))
		encryptedGroup(t, out("waf_log_group"))

		policies, err := logs.DescribeResourcePolicies(ctx, &cloudwatchlogs.DescribeResourcePoliciesInput{})
		require.NoError(t, err)
		var doc string
		for _, p := range policies.ResourcePolicies {
			if aws.ToString(p.PolicyName) == "acme-registry-waf-log-delivery" {
				doc = aws.ToString(p.PolicyDocument)
			}
		}
		require.NotEmpty(t, doc, "the log group resource policy")
		st := parsePolicy(t, doc)[fargateservice.WAFLogDeliverySid]
		assert.Equal(t, map[string]any{"Service": "delivery.logs.amazonaws.com"}, st.Principal)
		assert.ElementsMatch(t, stringList{"logs:CreateLogStream", "logs:PutLogEvents"}, st.Action)
		assert.Equal(t, stringList{groupArn(out("waf_log_group")) + ":log-stream:*"}, st.Resource)
		assert.Equal(t, stringList{account}, st.Condition["StringEquals"]["aws:SourceAccount"])
		assert.Equal(t, stringList{"arn:aws:logs:" + region + ":" + account + ":*"}, st.Condition["ArnLike"]["aws:SourceArn"])
	})

	t.Run("flow logs", func(t *testing.T) {
		flows, err := ec2c.DescribeFlowLogs(ctx, &ec2.DescribeFlowLogsInput{FlowLogIds: []string{out("flow_log_id")}})
		require.NoError(t, err)
		require.Len(t, flows.FlowLogs, 1, "EC2.6")
		f := flows.FlowLogs[0]
		assert.Equal(t, out("vpc_id"), aws.ToString(f.ResourceId))
		assert.Equal(t, ec2types.TrafficTypeAll, f.TrafficType)
		assert.Equal(t, ec2types.LogDestinationTypeCloudWatchLogs, f.LogDestinationType)
		assert.Equal(t, groupArn(out("flow_log_group")), aws.ToString(f.LogDestination))
		assert.Equal(t, out("flow_log_role_arn"), aws.ToString(f.DeliverLogsPermissionArn))
		encryptedGroup(t, out("flow_log_group"))

		name := roleNameOf(out("flow_log_role_arn"))
		trust := roleTrust(ctx, t, iamc, name, "vpc-flow-logs.amazonaws.com")
		assert.Equal(t, stringList{account}, trust.Condition["StringEquals"]["aws:SourceAccount"])
		assert.Equal(t, stringList{"arn:aws:ec2:" + region + ":" + account + ":vpc-flow-log/*"}, trust.Condition["ArnLike"]["aws:SourceArn"])
		st := inlineStatements(ctx, t, iamc, name)
		require.Len(t, st, 2, "%v", st)
		assert.ElementsMatch(t, stringList{"logs:CreateLogStream", "logs:PutLogEvents"}, st[fargateservice.WriteFlowLogsSid].Action)
		assert.Equal(t, stringList{groupArn(out("flow_log_group")) + ":log-stream:*"}, st[fargateservice.WriteFlowLogsSid].Resource)
		assert.Equal(t, stringList{"logs:DescribeLogStreams"}, st[fargateservice.DescribeFlowLogsSid].Action)
		assert.Equal(t, stringList{groupArn(out("flow_log_group")) + ":*"}, st[fargateservice.DescribeFlowLogsSid].Resource)
	})

	t.Run("default security group", func(t *testing.T) {
		groups, err := ec2c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: []ec2types.Filter{
			{Name: aws.String("vpc-id"), Values: []string{out("vpc_id")}}, {Name: aws.String("group-name"), Values: []string{"default"}}}})
		require.NoError(t, err)
		require.Len(t, groups.SecurityGroups, 1)
		assert.Equal(t, out("default_sg"), aws.ToString(groups.SecurityGroups[0].GroupId), "the VPC's default group is the one managed")
		assert.Empty(t, sgRules(ctx, t, ec2c, out("default_sg")), "EC2.2: no rule in or out")
	})

	assert.True(t, d.PlanIsEmpty(t), "a second plan finds no drift")

	d.AfterDestroy(func(t *testing.T) {
		for _, name := range []string{out("waf_log_group"), out("flow_log_group")} {
			groups, err := logs.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String(name)})
			require.NoError(t, err)
			assert.Empty(t, groups.LogGroups, "log group %s deleted", name)
		}
		flows, err := ec2c.DescribeFlowLogs(ctx, &ec2.DescribeFlowLogsInput{FlowLogIds: []string{out("flow_log_id")}})
		if err == nil {
			assert.Empty(t, flows.FlowLogs, "flow log deleted")
		}
		svcs, err := ecsc.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: &clusterName, Services: []string{serviceName}})
		if err == nil {
			for _, s := range svcs.Services {
				assert.NotEqual(t, "ACTIVE", aws.ToString(s.Status), "service deleted")
			}
		}
		cl, err := ecsc.DescribeClusters(ctx, &ecs.DescribeClustersInput{Clusters: []string{clusterName}})
		require.NoError(t, err)
		for _, c := range cl.Clusters {
			assert.NotEqual(t, "ACTIVE", aws.ToString(c.Status), "cluster deleted")
		}
		_, err = elbc.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{LoadBalancerArns: []string{lbArn}})
		assert.Error(t, err, "load balancer deleted")
		groups, err := logs.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: &logGroupName})
		require.NoError(t, err)
		assert.Empty(t, groups.LogGroups, "log group deleted")
		for _, name := range []string{execRoleName, taskRoleName} {
			_, err = iamc.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(name)})
			var noRole *iamtypes.NoSuchEntityException
			assert.True(t, errors.As(err, &noRole), "role %s deleted, got %v", name, err)
		}
		acls, err := waf.ListWebACLs(ctx, &wafv2.ListWebACLsInput{Scope: waftypes.ScopeRegional})
		require.NoError(t, err)
		assert.Empty(t, acls.WebACLs, "web ACL deleted")
		vpcs, err := ec2c.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{Filters: []ec2types.Filter{{Name: aws.String("vpc-id"), Values: []string{out("vpc_id")}}}})
		require.NoError(t, err)
		assert.Empty(t, vpcs.Vpcs, "VPC deleted")
	})
}

func roleNameOf(arn string) string { return arn[strings.LastIndex(arn, "/")+1:] }

func nilIfEmpty(m map[string]map[string]stringList) map[string]map[string]stringList {
	if len(m) == 0 {
		return nil
	}
	return m
}

// roleTrust returns the role's single trust statement after checking it lets only
// service assume the role.
func roleTrust(ctx context.Context, t *testing.T, c *iam.Client, name, service string) policyStatement {
	t.Helper()
	role, err := c.GetRole(ctx, &iam.GetRoleInput{RoleName: &name})
	require.NoError(t, err)
	trust := parsePolicy(t, aws.ToString(role.Role.AssumeRolePolicyDocument))
	require.Len(t, trust, 1)
	for _, st := range trust {
		assert.Equal(t, map[string]any{"Service": service}, st.Principal)
		assert.Equal(t, stringList{"sts:AssumeRole"}, st.Action)
		return st
	}
	return policyStatement{}
}

// inlineStatements returns every statement of every inline policy of the role, by Sid.
func inlineStatements(ctx context.Context, t *testing.T, c *iam.Client, role string) map[string]policyStatement {
	t.Helper()
	names, err := c.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: &role})
	require.NoError(t, err)
	out := map[string]policyStatement{}
	for _, n := range names.PolicyNames {
		pol, err := c.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: &role, PolicyName: aws.String(n)})
		require.NoError(t, err)
		for sid, st := range parsePolicy(t, aws.ToString(pol.PolicyDocument)) {
			require.NotContains(t, out, sid, "statement id %s twice", sid)
			out[sid] = st
		}
	}
	return out
}

// sgRules renders a group's rules as "in|out proto from-to source".
func sgRules(ctx context.Context, t *testing.T, c *ec2.Client, groupID string) []string {
	t.Helper()
	res, err := c.DescribeSecurityGroupRules(ctx, &ec2.DescribeSecurityGroupRulesInput{
		Filters: []ec2types.Filter{{Name: aws.String("group-id"), Values: []string{groupID}}},
	})
	require.NoError(t, err)
	var out []string
	for _, r := range res.SecurityGroupRules {
		dir := "in"
		if aws.ToBool(r.IsEgress) {
			dir = "out"
		}
		src := aws.ToString(r.CidrIpv4) + aws.ToString(r.CidrIpv6) + aws.ToString(r.PrefixListId)
		if r.ReferencedGroupInfo != nil {
			src += aws.ToString(r.ReferencedGroupInfo.GroupId)
		}
		out = append(out, dir+" "+aws.ToString(r.IpProtocol)+" "+strconv.Itoa(int(aws.ToInt32(r.FromPort)))+"-"+strconv.Itoa(int(aws.ToInt32(r.ToPort)))+" "+src)
	}
	return out
}

func tagValue(tags []ec2types.Tag, key string) *string {
	for _, tg := range tags {
		if aws.ToString(tg.Key) == key {
			return tg.Value
		}
	}
	return nil
}
