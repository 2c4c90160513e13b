package fargateservice_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/constructs/fargateservice"
	"github.com/acme/module-registry/constructs/removal"
)

func TestLoadBalancer(t *testing.T) {
	r, svc := synth(t, nil)
	alb := r.Resource(t, "aws_lb")
	assert.Equal(t, "acme-registry", alb["name"])
	assert.Equal(t, "application", alb["load_balancer_type"])
	assert.Equal(t, true, alb["internal"], "internal unless InternetFacing")
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
		p.CertificateArn, p.AllowPlainHTTP, p.RemovalPolicy = "", true, removal.Destroy
		p.HealthCheckPath = "/ready"
	})
	assert.Equal(t, false, r.Resource(t, "aws_lb")["enable_deletion_protection"])
	l := r.Resource(t, "aws_lb_listener")
	assert.Equal(t, "HTTP", l["protocol"])
	assert.Equal(t, "forward", l["default_action"].([]any)[0].(map[string]any)["type"])
	assert.Equal(t, "/ready", r.Resource(t, "aws_lb_target_group")["health_check"].(map[string]any)["path"])
	assert.True(t, strings.HasPrefix(*svc.ServiceURL(), "http://"))
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
