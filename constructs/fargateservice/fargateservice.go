// Package fargateservice runs a container as a private ECS Fargate service behind an
// Application Load Balancer, secure by default:
//
//   - Networking: a new VPC (or an existing one from Props.ExistingVpc) with public subnets
//     holding only the load balancer and private subnets holding the tasks, over two
//     availability zones. The new VPC has no NAT gateway: tasks reach ECR, CloudWatch Logs
//     and Secrets Manager through interface VPC endpoints and S3 and DynamoDB through
//     gateway endpoints, so they have no route to the internet at all (cheaper than two
//     NAT gateways, and nothing can leave except to those services). The new VPC's default
//     security group keeps no rules, and its flow logs (all traffic) go to a log group
//     under the project key, written through a role only VPC Flow Logs of this account
//     may assume.
//
//   - Security groups: the load balancer accepts 80/443 only from Props.IngressCidrs (the
//     caller must name them; there is no 0.0.0.0/0 default) and talks only to the tasks on
//     the container port; tasks accept only the load balancer's group on that port and
//     reach only HTTPS on the endpoints.
//
//   - Task: the image by digest, a read-only root filesystem, a non-root user (root is
//     rejected), every Linux capability dropped, a health check command, environment
//     variables, secrets from Secrets Manager ("<arn>:<json key>::"), and logs in a
//     CloudWatch Logs group encrypted with the project key. Fargate rejects privileged
//     containers and Docker security options, and ECS has no no-new-privileges setting;
//     dropping all capabilities and running as a non-root user of a shell-less image is
//     what Fargate allows towards that.
//
//   - Roles: the execution role may pull this image, write to this log group and read the
//     named secrets, nothing else; the task role has no permissions until the caller grants
//     some through the other constructs' Grant methods on TaskRole().
//
//   - Load balancer: internal by default (in the private subnets; InternetFacing puts it in
//     the public ones), invalid header fields dropped, strictest desync mitigation,
//     deletion protection, access logs into the stack's access-log bucket (accesslogs),
//     HTTPS (a TLS 1.3 policy) with an HTTP->HTTPS redirect when a certificate is given;
//     plain HTTP only with AllowPlainHTTP. A WAF web ACL with a per-IP rate limit guards
//     it and logs to "aws-waf-logs-<Name>" under the project key, credential headers left
//     out.
//
//   - Service: deployment circuit breaker with rollback, 100%/200% deployments, tags
//     propagated, target-tracking auto scaling on CPU and on requests per target, and
//     alarms on p95 latency, 5xx rate and running task count.
//
// An internal service that only the corporate network reaches, its task role granted
// what the application uses:
//
//	svc := fargateservice.New(stack, "Registry", &fargateservice.Props{
//		Image:              image, // e.g. a containerimage.Image
//		EncryptionKey:      key,
//		IngressCidrs:       []string{"10.0.0.0/8"},
//		CertificateArn:     certArn,
//		HealthCheckCommand: []string{"CMD", "/registry", "-healthcheck"},
//		Secrets: []fargateservice.ContainerSecret{
//			{EnvName: "JWT_SECRET", Secret: jwt, JSONKey: jwt.Field()},
//		},
//	})
//	bucket.GrantReadWrite(svc.TaskRole(), "packages/")
package fargateservice

import (
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/appautoscalingtarget"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/cloudwatchloggroup"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/cloudwatchmetricalarm"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/ecscluster"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/ecsservice"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/ecstaskdefinition"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/flowlog"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/iamrole"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/lb"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/lbtargetgroup"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/wafv2webacl"
	"github.com/hashicorp/terraform-cdk-go/cdktf"

	"github.com/acme/module-registry/constructs/accesslogs"
	"github.com/acme/module-registry/constructs/encryptionkey"
	"github.com/acme/module-registry/constructs/iampolicy"
	"github.com/acme/module-registry/constructs/internal/awsenv"
	"github.com/acme/module-registry/constructs/internal/defaults"
	"github.com/acme/module-registry/constructs/internal/validation"
	"github.com/acme/module-registry/constructs/removal"
)

