package fargateservice

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/aws/jsii-runtime-go"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/cloudwatchloggroup"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/ecscluster"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/ecstaskdefinition"
	"github.com/hashicorp/terraform-cdk-go/cdktf"

	"github.com/acme/module-registry/constructs/iampolicy"
	"github.com/acme/module-registry/constructs/internal/awsenv"
	"github.com/acme/module-registry/constructs/internal/validation"
)

// createTask creates the log group (encrypted with the project key), the execution and
// task roles, the cluster and the task definition.
func (s *Service) createTask(env awsenv.Env) {
	p := s.props
	logGroupName := LogGroupNamePrefix + p.Name
	s.logGroup, s.logGroupArn = s.newLogGroup(env, "LogGroup", logGroupName, "")

	s.createRoles(env)

	s.cluster = ecscluster.NewEcsCluster(s, jsii.String("Cluster"), &ecscluster.EcsClusterConfig{
		Name: jsii.String(p.Name),
		Setting: []*ecscluster.EcsClusterSetting{{
			Name: jsii.String("containerInsights"), Value: jsii.String("enabled"),
		}},
	})

	s.taskDef = ecstaskdefinition.NewEcsTaskDefinition(s, jsii.String("TaskDefinition"), &ecstaskdefinition.EcsTaskDefinitionConfig{
		Family:                  jsii.String(p.Name),
		RequiresCompatibilities: jsii.Strings("FARGATE"),
		NetworkMode:             jsii.String("awsvpc"),
		Cpu:                     jsii.String(fmt.Sprint(p.CPU)),
		Memory:                  jsii.String(fmt.Sprint(p.MemoryMiB)),
		ExecutionRoleArn:        s.executionRole.Arn(),
		TaskRoleArn:             s.taskRole.Arn(),
		ContainerDefinitions:    jsii.String(s.containerDefinitions(env)),
		RuntimePlatform: &ecstaskdefinition.EcsTaskDefinitionRuntimePlatform{
			OperatingSystemFamily: jsii.String("LINUX"),
			CpuArchitecture:       jsii.String(p.CPUArchitecture),
		},
	})
}

// newLogGroup creates a log group named name, encrypted with the project key and kept
// LogRetentionDays. Its ARN (returned) is built from strings so the key policy statement
// for it, named after sidSuffix, can name it while the log group depends on the key.
func (s *Service) newLogGroup(env awsenv.Env, id, name, sidSuffix string) (cloudwatchloggroup.CloudwatchLogGroup, string) {
	p := s.props
	arn := "arn:" + *env.Partition + ":logs:" + *env.Region + ":" + *env.AccountID + ":log-group:" + name
	var keyArn *string
	var dependsOnKey []cdktf.ITerraformDependable
	if p.EncryptionKey != nil {
		keyArn = p.EncryptionKey.KeyArn()
		p.EncryptionKey.AllowLogGroup("CloudWatchLogsUse"+validation.PascalCase(p.Name)+sidSuffix, arn)
		dependsOnKey = append(dependsOnKey, p.EncryptionKey.Resource())
	}
	group := cloudwatchloggroup.NewCloudwatchLogGroup(s, jsii.String(id), &cloudwatchloggroup.CloudwatchLogGroupConfig{
		Name:            jsii.String(name),
		RetentionInDays: jsii.Number(float64(p.LogRetentionDays)),
		KmsKeyId:        keyArn,
		DependsOn:       &dependsOnKey,
	})
	return group, arn
}

// Execution-role statement ids.
const (
	WriteLogsSid = "WriteContainerLogs"
)

