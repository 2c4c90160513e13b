package compliance

// DynamoDB rules.
const (
	RuleDynamoDBScaling            = "dynamodb-capacity-scales"
	RuleDynamoDBPITR               = "dynamodb-point-in-time-recovery"
	RuleDynamoDBDeletionProtection = "dynamodb-deletion-protection"
)

// tables checks that every table scales with demand (on-demand, or auto scaling of both
// read and write capacity), has point-in-time recovery and deletion protection.
func (c *checker) tables() {
	scaled := map[string]map[string]bool{} // resource_id -> dimensions with a scalable target
	for _, name := range c.resources("aws_appautoscaling_target") {
		t := c.t.Resource["aws_appautoscaling_target"][name]
		id, _ := t["resource_id"].(string)
		dim, _ := t["scalable_dimension"].(string)
		if scaled[id] == nil {
			scaled[id] = map[string]bool{}
		}
		scaled[id][dim] = true
	}
	for _, name := range c.resources("aws_dynamodb_table") {
		addr := "aws_dynamodb_table." + name
		t := c.t.Resource["aws_dynamodb_table"][name]
		if t["billing_mode"] != "PAY_PER_REQUEST" {
			literal, _ := t["name"].(string)
			ok := false
			for _, id := range []string{"table/" + literal, "table/${aws_dynamodb_table." + name + ".name}", "table/${aws_dynamodb_table." + name + ".id}"} {
				ok = ok || (scaled[id]["dynamodb:table:ReadCapacityUnits"] && scaled[id]["dynamodb:table:WriteCapacityUnits"])
			}
			if !ok {
				c.add(addr, RuleDynamoDBScaling, "provisioned capacity without auto scaling of reads and writes; use PAY_PER_REQUEST")
			}
		}
		if !anyOf(blocks(t["point_in_time_recovery"]), func(p map[string]any) bool { return p["enabled"] == true }) {
			c.add(addr, RuleDynamoDBPITR, "point-in-time recovery is not enabled")
		}
		if t["deletion_protection_enabled"] != true {
			c.add(addr, RuleDynamoDBDeletionProtection, "deletion_protection_enabled is not true")
		}
	}
}