// Defaults.
const (
	DefaultName                 = "acme-registry"
	DefaultVpcCidr              = "10.0.0.0/16"
	DefaultContainerName        = "app"
	DefaultContainerPort        = 8080
	DefaultUser                 = "65532:65532"
	DefaultCPU                  = 256
	DefaultMemoryMiB            = 512
	DefaultCPUArchitecture      = "X86_64"
	DefaultHealthCheckPath      = "/health"
	DefaultLogRetentionDays     = 90
	DefaultDesiredCount         = 2
	DefaultCPUTargetPercent     = 60
	DefaultRequestsPerTarget    = 1000
	DefaultLatencyP95Seconds    = 1.0
	DefaultError5xxRatePercent  = 5.0
	DefaultRateLimitPer5Minutes = 2000
	DefaultSslPolicy            = "ELBSecurityPolicy-TLS13-1-2-2021-06"
	// LogGroupNamePrefix is prepended to Name to name the container log group.
	LogGroupNamePrefix = "/ecs/"
	// DesyncMitigationMode rejects every request that is not RFC 7230 compliant.
	DesyncMitigationMode = "strictest"
	// HealthCheckGracePeriodSeconds lets a new task start before the load balancer's
	// health checks count.
	HealthCheckGracePeriodSeconds = 60
)

// DefaultInterfaceEndpointServices are the services tasks in the new VPC reach through
// interface endpoints: image pulls (ecr.api, ecr.dkr; layers come from S3 through its
// gateway endpoint), logs and secrets. S3 and DynamoDB always get gateway endpoints.
var DefaultInterfaceEndpointServices = []string{"ecr.api", "ecr.dkr", "logs", "secretsmanager"}

// Secret is a Secrets Manager secret the container reads at start-up (jwtsecret.Secret
// satisfies it).
type Secret interface {
	SecretArn() *string
	// GrantRead lets role read the value (and decrypt it through Secrets Manager).
	GrantRead(role iampolicy.Role)
}

// ContainerSecret injects one field of a secret into an environment variable.
type ContainerSecret struct {
	// EnvName is the variable the container sees, e.g. "JWT_SECRET". Required.
	EnvName string
	// Secret holds the value. Required.
	Secret Secret
	// JSONKey picks a field of a JSON secret, e.g. "jwt_secret". Default: "" (the whole
	// secret string).
	JSONKey string
}

// ExistingVpc places the service in a VPC made elsewhere. The caller provides the route
// to ECR, CloudWatch Logs, Secrets Manager, S3 and DynamoDB (endpoints or NAT).
type ExistingVpc struct {
	// VpcID is the VPC's id. Required.
	VpcID string
	// PublicSubnetIDs hold an internet-facing load balancer; at least two, in different
	// availability zones. Required with Props.InternetFacing.
	PublicSubnetIDs []string
	// PrivateSubnetIDs hold the tasks (and an internal load balancer); at least two.
	// Required.
	PrivateSubnetIDs []string
	// TaskEgressCidrs are where tasks may open HTTPS (443) connections. Default:
	// ["0.0.0.0/0"], since the route to AWS services is unknown here; narrow it to your
	// endpoint subnets when you can.
	TaskEgressCidrs []string
}

