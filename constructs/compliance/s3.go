package compliance

// S3 rules beyond encryption, versioning, public access, TLS and ownership (rules.go).
const (
	RuleS3AccountPublicAccess = "s3-account-public-access-blocked"
	RuleS3AccessLogging       = "s3-access-logging"
	RuleS3EventNotifications  = "s3-event-notifications"
	RuleS3Lifecycle           = "s3-lifecycle"
)

// AccessLogTargetEncryption is the one exception to SSE-KMS: AWS delivers S3 server
// access logs and load balancer access logs only to buckets encrypted with SSE-S3, so a
// bucket this stack's buckets or load balancers log to may use SSE-S3 (and nothing
// weaker).
var AccessLogTargetEncryption = Exception{
	Rule: RuleS3KMS,
	Why:  "AWS delivers S3 server access logs and load balancer access logs only to buckets encrypted with SSE-S3",
}

// AccessLogTargetLogging exempts a bucket receiving access logs (of buckets or load
// balancers) from logging its own access: into itself it would log its own log writes
// without end, and into another log bucket it only moves the question.
var AccessLogTargetLogging = Exception{
	Rule: RuleS3AccessLogging,
	Why:  "a bucket receiving access logs would log its own log writes without end",
}

// logTargets returns the buckets of the stack that receive S3 server access logs and
// those that receive load balancer access logs.
func (c *checker) logTargets() (server, loadBalancer map[string]bool) {
	server, loadBalancer = map[string]bool{}, map[string]bool{}
	for _, name := range c.resources("aws_s3_bucket_logging") {
		if b, ok := referenced(c.attr("aws_s3_bucket_logging", name, "target_bucket"), "aws_s3_bucket"); ok {
			server[b] = true
		}
	}
	for _, name := range c.resources("aws_lb") {
		for _, logs := range blocks(c.attr("aws_lb", name, "access_logs")) {
			if b, ok := referenced(logs["bucket"], "aws_s3_bucket"); ok {
				loadBalancer[b] = true
			}
		}
	}
	return server, loadBalancer
}

// s3Buckets checks account-wide public access, server access logging, event
// notifications and lifecycle rules.
func (c *checker) s3Buckets() {
	for _, name := range c.resources("aws_s3_account_public_access_block") {
		b := c.t.Resource["aws_s3_account_public_access_block"][name]
		if !(b["block_public_acls"] == true && b["block_public_policy"] == true && b["ignore_public_acls"] == true && b["restrict_public_buckets"] == true) {
			c.add("aws_s3_account_public_access_block."+name, RuleS3AccountPublicAccess, "not all four account-wide public-access blocks are on")
		}
	}
	serverTargets, loadBalancerTargets := c.logTargets()
	logging := c.attachedTo("aws_s3_bucket_logging")
	notifications := c.attachedTo("aws_s3_bucket_notification")
	lifecycles := c.attachedTo("aws_s3_bucket_lifecycle_configuration")
	for _, name := range c.resources("aws_s3_bucket") {
		addr := "aws_s3_bucket." + name
		intoItself := anyOf(logging[name], func(l map[string]any) bool {
			target, _ := referenced(l["target_bucket"], "aws_s3_bucket")
			return target == name
		})
		switch {
		case intoItself:
			c.add(addr, RuleS3AccessLogging, "logs its access into itself")
		case len(logging[name]) == 0 && !serverTargets[name] && !loadBalancerTargets[name]: // AccessLogTargetLogging
			c.add(addr, RuleS3AccessLogging, "no server access logging (aws_s3_bucket_logging)")
		}
		if !anyOf(notifications[name], func(n map[string]any) bool {
			return n["eventbridge"] == true || len(blocks(n["topic"])) > 0 || len(blocks(n["queue"])) > 0 || len(blocks(n["lambda_function"])) > 0
		}) {
			c.add(addr, RuleS3EventNotifications, "no event notifications (EventBridge, SNS, SQS or Lambda)")
		}
		if !anyOf(lifecycles[name], func(l map[string]any) bool {
			return anyOf(blocks(l["rule"]), func(r map[string]any) bool { return r["status"] == "Enabled" })
		}) {
			c.add(addr, RuleS3Lifecycle, "no enabled lifecycle rule")
		}
	}
}
