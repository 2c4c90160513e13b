package compliance_test

import (
	"fmt"

	"github.com/acme/module-registry/constructs/compliance"
)

// A log group under the project key but without retention breaks one invariant. A
// waiver exempts it only with a stated reason; a waiver without one is an error.
func ExampleCheck() {
	stack := []byte(`{"resource": {
		"aws_kms_key": {"project": {"enable_key_rotation": true}},
		"aws_cloudwatch_log_group": {"audit": {"name": "/audit", "kms_key_id": "${aws_kms_key.project.arn}"}}
	}}`)

	violations, _ := compliance.Check(stack, compliance.Options{})
	for _, v := range violations {
		fmt.Println(v)
	}

	waiver := compliance.Waiver{Address: "aws_cloudwatch_log_group.audit", Rule: compliance.RuleLogsRetention,
		Why: "audit events are kept for good under the legal-hold policy"}
	violations, _ = compliance.Check(stack, compliance.Options{Waivers: []compliance.Waiver{waiver}})
	fmt.Println("with the waiver:", len(violations), "violations")

	waiver.Why = ""
	_, err := compliance.Check(stack, compliance.Options{Waivers: []compliance.Waiver{waiver}})
	fmt.Println(err)
	// Output:
	// aws_cloudwatch_log_group.audit: logs-retention: no retention_in_days: logs would be kept forever
	// with the waiver: 0 violations
	// compliance: waiver of rule logs-retention for aws_cloudwatch_log_group.audit has no reason: set Why to say why the exception is safe
}