// Props configures a Service. Image, EncryptionKey, IngressCidrs, HealthCheckCommand and
// one of CertificateArn or AllowPlainHTTP are required; everything else has a secure
// default.
type Props struct {
	// Name names the cluster, service, task family, load balancer ("<Name>"), target group
	// ("<Name>-tg"), roles ("<Name>-execution", "<Name>-task"), web ACL ("<Name>-waf"),
	// alarms ("<Name>-...") and the log group ("/ecs/<Name>"). 1-28 lowercase letters,
	// digits and hyphens. Default: "acme-registry".
	Name string
	// Image is the container image, pinned by digest. Required.
	Image Image
	// EncryptionKey encrypts the log group; the service adds a CloudWatch Logs statement,
	// scoped to this log group, to its key policy. Required.
	EncryptionKey *encryptionkey.Key

	// VpcCidr is the new VPC's range, a /16 to /24; it is split into four equal subnets
	// (two public, two private). Default: "10.0.0.0/16". Ignored with ExistingVpc.
	VpcCidr string
	// AvailabilityZones are the two zones of the new VPC. Default: the first two
	// available zones of the region (aws_availability_zones).
	AvailabilityZones []string
	// ExtraInterfaceEndpointServices adds interface endpoints to the new VPC (e.g. "kms",
	// "sts") besides DefaultInterfaceEndpointServices. Default: none.
	ExtraInterfaceEndpointServices []string
	// ExistingVpc runs the service in an existing VPC instead of creating one. Default: nil.
	ExistingVpc *ExistingVpc

	// IngressCidrs may reach the load balancer on 80 and 443 (IPv4 or IPv6 CIDRs).
	// Required: say "0.0.0.0/0" explicitly for a public service.
	IngressCidrs []string
	// InternetFacing puts the load balancer in the public subnets with a public address.
	// Default: false (an internal load balancer in the private subnets).
	InternetFacing bool
	// CertificateArn is the ACM certificate of the HTTPS listener; port 80 then only
	// redirects to HTTPS. Default: "" (then AllowPlainHTTP must be set).
	CertificateArn string
	// SslPolicy is the HTTPS listener's policy, a TLS 1.3 one
	// ("ELBSecurityPolicy-TLS13-1-2-..." or "-1-3-..."). Default:
	// "ELBSecurityPolicy-TLS13-1-2-2021-06" (TLS 1.2 and 1.3 only).
	SslPolicy string
	// AllowPlainHTTP forwards plain HTTP on port 80 to the service when there is no
	// certificate. For local and test stacks only. Default: false.
	AllowPlainHTTP bool
	// RemovalPolicy removal.Destroy turns the load balancer's deletion protection off, so
	// destroy can delete it; for local and test stacks. Default: removal.Retain
	// (protected).
	RemovalPolicy removal.Policy
	// AccessLogs receives the load balancer's access logs, under "alb/<Name>". Default:
	// the stack's access-log bucket (accesslogs.Of), created on first use.
	AccessLogs *accesslogs.Bucket

	// ContainerName names the container. Default: "app".
	ContainerName string
	// ContainerPort is the port the container listens on. Default: 8080.
	ContainerPort int
	// User is "uid:gid" (or a uid or user name) the container runs as; never root.
	// Default: "65532:65532".
	User string
	// CPU is the task's CPU units (256, 512, 1024, 2048, 4096, 8192, 16384). Default: 256.
	CPU int
	// MemoryMiB is the task's memory, a combination Fargate accepts with CPU. Default: 512.
	MemoryMiB int
	// CPUArchitecture is X86_64 or ARM64. Default: "X86_64".
	CPUArchitecture string
	// HealthCheckCommand is the container health check, e.g.
	// ["CMD", "/registry", "-healthcheck"]. Required.
	HealthCheckCommand []string
	// HealthCheckPath is what the target group's health check requests. Default: "/health".
	HealthCheckPath string
	// Environment holds plain environment variables. Default: none.
	Environment map[string]string
	// Secrets are environment variables read from Secrets Manager at start-up; the
	// execution role gets read access to each. Default: none.
	Secrets []ContainerSecret
	// LogRetentionDays is how long the container logs, the web ACL's logs and the VPC's
	// flow logs are kept; one of RetentionDays. Default: 90.
	LogRetentionDays int
	// RedactedLogHeaders are request headers the web ACL's logs leave out, lowercase.
	// Default: DefaultRedactedLogHeaders (authorization, cookie, x-authorization).
	RedactedLogHeaders []string
	// Ulimits are the container's resource limits (ceilings its processes may only
	// lower). Fargate accepts no dockerSecurityOptions, so no-new-privileges cannot be
	// set here: a process that confines itself (seccomp, Landlock) sets no_new_privs
	// itself. Default: none (Fargate's own: nofile 65535).
	Ulimits []Ulimit

	// DesiredCount is the number of tasks at deploy. Default: 2.
	DesiredCount int
	// MinCapacity is auto scaling's lower bound. Default: DesiredCount.
	MinCapacity int
	// MaxCapacity is auto scaling's upper bound. Default: 2 * MinCapacity.
	MaxCapacity int
	// CPUTargetPercent is the average CPU utilization auto scaling aims for, 1-100.
	// Default: 60.
	CPUTargetPercent float64
	// RequestsPerTarget is the ALB request count per task auto scaling aims for.
	// Default: 1000.
	RequestsPerTarget float64

	// LatencyP95Seconds is the p95 target response time above which the latency alarm
	// fires. Default: 1.0.
	LatencyP95Seconds float64
	// Error5xxRatePercent is the share of requests answered with 5xx (by targets or the
	// load balancer) above which the error alarm fires, 0-100. Default: 5.
	Error5xxRatePercent float64
	// MinRunningTasks is the running task count below which the task alarm fires.
	// Default: MinCapacity.
	MinRunningTasks int
	// AlarmTopicArns are SNS topics notified when an alarm fires or recovers.
	// Default: none.
	AlarmTopicArns []string
	// MetricAlarms are alarms on metrics the container publishes itself (for example
	// CloudWatch Embedded Metric Format blocks in its log lines), beside the latency,
	// 5xx and task-count alarms. Default: none.
	MetricAlarms []MetricAlarm

	// RateLimitPer5Minutes is how many requests one IP may make in 5 minutes before the
	// web ACL blocks it, 10-2000000000. Default: 2000.
	RateLimitPer5Minutes int
}

