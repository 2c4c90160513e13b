package compliance

import (
	"fmt"
	"slices"
)

// Application Load Balancer rules.
const (
	RuleELBRedirectHTTP         = "elb-http-redirects-to-https"
	RuleELBDropInvalidHeaders   = "elb-drop-invalid-headers"
	RuleELBAccessLogs           = "elb-access-logs"
	RuleELBDeletionProtection   = "elb-deletion-protection"
	RuleELBDesyncMitigation     = "elb-desync-mitigation"
	RuleELBMultiAZ              = "elb-multiple-availability-zones"
	RuleELBWebACL               = "elb-web-acl"
	RuleELBRecommendedTLSPolicy = "elb-recommended-tls-policy"
)

// RecommendedSslPolicies are the listener policies Security Hub recommends (ELB.17):
// TLS 1.3, with TLS 1.2 at most as the oldest protocol.
var RecommendedSslPolicies = []string{
	"ELBSecurityPolicy-TLS13-1-2-2021-06",
	"ELBSecurityPolicy-TLS13-1-2-Res-2021-06",
	"ELBSecurityPolicy-TLS13-1-2-Ext1-2021-06",
	"ELBSecurityPolicy-TLS13-1-2-Ext2-2021-06",
	"ELBSecurityPolicy-TLS13-1-3-2021-06",
}

// loadBalancers checks every application load balancer and its listeners.
func (c *checker) loadBalancers() {
	associated := c.referencing("aws_wafv2_web_acl_association", "resource_arn", "aws_lb")
	albs := map[string]bool{}
	for _, name := range c.resources("aws_lb") {
		addr := "aws_lb." + name
		lb := c.t.Resource["aws_lb"][name]
		if kind, _ := lb["load_balancer_type"].(string); kind != "" && kind != "application" {
			continue
		}
		albs[name] = true
		if lb["drop_invalid_header_fields"] != true {
			c.add(addr, RuleELBDropInvalidHeaders, "drop_invalid_header_fields is not true")
		}
		if !anyOf(blocks(lb["access_logs"]), func(l map[string]any) bool {
			b, _ := l["bucket"].(string)
			return l["enabled"] == true && b != ""
		}) {
			c.add(addr, RuleELBAccessLogs, "access logs are not delivered to a bucket")
		}
		if lb["enable_deletion_protection"] != true {
			c.add(addr, RuleELBDeletionProtection, "enable_deletion_protection is not true")
		}
		if mode, _ := lb["desync_mitigation_mode"].(string); mode == "monitor" {
			c.add(addr, RuleELBDesyncMitigation, "desync_mitigation_mode is monitor; use defensive or strictest")
		}
		// A subnet list given as one reference is left to AWS, which refuses fewer than two.
		if subnets, mappings := count(lb["subnets"]), len(blocks(lb["subnet_mapping"])); subnets >= 0 && max(subnets, mappings) < 2 {
			c.add(addr, RuleELBMultiAZ, "in %d subnet(s); spread it over at least two availability zones", max(subnets, mappings))
		}
		if len(associated[name]) == 0 {
			c.add(addr, RuleELBWebACL, "no WAF web ACL is associated (aws_wafv2_web_acl_association)")
		}
	}
	for _, name := range c.resources("aws_lb_listener") {
		l := c.t.Resource["aws_lb_listener"][name]
		lb, ok := referenced(l["load_balancer_arn"], "aws_lb")
		if !ok || !albs[lb] {
			continue
		}
		addr := "aws_lb_listener." + name
		switch l["protocol"] {
		case "HTTP":
			if !anyOf(blocks(l["default_action"]), func(a map[string]any) bool {
				return a["type"] == "redirect" && anyOf(blocks(a["redirect"]), func(r map[string]any) bool { return r["protocol"] == "HTTPS" })
			}) {
				c.add(addr, RuleELBRedirectHTTP, "plain HTTP is served instead of redirected to HTTPS")
			}
		case "HTTPS":
			if p, _ := l["ssl_policy"].(string); !slices.Contains(RecommendedSslPolicies, p) {
				c.add(addr, RuleELBRecommendedTLSPolicy, "ssl_policy %s is not one of the recommended %v", quoteOrDefault(p), RecommendedSslPolicies)
			}
		}
	}
}

func quoteOrDefault(s string) string {
	if s == "" {
		return "(the default, ELBSecurityPolicy-2016-08)"
	}
	return fmt.Sprintf("%q", s)
}
