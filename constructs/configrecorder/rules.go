package configrecorder

import "github.com/acme/module-registry/constructs/compliance"

// ManagedRule is one AWS Config managed rule and the synth-time check it mirrors.
type ManagedRule struct {
	// Name is the rule's name in the account, AWS's documented rule name.
	Name string
	// Identifier is the managed rule's source identifier.
	Identifier string
	// InputParameters is the rule's parameters as JSON; "" for none.
	InputParameters string
	// Mirrors names what enforces the same invariant at synth: a compliance rule, or the
	// construct whose secure default it is.
	Mirrors string
	// Drift is what the rule catches that synth cannot: a change made outside Terraform.
	Drift string
}

// ManagedRules are the rules recorded by default, one per security invariant the stacks
// hold at synth. Synth only sees what Terraform will create; these watch what exists,
// whoever changed it (the console, the CLI, another tool, a compromised principal).
var ManagedRules = []ManagedRule{{
	Name: "s3-bucket-server-side-encryption-enabled", Identifier: "S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED",
	Mirrors: "compliance " + compliance.RuleS3KMS,
	Drift:   "a bucket's default encryption removed or changed, or a bucket created outside the stacks",
}, {
	Name: "s3-bucket-ssl-requests-only", Identifier: "S3_BUCKET_SSL_REQUESTS_ONLY",
	Mirrors: "compliance " + compliance.RuleS3TLSOnly,
	Drift:   "the bucket policy's TLS-only Deny deleted or edited by hand",
}, {
	Name: "s3-bucket-public-read-prohibited", Identifier: "S3_BUCKET_PUBLIC_READ_PROHIBITED",
	Mirrors: "compliance " + compliance.RuleS3PublicAccess,
	Drift:   "a public-access block lifted, or a public ACL or policy added outside Terraform",
}, {
	Name: "cloudtrail-enabled", Identifier: "CLOUD_TRAIL_ENABLED",
	Mirrors: "construct audittrail (logging on, multi-region)",
	Drift:   "the trail stopped (StopLogging) or deleted: synth cannot see an API call that turns logging off",
}, {
	Name: "cloud-trail-log-file-validation-enabled", Identifier: "CLOUD_TRAIL_LOG_FILE_VALIDATION_ENABLED",
	Mirrors: "construct audittrail (log file validation)",
	Drift:   "log file validation switched off, so tampered log files would go unnoticed",
}, {
	Name: "cmk-backing-key-rotation-enabled", Identifier: "CMK_BACKING_KEY_ROTATION_ENABLED",
	Mirrors: "construct encryptionkey (rotation on by default)",
	Drift:   "key rotation disabled on a customer-managed key (DisableKeyRotation)",
}, {
	Name: "dynamodb-pitr-enabled", Identifier: "DYNAMODB_PITR_ENABLED",
	Mirrors: "construct registrytables (point-in-time recovery)",
	Drift:   "point-in-time recovery turned off on a table",
}, {
	Name: "ecs-containers-readonly-access", Identifier: "ECS_CONTAINERS_READONLY_ACCESS",
	Mirrors: "compliance " + compliance.RuleContainerReadOnly,
	Drift:   "a task definition revision registered by hand with a writable root filesystem",
}, {
	Name: "ecs-task-definition-nonroot-user", Identifier: "ECS_TASK_DEFINITION_NONROOT_USER",
	Mirrors: "compliance " + compliance.RuleContainerNonRoot,
	Drift:   "a task definition revision registered by hand that runs as root",
}, {
	Name: "alb-http-to-https-redirection-check", Identifier: "ALB_HTTP_TO_HTTPS_REDIRECTION_CHECK",
	Mirrors: "construct fargateservice (HTTP listener redirects to HTTPS)",
	Drift:   "a load balancer listener changed to serve plain HTTP",
}, {
	Name: "secretsmanager-rotation-enabled-check", Identifier: "SECRETSMANAGER_ROTATION_ENABLED_CHECK",
	InputParameters: `{"maximumAllowedRotationFrequency":"30"}`,
	Mirrors:         "construct secretrotation (every secret rotates within 30 days)",
	Drift:           "rotation cancelled (CancelRotateSecret) or its schedule stretched past 30 days, or a secret created without one",
}, {
	Name: "iam-policy-no-statements-with-admin-access", Identifier: "IAM_POLICY_NO_STATEMENTS_WITH_ADMIN_ACCESS",
	Mirrors: "compliance " + compliance.RuleWildcardAction,
	Drift:   "a customer-managed policy allowing Action \"*\" on Resource \"*\" created or edited outside the stacks",
}}