// Ulimit is a resource limit of the container.
type Ulimit struct {
	// Name is one of UlimitNames, e.g. "nofile". Required.
	Name string
	// SoftLimit and HardLimit, SoftLimit <= HardLimit. Required.
	SoftLimit, HardLimit int
}

// UlimitNames are the limits a task definition may set.
var UlimitNames = []string{"core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc", "rss", "rtprio", "rttime", "sigpending", "stack"}

// MetricAlarm fires when the Sum of a metric over PeriodSeconds exceeds Threshold.
type MetricAlarm struct {
	// Suffix names the alarm "<Name><Suffix>", e.g. "-validator-timeouts"; lowercase
	// letters, digits and hyphens, starting with a hyphen. Required.
	Suffix string
	// Description says what firing means. Required.
	Description string
	// Namespace and MetricName select the metric. Required.
	Namespace, MetricName string
	// Dimensions select the metric's series, e.g. {"Service": "acme-registry"}.
	// Default: none.
	Dimensions map[string]string
	// Threshold the Sum must exceed. Default: 0 (any occurrence fires).
	Threshold float64
	// PeriodSeconds is the period summed, a multiple of 60. Default: 300.
	PeriodSeconds int
}

// Service is the Fargate service with its network, load balancer, roles, scaling,
// alarms and web ACL.
type Service struct {
	constructs.Construct
	props Props
	given Props // as the caller passed them, to report a bad value once, not in what derives from it
	errs  validation.Errors

	net           *network
	logGroup      cloudwatchloggroup.CloudwatchLogGroup
	logGroupArn   string
	cluster       ecscluster.EcsCluster
	taskDef       ecstaskdefinition.EcsTaskDefinition
	service       ecsservice.EcsService
	executionRole iamrole.IamRole
	taskRole      iamrole.IamRole
	alb           lb.Lb
	targetGroup   lbtargetgroup.LbTargetGroup
	webACL        wafv2webacl.Wafv2WebAcl
	wafLogGroup   cloudwatchloggroup.CloudwatchLogGroup
	flowLogGroup  cloudwatchloggroup.CloudwatchLogGroup
	flowLog       flowlog.FlowLog
	flowLogRole   iamrole.IamRole
	scaling       appautoscalingtarget.AppautoscalingTarget
	alarms        map[string]cloudwatchmetricalarm.CloudwatchMetricAlarm
}

// Names of the auto scaling policies' and alarms' suffixes.
const (
	CPUScalingSuffix       = "-cpu-target"
	RequestScalingSuffix   = "-requests-target"
	LatencyAlarmSuffix     = "-p95-latency"
	ErrorRateAlarmSuffix   = "-5xx-rate"
	RunningTaskAlarmSuffix = "-running-tasks"
	RateLimitRuleName      = "rate-limit-per-ip"
)

