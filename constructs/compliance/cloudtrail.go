package compliance

// CloudTrail rules.
const (
	RuleCloudTrailMultiRegion    = "cloudtrail-multi-region-management-events"
	RuleCloudTrailKMS            = "cloudtrail-project-key"
	RuleCloudTrailLogValidation  = "cloudtrail-log-file-validation"
	RuleCloudTrailCloudWatchLogs = "cloudtrail-cloudwatch-logs"
	RuleCloudTrailBucketLogged   = "cloudtrail-bucket-access-logged"
)

// trails checks every trail: multi-region with read and write management events,
// encrypted under the project key, log file validation, delivery to CloudWatch Logs,
// and a log bucket of this stack whose own access is logged.
func (c *checker) trails() {
	logging := c.attachedTo("aws_s3_bucket_logging")
	for _, name := range c.resources("aws_cloudtrail") {
		addr := "aws_cloudtrail." + name
		t := c.t.Resource["aws_cloudtrail"][name]
		if t["is_multi_region_trail"] != true {
			c.add(addr, RuleCloudTrailMultiRegion, "is_multi_region_trail is not true")
		}
		if !recordsAllManagementEvents(t) {
			c.add(addr, RuleCloudTrailMultiRegion, "its event selectors do not record both read and write management events")
		}
		if !c.projectKey(t["kms_key_id"]) {
			c.add(addr, RuleCloudTrailKMS, "log files are not encrypted with the project key (kms_key_id)")
		}
		if t["enable_log_file_validation"] != true {
			c.add(addr, RuleCloudTrailLogValidation, "enable_log_file_validation is not true")
		}
		if s, _ := t["cloud_watch_logs_group_arn"].(string); s == "" {
			c.add(addr, RuleCloudTrailCloudWatchLogs, "no cloud_watch_logs_group_arn: events do not reach CloudWatch Logs")
		}
		bucket, ok := referenced(t["s3_bucket_name"], "aws_s3_bucket")
		switch {
		case !ok:
			c.add(addr, RuleCloudTrailBucketLogged, "s3_bucket_name is not a bucket of this stack, so its access logging cannot be checked")
		case len(logging[bucket]) == 0:
			c.add(addr, RuleCloudTrailBucketLogged, "the log bucket aws_s3_bucket.%s has no server access logging", bucket)
		}
	}
}

// recordsAllManagementEvents reports whether a trail's selectors record read and write
// management events: advanced selectors need one on eventCategory Management without a
// readOnly field; basic ones one including management events of both kinds. A trail
// without selectors records all management events.
func recordsAllManagementEvents(t map[string]any) bool {
	if advanced := blocks(t["advanced_event_selector"]); len(advanced) > 0 {
		return anyOf(advanced, func(sel map[string]any) bool {
			fields := blocks(sel["field_selector"])
			management := anyOf(fields, func(f map[string]any) bool {
				return f["field"] == "eventCategory" && len(strs(f["equals"])) == 1 && strs(f["equals"])[0] == "Management"
			})
			readOnly := anyOf(fields, func(f map[string]any) bool { return f["field"] == "readOnly" })
			return management && !readOnly
		})
	}
	if basic := blocks(t["event_selector"]); len(basic) > 0 {
		return anyOf(basic, func(sel map[string]any) bool {
			kind, _ := sel["read_write_type"].(string)
			return enabled(sel["include_management_events"], true) && (kind == "" || kind == "All")
		})
	}
	return true
}
