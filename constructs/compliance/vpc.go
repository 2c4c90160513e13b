package compliance

// VPC rules.
const (
	RuleEC2DefaultSecurityGroupClosed = "ec2-default-security-group-closed"
	RuleEC2FlowLogs                   = "ec2-vpc-flow-logs"
)

// networks checks that every VPC of the stack manages its default security group with
// no rules and records its flows (all, or at least the rejected ones).
func (c *checker) networks() {
	defaults := c.referencing("aws_default_security_group", "vpc_id", "aws_vpc")
	flowLogs := c.referencing("aws_flow_log", "vpc_id", "aws_vpc")
	for _, name := range c.resources("aws_vpc") {
		addr := "aws_vpc." + name
		switch {
		case len(defaults[name]) == 0:
			c.add(addr, RuleEC2DefaultSecurityGroupClosed, "the default security group is not managed (aws_default_security_group), so it keeps AWS's allow rules")
		case anyOf(defaults[name], func(sg map[string]any) bool { return count(sg["ingress"]) != 0 || count(sg["egress"]) != 0 }):
			c.add(addr, RuleEC2DefaultSecurityGroupClosed, "the default security group has rules")
		}
		if !anyOf(flowLogs[name], func(f map[string]any) bool { return f["traffic_type"] == "ALL" || f["traffic_type"] == "REJECT" }) {
			c.add(addr, RuleEC2FlowLogs, "no flow log recording all or rejected traffic (aws_flow_log)")
		}
	}
}