// New creates the service and everything around it under scope.
func New(scope constructs.Construct, id string, props *Props) *Service {
	p := withDefaults(props)
	s := &Service{props: p, alarms: map[string]cloudwatchmetricalarm.CloudwatchMetricAlarm{}}
	if props != nil {
		s.given = *props
	}
	constructs.NewConstruct_Override(s, scope, jsii.String(id))
	s.checkProps()
	validation.Register(s, func(e *validation.Errors) { e.Merge(&s.errs) })
	env := awsenv.Of(s)

	s.net = newNetwork(s, env, p)

	s.createTask(env)
	listeners := s.createLoadBalancer()

	dependsOn := listeners
	s.service = ecsservice.NewEcsService(s, jsii.String("Service"), &ecsservice.EcsServiceConfig{
		Name:            jsii.String(p.Name),
		Cluster:         s.cluster.Id(),
		TaskDefinition:  s.taskDef.Arn(),
		DesiredCount:    jsii.Number(float64(p.DesiredCount)),
		LaunchType:      jsii.String("FARGATE"),
		PlatformVersion: jsii.String("LATEST"),
		NetworkConfiguration: &ecsservice.EcsServiceNetworkConfiguration{
			Subnets:        jsii.Strings(s.net.privateSubnets...),
			SecurityGroups: jsii.Strings(*s.net.taskSG.Id()),
			AssignPublicIp: jsii.Bool(false),
		},
		LoadBalancer: []*ecsservice.EcsServiceLoadBalancer{{
			TargetGroupArn: s.targetGroup.Arn(),
			ContainerName:  jsii.String(p.ContainerName),
			ContainerPort:  jsii.Number(float64(p.ContainerPort)),
		}},
		DeploymentCircuitBreaker: &ecsservice.EcsServiceDeploymentCircuitBreaker{
			Enable: jsii.Bool(true), Rollback: jsii.Bool(true),
		},
		DeploymentMinimumHealthyPercent: jsii.Number(100),
		DeploymentMaximumPercent:        jsii.Number(200),
		HealthCheckGracePeriodSeconds:   jsii.Number(HealthCheckGracePeriodSeconds),
		PropagateTags:                   jsii.String("SERVICE"),
		// Keep tasks spread over both zones after one recovers from an outage.
		AvailabilityZoneRebalancing: jsii.String("ENABLED"),
		EnableEcsManagedTags:        jsii.Bool(true),
		// Auto scaling owns the task count after the first deploy.
		Lifecycle: &cdktf.TerraformResourceLifecycle{IgnoreChanges: jsii.Strings("desired_count")},
		// The target group must belong to a load balancer before a service can use it.
		DependsOn: &dependsOn,
	})

	s.createScaling()
	s.createAlarms()
	s.createWebACL()
	s.createWebACLLogging(env)
	return s
}

func withDefaults(props *Props) Props {
	p := defaults.Copy(props)
	defaults.Set(&p.Name, DefaultName)
	defaults.Set(&p.VpcCidr, DefaultVpcCidr)
	defaults.Set(&p.SslPolicy, DefaultSslPolicy)
	defaults.Set(&p.ContainerName, DefaultContainerName)
	defaults.Set(&p.User, DefaultUser)
	defaults.Set(&p.CPUArchitecture, DefaultCPUArchitecture)
	defaults.Set(&p.HealthCheckPath, DefaultHealthCheckPath)
	defaults.Set(&p.ContainerPort, DefaultContainerPort)
	defaults.Set(&p.CPU, DefaultCPU)
	defaults.Set(&p.MemoryMiB, DefaultMemoryMiB)
	defaults.Set(&p.LogRetentionDays, DefaultLogRetentionDays)
	defaults.Set(&p.DesiredCount, DefaultDesiredCount)
	defaults.Set(&p.MinCapacity, p.DesiredCount)
	defaults.Set(&p.MaxCapacity, 2*p.MinCapacity)
	defaults.Set(&p.MinRunningTasks, p.MinCapacity)
	defaults.Set(&p.RateLimitPer5Minutes, DefaultRateLimitPer5Minutes)
	defaults.Set(&p.CPUTargetPercent, DefaultCPUTargetPercent)
	defaults.Set(&p.RequestsPerTarget, DefaultRequestsPerTarget)
	defaults.Set(&p.LatencyP95Seconds, DefaultLatencyP95Seconds)
	defaults.Set(&p.Error5xxRatePercent, DefaultError5xxRatePercent)
	if p.RedactedLogHeaders == nil {
		p.RedactedLogHeaders = DefaultRedactedLogHeaders
	}
	if p.ExistingVpc != nil && len(p.ExistingVpc.TaskEgressCidrs) == 0 {
		v := *p.ExistingVpc
		v.TaskEgressCidrs = []string{"0.0.0.0/0"}
		p.ExistingVpc = &v
	}
	return p
}

