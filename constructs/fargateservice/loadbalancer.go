package fargateservice

import (
	"strings"

	"github.com/aws/jsii-runtime-go"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/lb"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/lblistener"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/lbtargetgroup"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/wafv2webacl"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/wafv2webaclassociation"
	"github.com/hashicorp/terraform-cdk-go/cdktf"

	"github.com/acme/module-registry/constructs/accesslogs"
)

func (s *Service) createLoadBalancer() []cdktf.ITerraformDependable {
	p := s.props
	subnets := s.net.privateSubnets
	if p.InternetFacing {
		subnets = s.net.publicSubnets
	}
	logs := p.AccessLogs
	if logs == nil {
		logs = accesslogs.Of(s)
	}
	logPrefix := logs.AllowLoadBalancerLogs(s, p.Name)
	s.alb = lb.NewLb(s, jsii.String("LoadBalancer"), &lb.LbConfig{
		Name:                     jsii.String(p.Name),
		LoadBalancerType:         jsii.String("application"),
		Internal:                 jsii.Bool(!p.InternetFacing),
		SecurityGroups:           jsii.Strings(*s.net.albSG.Id()),
		Subnets:                  jsii.Strings(subnets...),
		DropInvalidHeaderFields:  jsii.Bool(true),
		DesyncMitigationMode:     jsii.String(DesyncMitigationMode),
		EnableDeletionProtection: jsii.Bool(!p.RemovalPolicy.Destroys()),
		AccessLogs: &lb.LbAccessLogs{
			Bucket: logs.BucketName(), Prefix: jsii.String(logPrefix), Enabled: jsii.Bool(true),
		},
		// Elastic Load Balancing checks that it may write when access logs are turned on.
		DependsOn: &[]cdktf.ITerraformDependable{logs.PolicyResource()},
	})
	s.targetGroup = lbtargetgroup.NewLbTargetGroup(s, jsii.String("TargetGroup"), &lbtargetgroup.LbTargetGroupConfig{
		Name:                jsii.String(p.Name + "-tg"),
		Port:                jsii.Number(float64(p.ContainerPort)),
		Protocol:            jsii.String("HTTP"),
		TargetType:          jsii.String("ip"),
		VpcId:               jsii.String(s.net.vpcID),
		DeregistrationDelay: jsii.String("30"),
		HealthCheck: &lbtargetgroup.LbTargetGroupHealthCheck{
			Enabled:            jsii.Bool(true),
			Path:               jsii.String(p.HealthCheckPath),
			Protocol:           jsii.String("HTTP"),
			Port:               jsii.String("traffic-port"),
			Matcher:            jsii.String("200"),
			Interval:           jsii.Number(15),
			Timeout:            jsii.Number(5),
			HealthyThreshold:   jsii.Number(2),
			UnhealthyThreshold: jsii.Number(3),
		},
	})
	forward := []*lblistener.LbListenerDefaultAction{{Type: jsii.String("forward"), TargetGroupArn: s.targetGroup.Arn()}}
	var out []cdktf.ITerraformDependable
	switch {
	case p.CertificateArn != "":
		https := lblistener.NewLbListener(s, jsii.String("HttpsListener"), &lblistener.LbListenerConfig{
			LoadBalancerArn: s.alb.Arn(),
			Port:            jsii.Number(443),
			Protocol:        jsii.String("HTTPS"),
			SslPolicy:       jsii.String(p.SslPolicy),
			CertificateArn:  jsii.String(p.CertificateArn),
			DefaultAction:   forward,
		})
		redirect := lblistener.NewLbListener(s, jsii.String("HttpRedirectListener"), &lblistener.LbListenerConfig{
			LoadBalancerArn: s.alb.Arn(),
			Port:            jsii.Number(80),
			Protocol:        jsii.String("HTTP"),
			DefaultAction: []*lblistener.LbListenerDefaultAction{{
				Type: jsii.String("redirect"),
				Redirect: &lblistener.LbListenerDefaultActionRedirect{
					Protocol: jsii.String("HTTPS"), Port: jsii.String("443"), StatusCode: jsii.String("HTTP_301"),
				},
			}},
		})
		out = append(out, https, redirect)
	case p.AllowPlainHTTP:
		out = append(out, lblistener.NewLbListener(s, jsii.String("HttpListener"), &lblistener.LbListenerConfig{
			LoadBalancerArn: s.alb.Arn(),
			Port:            jsii.Number(80),
			Protocol:        jsii.String("HTTP"),
			DefaultAction:   forward,
		}))
	}
	return out
}

func (s *Service) createWebACL() {
	p := s.props
	visibility := func(metric string) map[string]any {
		return map[string]any{"cloudwatch_metrics_enabled": true, "metric_name": metric, "sampled_requests_enabled": true}
	}
	s.webACL = wafv2webacl.NewWafv2WebAcl(s, jsii.String("WebAcl"), &wafv2webacl.Wafv2WebAclConfig{
		Name:          jsii.String(p.Name + "-waf"),
		Description:   jsii.String("Rate limit per client IP in front of " + p.Name),
		Scope:         jsii.String("REGIONAL"),
		DefaultAction: &wafv2webacl.Wafv2WebAclDefaultAction{Allow: &wafv2webacl.Wafv2WebAclDefaultActionAllow{}},
		VisibilityConfig: &wafv2webacl.Wafv2WebAclVisibilityConfig{
			CloudwatchMetricsEnabled: jsii.Bool(true),
			MetricName:               jsii.String(metricName(p.Name + "-waf")),
			SampledRequestsEnabled:   jsii.Bool(true),
		},
	})
	// The rule's statement is a deeply nested union the bindings leave untyped; the
	// override writes it in the provider's own schema.
	s.webACL.AddOverride(jsii.String("rule"), []map[string]any{{
		"name":     RateLimitRuleName,
		"priority": 0,
		"action":   map[string]any{"block": map[string]any{}},
		"statement": map[string]any{
			"rate_based_statement": map[string]any{
				"limit":              p.RateLimitPer5Minutes,
				"aggregate_key_type": "IP",
			},
		},
		"visibility_config": visibility(metricName(p.Name + "-" + RateLimitRuleName)),
	}})
	wafv2webaclassociation.NewWafv2WebAclAssociation(s, jsii.String("WebAclAssociation"), &wafv2webaclassociation.Wafv2WebAclAssociationConfigA{
		ResourceArn: s.alb.Arn(),
		WebAclArn:   s.webACL.Arn(),
	})
}

func metricName(name string) string { return strings.ReplaceAll(name, "-", "_") }
