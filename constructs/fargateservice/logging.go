package fargateservice

import (
	"github.com/aws/jsii-runtime-go"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/cloudwatchlogresourcepolicy"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/flowlog"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/wafv2webaclloggingconfiguration"
	"github.com/hashicorp/terraform-cdk-go/cdktf"

	"github.com/acme/module-registry/constructs/iampolicy"
	"github.com/acme/module-registry/constructs/internal/awsenv"
)

// Names and statement ids of the service's logs besides the container's.
const (
	// WAFLogGroupNamePrefix is prepended to Name to name the web ACL's log group; WAF
	// delivers only to log groups whose name starts with it.
	WAFLogGroupNamePrefix = "aws-waf-logs-"
	// FlowLogGroupNamePrefix is prepended to Name to name the VPC flow log group.
	FlowLogGroupNamePrefix = "/vpc/flow-logs/"
	// FlowLogRoleNameSuffix is appended to Name to name the role VPC Flow Logs assumes.
	FlowLogRoleNameSuffix = "-flow-logs"
	// WAFLogDeliverySid names the log group resource policy statement letting CloudWatch
	// Logs' delivery service write the web ACL's logs.
	WAFLogDeliverySid = "WafLogDelivery"
	// Statement ids of the flow log role's policy.
	WriteFlowLogsSid    = "WriteFlowLogStreams"
	DescribeFlowLogsSid = "DescribeFlowLogStreams"
)

// DefaultRedactedLogHeaders are the request headers the web ACL's logs leave out: they
// carry credentials (the registry's tokens travel in X-Authorization).
var DefaultRedactedLogHeaders = []string{"authorization", "cookie", "x-authorization"}

// createWebACLLogging sends the web ACL's logs to a log group under the project key,
// through a log group resource policy that lets only this account's log deliveries write.
func (s *Service) createWebACLLogging(env awsenv.Env) {
	p := s.props
	group, arn := s.newLogGroup(env, "WafLogGroup", WAFLogGroupNamePrefix+p.Name, "WafLogs")
	doc := iampolicy.NewDocument(s, "WafLogDeliveryDocument", iampolicy.Statement{
		Sid:        WAFLogDeliverySid,
		Principals: []iampolicy.Principal{iampolicy.ServicePrincipal("delivery.logs.amazonaws.com")},
		Actions:    []string{"logs:CreateLogStream", "logs:PutLogEvents"},
		Resources:  []string{arn + ":log-stream:*"},
		Conditions: []iampolicy.Condition{
			iampolicy.StringEquals("aws:SourceAccount", *env.AccountID),
			iampolicy.ArnLike("aws:SourceArn", "arn:"+*env.Partition+":logs:"+*env.Region+":"+*env.AccountID+":*"),
		},
	})
	delivery := cloudwatchlogresourcepolicy.NewCloudwatchLogResourcePolicy(s, jsii.String("WafLogDelivery"), &cloudwatchlogresourcepolicy.CloudwatchLogResourcePolicyConfig{
		PolicyName:     jsii.String(p.Name + "-waf-log-delivery"),
		PolicyDocument: doc.JSON(),
	})
	redacted := make([]*wafv2webaclloggingconfiguration.Wafv2WebAclLoggingConfigurationRedactedFields, 0, len(p.RedactedLogHeaders))
	for _, h := range p.RedactedLogHeaders {
		redacted = append(redacted, &wafv2webaclloggingconfiguration.Wafv2WebAclLoggingConfigurationRedactedFields{
			SingleHeader: &wafv2webaclloggingconfiguration.Wafv2WebAclLoggingConfigurationRedactedFieldsSingleHeader{Name: jsii.String(h)},
		})
	}
	wafv2webaclloggingconfiguration.NewWafv2WebAclLoggingConfiguration(s, jsii.String("WebAclLogging"), &wafv2webaclloggingconfiguration.Wafv2WebAclLoggingConfigurationConfig{
		ResourceArn:           s.webACL.Arn(),
		LogDestinationConfigs: jsii.Strings(*group.Arn()),
		RedactedFields:        &redacted,
		DependsOn:             &[]cdktf.ITerraformDependable{delivery},
	})
	s.wafLogGroup = group
}

// createFlowLogs records every flow of the new VPC (accepted and rejected) in a log group
// under the project key, written through a role that only VPC Flow Logs of this account
// may assume and that may only write to that group.
func (s *Service) createFlowLogs(env awsenv.Env, vpcID *string) {
	p := s.props
	group, arn := s.newLogGroup(env, "FlowLogGroup", FlowLogGroupNamePrefix+p.Name, "FlowLogs")
	role := iampolicy.NewServiceRole(s, "FlowLogRole", iampolicy.ServiceRole{
		Name:        p.Name + FlowLogRoleNameSuffix,
		Description: "Lets VPC Flow Logs deliver the flow logs of the VPC of " + p.Name + " to " + FlowLogGroupNamePrefix + p.Name,
		Service:     "vpc-flow-logs.amazonaws.com",
		TrustSid:    "VpcFlowLogsOfThisAccountAssume",
		Conditions: []iampolicy.Condition{
			iampolicy.StringEquals("aws:SourceAccount", *env.AccountID),
			iampolicy.ArnLike("aws:SourceArn", "arn:"+*env.Partition+":ec2:"+*env.Region+":"+*env.AccountID+":vpc-flow-log/*"),
		},
	})
	// What the delivery does with an existing group: look up its streams, create one per
	// network interface and put events (AWS's example also creates and lists groups).
	policy := iampolicy.Grant(s, "FlowLogDelivery", role, iampolicy.Statement{
		Sid:       WriteFlowLogsSid,
		Actions:   []string{"logs:CreateLogStream", "logs:PutLogEvents"},
		Resources: []string{arn + ":log-stream:*"},
	}, iampolicy.Statement{
		Sid:       DescribeFlowLogsSid,
		Actions:   []string{"logs:DescribeLogStreams"},
		Resources: []string{arn + ":*"},
	})
	s.flowLog = flowlog.NewFlowLog(s, jsii.String("FlowLog"), &flowlog.FlowLogConfig{
		VpcId:              vpcID,
		TrafficType:        jsii.String("ALL"),
		LogDestinationType: jsii.String("cloud-watch-logs"),
		LogDestination:     group.Arn(),
		IamRoleArn:         role.Arn(),
		Tags:               &map[string]*string{"Name": jsii.String(p.Name)},
		DependsOn:          &[]cdktf.ITerraformDependable{policy},
	})
	s.flowLogGroup, s.flowLogRole = group, role
}