// ServiceURL is "https://<load balancer DNS name>" with a certificate, else "http://...".
func (s *Service) ServiceURL() *string {
	scheme := "http://"
	if s.props.CertificateArn != "" {
		scheme = "https://"
	}
	return jsii.String(scheme + *s.alb.DnsName())
}

// LoadBalancerArn is the load balancer's ARN.
func (s *Service) LoadBalancerArn() *string { return s.alb.Arn() }

// LoadBalancerDNSName is the load balancer's DNS name.
func (s *Service) LoadBalancerDNSName() *string { return s.alb.DnsName() }

// TargetGroupArn is the target group's ARN.
func (s *Service) TargetGroupArn() *string { return s.targetGroup.Arn() }

// ClusterName is the ECS cluster's name.
func (s *Service) ClusterName() *string { return s.cluster.Name() }

// ServiceName is the ECS service's name.
func (s *Service) ServiceName() *string { return s.service.Name() }

// TaskDefinitionArn is the task definition's ARN (with revision).
func (s *Service) TaskDefinitionArn() *string { return s.taskDef.Arn() }

// LogGroupName is the container log group's name.
func (s *Service) LogGroupName() *string { return s.logGroup.Name() }

// LogGroupArn is the container log group's ARN (without ":*").
func (s *Service) LogGroupArn() *string { return s.logGroup.Arn() }

// TaskRole is the role the containers run with; grant it what the application needs.
func (s *Service) TaskRole() iampolicy.Role { return s.taskRole }

// ExecutionRole is the role ECS uses to start tasks (pull, logs, secrets).
func (s *Service) ExecutionRole() iampolicy.Role { return s.executionRole }

// TaskRoleArn is the task role's ARN.
func (s *Service) TaskRoleArn() *string { return s.taskRole.Arn() }

// ExecutionRoleArn is the execution role's ARN.
func (s *Service) ExecutionRoleArn() *string { return s.executionRole.Arn() }

// LoadBalancerSecurityGroupID is the load balancer's security group.
func (s *Service) LoadBalancerSecurityGroupID() *string { return s.net.albSG.Id() }

// TaskSecurityGroupID is the tasks' security group.
func (s *Service) TaskSecurityGroupID() *string { return s.net.taskSG.Id() }

// VpcID is the VPC the service runs in.
func (s *Service) VpcID() *string { return jsii.String(s.net.vpcID) }

// PrivateSubnetIDs are the tasks' subnets.
func (s *Service) PrivateSubnetIDs() []string { return append([]string{}, s.net.privateSubnets...) }

// WebACLArn is the web ACL's ARN.
func (s *Service) WebACLArn() *string { return s.webACL.Arn() }

// WebACLLogGroupName is the name of the log group the web ACL logs to.
func (s *Service) WebACLLogGroupName() *string { return s.wafLogGroup.Name() }

// FlowLogID is the id of the new VPC's flow log; nil with ExistingVpc.
func (s *Service) FlowLogID() *string {
	if s.flowLog == nil {
		return nil
	}
	return s.flowLog.Id()
}

// FlowLogGroupName is the name of the new VPC's flow log group; nil with ExistingVpc.
func (s *Service) FlowLogGroupName() *string {
	if s.flowLogGroup == nil {
		return nil
	}
	return s.flowLogGroup.Name()
}

// FlowLogRoleArn is the ARN of the role VPC Flow Logs assumes; nil with ExistingVpc.
func (s *Service) FlowLogRoleArn() *string {
	if s.flowLogRole == nil {
		return nil
	}
	return s.flowLogRole.Arn()
}

// DefaultSecurityGroupID is the new VPC's default security group, kept without rules;
// nil with ExistingVpc.
func (s *Service) DefaultSecurityGroupID() *string {
	if s.net.defaultSG == nil {
		return nil
	}
	return s.net.defaultSG.Id()
}

// Resource exposes the underlying aws_ecs_service for escape hatches.
func (s *Service) Resource() ecsservice.EcsService { return s.service }
