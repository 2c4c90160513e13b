package test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/dynamodbtable"
	"github.com/hashicorp/terraform-cdk-go/cdktf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/app/config"
	"github.com/acme/module-registry/constructs/accesslogs"
	"github.com/acme/module-registry/constructs/audittrail"
	"github.com/acme/module-registry/constructs/encryptionkey"
	"github.com/acme/module-registry/constructs/removal"
	"github.com/acme/module-registry/constructs/securebucket"
	"github.com/acme/module-registry/test/deploy"
)

func TestAuditTrailLive(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := deploy.Apply(t, "audittrail", func(stack cdktf.TerraformStack, cfg config.Config) {
		key := encryptionkey.New(stack, "ProjectKey", nil)
		// Emptied by destroy: S3 writes both buckets' access logs while the test runs.
		logs := accesslogs.New(stack, accesslogs.DefaultID, &accesslogs.Props{RemovalPolicy: removal.Destroy})
		deploy.Output(stack, "access_logs_bucket", logs.BucketName())
		artifacts := securebucket.New(stack, "Artifacts", &securebucket.Props{BucketName: cfg.ArtifactsBucket, EncryptionKey: key})
		packages := dynamodbtable.NewDynamodbTable(stack, jsii.String("Packages"), &dynamodbtable.DynamodbTableConfig{
			Name:        jsii.String("packages"),
			BillingMode: jsii.String("PAY_PER_REQUEST"),
			HashKey:     jsii.String("pkg_key"),
			Attribute:   &[]*dynamodbtable.DynamodbTableAttribute{{Name: jsii.String("pkg_key"), Type: jsii.String("S")}},
			ServerSideEncryption: &dynamodbtable.DynamodbTableServerSideEncryption{
				Enabled: jsii.Bool(true), KmsKeyArn: key.KeyArn(),
			},
			PointInTimeRecovery: &dynamodbtable.DynamodbTablePointInTimeRecovery{Enabled: jsii.Bool(true)},
		})
		trail := audittrail.New(stack, "AuditTrail", &audittrail.Props{
			EncryptionKey:       key,
			ArtifactsBucketName: cfg.ArtifactsBucket,
			DataEventBuckets:    []*securebucket.Bucket{artifacts},
			DataEventTableArns:  []string{*packages.Arn()},
		})
		deploy.Output(stack, "trail_arn", trail.TrailArn())
		deploy.Output(stack, "trail_name", trail.TrailName())
		deploy.Output(stack, "log_group_arn", trail.LogGroupArn())
		deploy.Output(stack, "log_group_name", trail.LogGroupName())
		deploy.Output(stack, "log_bucket", trail.LogBucket().BucketName())
		deploy.Output(stack, "log_bucket_arn", trail.LogBucket().BucketArn())
		deploy.Output(stack, "role_arn", trail.LogRoleArn())
		deploy.Output(stack, "key_arn", key.KeyArn())
		deploy.Output(stack, "key_id", key.KeyID())
		deploy.Output(stack, "artifacts_arn", artifacts.BucketArn())
		deploy.Output(stack, "table_arn", packages.Arn())
	})
	out := func(name string) string { return d.Output(t, name) }
	account, region := d.Config.AccountID, d.Config.Region
	trailName, trailArn := out("trail_name"), out("trail_arn")
	keyArn, roleArn := out("key_arn"), out("role_arn")
	logGroupName, logGroupArn := out("log_group_name"), out("log_group_arn")
	logBucket, logBucketArn := out("log_bucket"), out("log_bucket_arn")

	require.Equal(t, "acme-audit-trail", trailName)
	require.Equal(t, fmt.Sprintf("arn:aws:cloudtrail:%s:%s:trail/acme-audit-trail", region, account), trailArn,
		"the ARN the policies were written for is the trail's real ARN")
	require.Equal(t, "/aws/cloudtrail/acme-audit-trail", logGroupName)
	require.Equal(t, "pkg-artifacts-cloudtrail-logs-"+account, logBucket)

	ct := cloudtrail.NewFromConfig(d.AWS)
	t.Run("trail", func(t *testing.T) {
		status, err := ct.GetTrailStatus(ctx, &cloudtrail.GetTrailStatusInput{Name: &trailArn})
		require.NoError(t, err)
		assert.True(t, aws.ToBool(status.IsLogging), "logging on")

		desc, err := ct.DescribeTrails(ctx, &cloudtrail.DescribeTrailsInput{TrailNameList: []string{trailName}})
		require.NoError(t, err)
		require.Len(t, desc.TrailList, 1)
		tr := desc.TrailList[0]
		assert.True(t, aws.ToBool(tr.IsMultiRegionTrail), "multi-region")
		assert.True(t, aws.ToBool(tr.IncludeGlobalServiceEvents), "global service events")
		assert.True(t, aws.ToBool(tr.LogFileValidationEnabled), "log file validation")
		assert.Equal(t, keyArn, aws.ToString(tr.KmsKeyId), "encrypted with the project key, by ARN")
		assert.Equal(t, logBucket, aws.ToString(tr.S3BucketName))
		assert.Empty(t, aws.ToString(tr.S3KeyPrefix), "logs land under AWSLogs/{account}/")
		assert.Equal(t, logGroupArn+":*", aws.ToString(tr.CloudWatchLogsLogGroupArn))
		assert.Equal(t, roleArn, aws.ToString(tr.CloudWatchLogsRoleArn))
	})

	t.Run("event selectors", func(t *testing.T) {
		sel, err := ct.GetEventSelectors(ctx, &cloudtrail.GetEventSelectorsInput{TrailName: &trailArn})
		require.NoError(t, err)
		assert.Empty(t, sel.EventSelectors, "advanced selectors only")
		byName := map[string]map[string]cttypes.AdvancedFieldSelector{}
		for _, s := range sel.AdvancedEventSelectors {
			fields := map[string]cttypes.AdvancedFieldSelector{}
			for _, f := range s.FieldSelectors {
				fields[aws.ToString(f.Field)] = f
			}
			byName[aws.ToString(s.Name)] = fields
		}
		require.Len(t, byName, 3, "management, S3 and DynamoDB selectors: %v", byName)

		mgmt := byName[audittrail.ManagementSelectorName]
		require.Len(t, mgmt, 1, "only eventCategory: read and write management events")
		assert.Equal(t, []string{"Management"}, mgmt["eventCategory"].Equals)

		s3sel := byName[audittrail.S3SelectorName]
		assert.Equal(t, []string{"Data"}, s3sel["eventCategory"].Equals)
		assert.Equal(t, []string{"AWS::S3::Object"}, s3sel["resources.type"].Equals)
		assert.Equal(t, []string{out("artifacts_arn") + "/"}, s3sel["resources.ARN"].StartsWith)

		ddb := byName[audittrail.DynamoDBSelectorName]
		assert.Equal(t, []string{"Data"}, ddb["eventCategory"].Equals)
		assert.Equal(t, []string{"AWS::DynamoDB::Table"}, ddb["resources.type"].Equals)
		assert.Equal(t, []string{out("table_arn")}, ddb["resources.ARN"].Equals)
	})

	logs := cloudwatchlogs.NewFromConfig(d.AWS)
	t.Run("log group", func(t *testing.T) {
		groups, err := logs.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: &logGroupName})
		require.NoError(t, err)
		require.Len(t, groups.LogGroups, 1)
		g := groups.LogGroups[0]
		assert.EqualValues(t, 90, aws.ToInt32(g.RetentionInDays))
		assert.Equal(t, keyArn, aws.ToString(g.KmsKeyId))
	})

	iamc := iam.NewFromConfig(d.AWS)
	roleName := roleArn[strings.LastIndex(roleArn, "/")+1:]
	t.Run("delivery role", func(t *testing.T) {
		role, err := iamc.GetRole(ctx, &iam.GetRoleInput{RoleName: &roleName})
		require.NoError(t, err)
		trust := parsePolicy(t, aws.ToString(role.Role.AssumeRolePolicyDocument))
		require.Len(t, trust, 1)
		for _, st := range trust {
			assert.Equal(t, map[string]any{"Service": "cloudtrail.amazonaws.com"}, st.Principal)
			assert.Equal(t, stringList{"sts:AssumeRole"}, st.Action)
			assert.Equal(t, stringList{trailArn}, st.Condition["StringEquals"]["aws:SourceArn"], "assumable for this trail only")
		}

		names, err := iamc.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: &roleName})
		require.NoError(t, err)
		require.Len(t, names.PolicyNames, 1)
		pol, err := iamc.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: &roleName, PolicyName: &names.PolicyNames[0]})
		require.NoError(t, err)
		st := parsePolicy(t, aws.ToString(pol.PolicyDocument))
		require.Len(t, st, 1)
		for _, s := range st {
			assert.Equal(t, "Allow", s.Effect)
			assert.ElementsMatch(t, stringList{"logs:CreateLogStream", "logs:PutLogEvents"}, s.Action)
			assert.Equal(t, stringList{logGroupArn + ":log-stream:" + account + "_CloudTrail_*"}, s.Resource)
		}
		attached, err := iamc.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: &roleName})
		require.NoError(t, err)
		assert.Empty(t, attached.AttachedPolicies, "no managed policies")
	})

	s3c := s3.NewFromConfig(d.AWS, func(o *s3.Options) { o.UsePathStyle = true })
	t.Run("log bucket", func(t *testing.T) {
		enc, err := s3c.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: &logBucket})
		require.NoError(t, err)
		require.Len(t, enc.ServerSideEncryptionConfiguration.Rules, 1)
		def := enc.ServerSideEncryptionConfiguration.Rules[0].ApplyServerSideEncryptionByDefault
		assert.Equal(t, s3types.ServerSideEncryptionAwsKms, def.SSEAlgorithm)
		assert.Equal(t, keyArn, aws.ToString(def.KMSMasterKeyID))

		ver, err := s3c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: &logBucket})
		require.NoError(t, err)
		assert.Equal(t, s3types.BucketVersioningStatusEnabled, ver.Status)

		pab, err := s3c.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: &logBucket})
		require.NoError(t, err)
		c := pab.PublicAccessBlockConfiguration
		assert.Equal(t, []bool{true, true, true, true}, []bool{aws.ToBool(c.BlockPublicAcls), aws.ToBool(c.BlockPublicPolicy),
			aws.ToBool(c.IgnorePublicAcls), aws.ToBool(c.RestrictPublicBuckets)})

		lc, err := s3c.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: &logBucket})
		require.NoError(t, err)
		var glacier []s3types.Transition
		for _, r := range lc.Rules {
			if r.Status != s3types.ExpirationStatusEnabled {
				continue
			}
			for _, tr := range r.Transitions {
				if tr.StorageClass == s3types.TransitionStorageClassGlacier {
					glacier = append(glacier, tr)
				}
			}
		}
		require.Len(t, glacier, 1, "one enabled GLACIER transition: %+v", lc.Rules)
		assert.EqualValues(t, 90, aws.ToInt32(glacier[0].Days))

		pol, err := s3c.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: &logBucket})
		require.NoError(t, err)
		st := parsePolicy(t, aws.ToString(pol.Policy))
		acl := st[audittrail.BucketACLCheckSid]
		assert.Equal(t, "Allow", acl.Effect)
		assert.Equal(t, map[string]any{"Service": "cloudtrail.amazonaws.com"}, acl.Principal)
		assert.Equal(t, stringList{"s3:GetBucketAcl"}, acl.Action)
		assert.Equal(t, stringList{logBucketArn}, acl.Resource)
		assert.Equal(t, stringList{trailArn}, acl.Condition["StringEquals"]["aws:SourceArn"])
		w := st[audittrail.BucketWriteSid]
		assert.Equal(t, "Allow", w.Effect)
		assert.Equal(t, map[string]any{"Service": "cloudtrail.amazonaws.com"}, w.Principal)
		assert.Equal(t, stringList{"s3:PutObject"}, w.Action)
		assert.Equal(t, stringList{logBucketArn + "/AWSLogs/" + account + "/*"}, w.Resource)
		assert.Equal(t, stringList{trailArn}, w.Condition["StringEquals"]["aws:SourceArn"])
		assert.Equal(t, stringList{"bucket-owner-full-control"}, w.Condition["StringEquals"]["s3:x-amz-acl"])
		// CloudTrail names the key it was configured with; the bucket accepts only that ARN.
		assert.Equal(t, stringList{keyArn}, st[securebucket.DenyOtherKeysSid].Condition["StringNotEquals"]["s3:x-amz-server-side-encryption-aws-kms-key-id"])

		// Upload a log file the way CloudTrail does, naming the key the trail holds: the
		// bucket's deny statements must let it through.
		desc, err := ct.DescribeTrails(ctx, &cloudtrail.DescribeTrailsInput{TrailNameList: []string{trailName}})
		require.NoError(t, err)
		require.Len(t, desc.TrailList, 1)
		logKey := "AWSLogs/" + account + "/CloudTrail/" + region + "/2026/01/01/" + account + "_CloudTrail_" + region + "_test.json.gz"
		t.Cleanup(func() { emptyBucket(t, s3c, logBucket) })

		// CloudTrail.7: reads of the audit logs are logged too.
		logging, err := s3c.GetBucketLogging(ctx, &s3.GetBucketLoggingInput{Bucket: &logBucket})
		require.NoError(t, err)
		require.NotNil(t, logging.LoggingEnabled)
		assert.Equal(t, out("access_logs_bucket"), aws.ToString(logging.LoggingEnabled.TargetBucket))
		assert.Equal(t, "s3/"+logBucket+"/", aws.ToString(logging.LoggingEnabled.TargetPrefix))
		_, err = s3c.PutObject(ctx, &s3.PutObjectInput{
			Bucket: &logBucket, Key: &logKey, Body: strings.NewReader("{}"),
			ACL:                  s3types.ObjectCannedACLBucketOwnerFullControl,
			ServerSideEncryption: s3types.ServerSideEncryptionAwsKms,
			SSEKMSKeyId:          desc.TrailList[0].KmsKeyId,
		})
		assert.NoError(t, err, "a delivery under the trail's key is accepted by the log bucket")
	})

	t.Run("key policy", func(t *testing.T) {
		kmsc := kms.NewFromConfig(d.AWS)
		pol, err := kmsc.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: aws.String(out("key_id")), PolicyName: aws.String("default")})
		require.NoError(t, err)
		st := parsePolicy(t, aws.ToString(pol.Policy))
		enc := st["CloudTrailEncryptLogsAcmeAuditTrail"]
		assert.Equal(t, map[string]any{"Service": "cloudtrail.amazonaws.com"}, enc.Principal)
		assert.Equal(t, stringList{"kms:GenerateDataKey"}, enc.Action)
		assert.Equal(t, stringList{trailArn}, enc.Condition["StringEquals"]["aws:SourceArn"])
		assert.Equal(t, stringList{"arn:aws:cloudtrail:*:" + account + ":trail/*"}, enc.Condition["StringLike"]["kms:EncryptionContext:aws:cloudtrail:arn"])
		describe := st["CloudTrailDescribeKeyAcmeAuditTrail"]
		assert.Equal(t, stringList{"kms:DescribeKey"}, describe.Action)
		assert.Equal(t, stringList{trailArn}, describe.Condition["StringEquals"]["aws:SourceArn"])
		logsUse := st["CloudWatchLogsUseAcmeAuditTrail"]
		assert.Equal(t, map[string]any{"Service": "logs." + region + ".amazonaws.com"}, logsUse.Principal)
		assert.Equal(t, stringList{logGroupArn}, logsUse.Condition["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"])
	})

	assert.True(t, d.PlanIsEmpty(t), "a second plan finds no drift")

	d.AfterDestroy(func(t *testing.T) {
		desc, err := ct.DescribeTrails(ctx, &cloudtrail.DescribeTrailsInput{TrailNameList: []string{trailName}})
		require.NoError(t, err)
		assert.Empty(t, desc.TrailList, "trail deleted")
		groups, err := logs.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: &logGroupName})
		require.NoError(t, err)
		assert.Empty(t, groups.LogGroups, "log group deleted")
		_, err = s3c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &logBucket})
		var notFound *s3types.NotFound
		assert.True(t, errors.As(err, &notFound), "log bucket deleted, got %v", err)
		_, err = iamc.GetRole(ctx, &iam.GetRoleInput{RoleName: &roleName})
		var noRole *iamtypes.NoSuchEntityException
		assert.True(t, errors.As(err, &noRole), "delivery role deleted, got %v", err)
	})
}
