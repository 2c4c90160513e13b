package compliance

// WAF rules.
const (
	RuleWAFHasRules    = "waf-web-acl-has-rules"
	RuleWAFLogging     = "waf-logging"
	RuleWAFRuleMetrics = "waf-cloudwatch-metrics"
)

// webACLs checks that every web ACL has a rule, logs, and reports CloudWatch metrics for
// itself and each rule.
func (c *checker) webACLs() {
	logging := c.referencing("aws_wafv2_web_acl_logging_configuration", "resource_arn", "aws_wafv2_web_acl")
	for _, name := range c.resources("aws_wafv2_web_acl") {
		addr := "aws_wafv2_web_acl." + name
		acl := c.t.Resource["aws_wafv2_web_acl"][name]
		rules := blocks(acl["rule"])
		if len(rules) == 0 && len(blocks(acl["rule_json"])) == 0 {
			c.add(addr, RuleWAFHasRules, "no rules: the web ACL only applies its default action")
		}
		if len(logging[name]) == 0 {
			c.add(addr, RuleWAFLogging, "no logging configuration (aws_wafv2_web_acl_logging_configuration)")
		}
		metrics := func(v any) bool {
			return anyOf(blocks(v), func(cfg map[string]any) bool { return cfg["cloudwatch_metrics_enabled"] == true })
		}
		if !metrics(acl["visibility_config"]) {
			c.add(addr, RuleWAFRuleMetrics, "the web ACL's CloudWatch metrics are off")
		}
		for _, r := range rules {
			if !metrics(r["visibility_config"]) {
				c.add(addr, RuleWAFRuleMetrics, "rule %v has its CloudWatch metrics off", r["name"])
			}
		}
	}
}