func (s *Service) createRoles(env awsenv.Env) {
	p := s.props
	sameAccount := iampolicy.StringEquals("aws:SourceAccount", *env.AccountID)
	s.executionRole = iampolicy.NewServiceRole(s, "ExecutionRole", iampolicy.ServiceRole{
		Name:        p.Name + "-execution",
		Description: "Lets ECS pull the image, write logs and read secrets for service " + p.Name,
		Service:     "ecs-tasks.amazonaws.com",
		TrustSid:    "EcsTasksAssumeInThisAccount",
		Conditions:  []iampolicy.Condition{sameAccount},
	})
	s.taskRole = iampolicy.NewServiceRole(s, "TaskRole", iampolicy.ServiceRole{
		Name:        p.Name + "-task",
		Description: "Permissions of the containers of service " + p.Name + "; granted by the stack",
		Service:     "ecs-tasks.amazonaws.com",
		TrustSid:    "EcsTasksOfThisAccountAssume",
		Conditions: []iampolicy.Condition{
			sameAccount,
			iampolicy.ArnLike("aws:SourceArn", "arn:"+*env.Partition+":ecs:"+*env.Region+":"+*env.AccountID+":*"),
		},
	})

	if p.Image != nil {
		p.Image.GrantPull(s.executionRole)
	}
	iampolicy.Grant(s, "ContainerLogs", s.executionRole, iampolicy.Statement{
		Sid:       WriteLogsSid,
		Actions:   []string{"logs:CreateLogStream", "logs:PutLogEvents"},
		Resources: []string{s.logGroupArn + ":log-stream:*"},
	})
	for _, cs := range p.Secrets {
		if cs.Secret != nil {
			cs.Secret.GrantRead(s.executionRole)
		}
	}
}

// containerDefinitions renders the one container as ECS's JSON. Tokens (image URI,
// secret ARNs, region) stay "${...}" references inside the string for Terraform.
func (s *Service) containerDefinitions(env awsenv.Env) string {
	p := s.props
	type kv struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	}
	type secret struct {
		Name      string `json:"name"`
		ValueFrom string `json:"valueFrom"`
	}
	envNames := make([]string, 0, len(p.Environment))
	for k := range p.Environment {
		envNames = append(envNames, k)
	}
	sort.Strings(envNames)
	environment := make([]kv, 0, len(envNames))
	for _, k := range envNames {
		environment = append(environment, kv{k, p.Environment[k]})
	}
	secrets := make([]secret, 0, len(p.Secrets))
	for _, cs := range p.Secrets {
		if cs.Secret == nil {
			continue
		}
		secrets = append(secrets, secret{cs.EnvName, SecretValueFrom(*cs.Secret.SecretArn(), cs.JSONKey)})
	}
	image := ""
	if p.Image != nil && p.Image.ImageURI() != nil {
		image = *p.Image.ImageURI()
	}
	def := map[string]any{
		"name":                   p.ContainerName,
		"image":                  image,
		"essential":              true,
		"readonlyRootFilesystem": true,
		"user":                   p.User,
		"portMappings": []map[string]any{{
			"containerPort": p.ContainerPort, "hostPort": p.ContainerPort, "protocol": "tcp",
		}},
		"environment": environment,
		"secrets":     secrets,
		// Fargate allows dropping capabilities (and adding only SYS_PTRACE).
		"linuxParameters": map[string]any{
			"capabilities": map[string]any{"drop": []string{"ALL"}},
		},
		"healthCheck": map[string]any{
			"command": p.HealthCheckCommand, "interval": 30, "timeout": 5, "retries": 3, "startPeriod": 10,
		},
		"logConfiguration": map[string]any{
			"logDriver": "awslogs",
			"options": map[string]string{
				"awslogs-group":         LogGroupNamePrefix + p.Name,
				"awslogs-region":        *env.Region,
				"awslogs-stream-prefix": p.ContainerName,
			},
		},
	}
	if len(p.Ulimits) > 0 {
		def["ulimits"] = ulimitsOf(p.Ulimits)
	}
	out, err := json.Marshal([]any{def})
	if err != nil {
		panic(err) // only strings, numbers and maps: cannot fail
	}
	return string(out)
}

// SecretValueFrom is the ECS valueFrom of a secret's JSON field: "<arn>:<key>::" (the
// current version), or the ARN alone for the whole secret string.
func SecretValueFrom(secretArn, jsonKey string) string {
	if jsonKey == "" {
		return secretArn
	}
	return secretArn + ":" + jsonKey + "::"
}

// ulimitsOf renders the task definition's ulimits, in the order given.
func ulimitsOf(us []Ulimit) []map[string]any {
	out := make([]map[string]any, 0, len(us))
	for _, u := range us {
		out = append(out, map[string]any{"name": u.Name, "softLimit": u.SoftLimit, "hardLimit": u.HardLimit})
	}
	return out
}
