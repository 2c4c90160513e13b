package compliance_test

import (
	"strings"
	"testing"

	"github.com/aws/jsii-runtime-go"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/cloudwatchloggroup"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/s3bucket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/constructs/compliance"
	"github.com/acme/module-registry/constructs/encryptionkey"
	"github.com/acme/module-registry/constructs/internal/synthtest"
	"github.com/acme/module-registry/constructs/securebucket"
)

func TestAspectPassesProjectConstructs(t *testing.T) {
	stack := synthtest.NewStack(t)
	compliance.Apply(stack, compliance.Options{})
	key := encryptionkey.New(stack, "Key", nil)
	securebucket.New(stack, "Artifacts", &securebucket.Props{EncryptionKey: key})
	synthtest.Synth(t, stack)
}

func TestAspectFailsSynthListingEveryViolation(t *testing.T) {
	stack := synthtest.NewStack(t)
	compliance.Apply(stack, compliance.Options{})
	key := encryptionkey.New(stack, "Key", nil)
	securebucket.New(stack, "Artifacts", &securebucket.Props{EncryptionKey: key})
	s3bucket.NewS3Bucket(stack, jsii.String("Plain"), &s3bucket.S3BucketConfig{Bucket: jsii.String("plain")})
	cloudwatchloggroup.NewCloudwatchLogGroup(stack, jsii.String("Logs"), &cloudwatchloggroup.CloudwatchLogGroupConfig{Name: jsii.String("/x")})

	var rules []string
	for _, line := range synthtest.ValidationErrors(t, stack) {
		assert.Contains(t, line, "compliance: ")
		for _, r := range []string{compliance.RuleS3KMS, compliance.RuleS3PublicAccess, compliance.RuleS3Versioning,
			compliance.RuleS3OwnerEnforced, compliance.RuleS3TLSOnly, compliance.RuleLogsKMS, compliance.RuleLogsRetention} {
			if strings.Contains(line, ": "+r+": ") {
				rules = append(rules, r)
			}
		}
		assert.NotContains(t, line, "Artifacts", "the securebucket holds every invariant")
	}
	assert.ElementsMatch(t, []string{compliance.RuleS3KMS, compliance.RuleS3PublicAccess, compliance.RuleS3Versioning,
		compliance.RuleS3OwnerEnforced, compliance.RuleS3TLSOnly, compliance.RuleLogsKMS, compliance.RuleLogsRetention}, rules)
}

func TestAspectFailsSynthOnAWaiverWithoutAReason(t *testing.T) {
	stack := synthtest.NewStack(t)
	compliance.Apply(stack, compliance.Options{Waivers: []compliance.Waiver{
		{Address: "aws_cloudwatch_log_group.Logs", Rule: compliance.RuleLogsRetention},
		{Address: "aws_cloudwatch_log_group.Logs", Rule: compliance.RuleLogsKMS},
	}})
	cloudwatchloggroup.NewCloudwatchLogGroup(stack, jsii.String("Logs"), &cloudwatchloggroup.CloudwatchLogGroupConfig{Name: jsii.String("/x")})

	errs := synthtest.ValidationErrors(t, stack)
	require.Len(t, errs, 2, "one message per waiver: %v", errs)
	assert.Contains(t, errs[0], "compliance: waiver of rule logs-retention for aws_cloudwatch_log_group.Logs has no reason")
	assert.Contains(t, errs[1], "compliance: waiver of rule logs-project-key for aws_cloudwatch_log_group.Logs has no reason")
}
