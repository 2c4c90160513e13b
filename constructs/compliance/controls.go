package compliance

import (
	"slices"
	"sort"
)

// ruleControls maps each rule to the AWS Security Hub Foundational Security Best
// Practices (FSBP) controls it implements. Rules without one hold the project's own
// invariants (the project key everywhere, images pinned by digest, ...).
var ruleControls = map[string][]string{
	RuleS3AccountPublicAccess: {"S3.1"},
	RuleS3TLSOnly:             {"S3.5"},
	RuleS3PublicAccess:        {"S3.8"},
	RuleS3AccessLogging:       {"S3.9"},
	RuleS3EventNotifications:  {"S3.11"},
	RuleS3OwnerEnforced:       {"S3.12"},
	RuleS3Lifecycle:           {"S3.13"},
	RuleS3Versioning:          {"S3.14"},
	RuleS3KMS:                 {"S3.17"},

	RuleCloudTrailMultiRegion:    {"CloudTrail.1"},
	RuleCloudTrailKMS:            {"CloudTrail.2"},
	RuleCloudTrailLogValidation:  {"CloudTrail.4"},
	RuleCloudTrailCloudWatchLogs: {"CloudTrail.5"},
	RuleCloudTrailBucketLogged:   {"CloudTrail.7"},

	RuleKMSNoDecryptAllKeys: {"KMS.1", "KMS.2"},
	RuleKMSRotation:         {"KMS.4"},

	RuleDynamoDBScaling:            {"DynamoDB.1"},
	RuleDynamoDBPITR:               {"DynamoDB.2"},
	RuleDynamoDBDeletionProtection: {"DynamoDB.6"},

	RuleServiceNoPublicIP:       {"ECS.2"},
	RuleContainerNotPrivileged:  {"ECS.4"},
	RuleContainerReadOnly:       {"ECS.5"},
	RuleContainerNoSecretEnv:    {"ECS.8"},
	RuleContainerLogging:        {"ECS.9"},
	RuleServiceLatestPlatform:   {"ECS.10"},
	RuleClusterContainerInsight: {"ECS.12"},

	RuleELBRedirectHTTP:         {"ELB.1"},
	RuleELBDropInvalidHeaders:   {"ELB.4"},
	RuleELBAccessLogs:           {"ELB.5"},
	RuleELBDeletionProtection:   {"ELB.6"},
	RuleELBDesyncMitigation:     {"ELB.12"},
	RuleELBMultiAZ:              {"ELB.13"},
	RuleELBWebACL:               {"ELB.16"},
	RuleELBRecommendedTLSPolicy: {"ELB.17"},

	RuleWAFHasRules:    {"WAF.10"},
	RuleWAFLogging:     {"WAF.11"},
	RuleWAFRuleMetrics: {"WAF.12"},

	RuleEC2DefaultSecurityGroupClosed: {"EC2.2"},
	RuleEC2FlowLogs:                   {"EC2.6"},

	RuleECRScanOnPush:      {"ECR.1"},
	RuleECRImmutableTags:   {"ECR.2"},
	RuleECRLifecyclePolicy: {"ECR.3"},

	RuleWildcardAction:         {"IAM.1", "IAM.21"},
	RuleNoLongLivedCredentials: {"IAM.2", "IAM.3"},
}

// Controls returns the FSBP control ids rule implements, e.g. ["S3.9"]; none for the
// project's own invariants.
func Controls(rule string) []string { return slices.Clone(ruleControls[rule]) }

// ControlRules maps every FSBP control the aspect implements to its rules, sorted.
func ControlRules() map[string][]string {
	out := map[string][]string{}
	for rule, controls := range ruleControls {
		for _, c := range controls {
			out[c] = append(out[c], rule)
		}
	}
	for _, rules := range out {
		sort.Strings(rules)
	}
	return out
}
