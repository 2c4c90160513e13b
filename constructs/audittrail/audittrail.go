// Package audittrail provides the registry's CloudTrail audit trail, as the security guide
// specifies it: a multi-region trail with global service events, log file validation and
// logging on, encrypted with the project key, recording management events (read and
// write) plus S3 data events for the buckets and DynamoDB data events for the tables the
// caller names (advanced event selectors).
//
// The trail delivers to two places, both encrypted with the project key:
//
//   - a dedicated log bucket "{artifacts bucket}-cloudtrail-logs-{account id}" built with
//     securebucket (SSE-KMS, versioned, public access blocked, its own access logged into
//     the stack's access-log bucket), moving logs to GLACIER after 90 days, whose policy
//     lets cloudtrail.amazonaws.com check the bucket ACL and write under
//     AWSLogs/{account id}/ only, and only for this trail (aws:SourceArn);
//   - a CloudWatch Logs group "/aws/cloudtrail/{trail name}" kept 90 days, written through
//     a role that only cloudtrail.amazonaws.com may assume, only for this trail, and that
//     may only create log streams and put log events in that group.
//
// The key policy statements CloudTrail and CloudWatch Logs need are added through
// encryptionkey.Key.AllowServiceUse, each scoped to this trail or this log group.
//
//	key := encryptionkey.New(stack, "ProjectKey", nil)
//	artifacts := securebucket.New(stack, "Artifacts", &securebucket.Props{EncryptionKey: key})
//	trail := audittrail.New(stack, "AuditTrail", &audittrail.Props{
//		EncryptionKey:      key,
//		DataEventBuckets:   []*securebucket.Bucket{artifacts},
//		DataEventTableArns: []string{*packages.Arn()},
//	})
//	_ = trail.TrailArn()
package audittrail

import (
	"fmt"
	"net"
	"regexp"
	"slices"
	"strings"

	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/cloudtrail"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/cloudwatchloggroup"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/iamrole"
	"github.com/hashicorp/terraform-cdk-go/cdktf"

	"github.com/acme/module-registry/constructs/accesslogs"
	"github.com/acme/module-registry/constructs/encryptionkey"
	"github.com/acme/module-registry/constructs/iampolicy"
	"github.com/acme/module-registry/constructs/internal/awsenv"
	"github.com/acme/module-registry/constructs/internal/defaults"
	"github.com/acme/module-registry/constructs/internal/validation"
	"github.com/acme/module-registry/constructs/removal"
	"github.com/acme/module-registry/constructs/securebucket"
)

// Defaults from the security guide.
const (
	DefaultTrailName           = "acme-audit-trail"
	DefaultArtifactsBucketName = securebucket.DefaultBucketName
	DefaultLogRetentionDays    = 90
	DefaultLogArchiveDays      = 90
	DefaultLogArchiveClass     = "GLACIER"
	// LogGroupNamePrefix is prepended to the trail name to name the default log group.
	LogGroupNamePrefix = "/aws/cloudtrail/"
	// LogBucketNameInfix joins the artifacts bucket name and the account id.
	LogBucketNameInfix = "-cloudtrail-logs-"
	// LogRoleNameSuffix is appended to the trail name to name the default delivery role.
	LogRoleNameSuffix = "-cloudwatch-logs"
)

// RetentionDays are the values CloudWatch Logs accepts for a log group's retention.
var RetentionDays = validation.LogRetentionDays

// Sids of the log bucket policy statements this construct adds.
const (
	BucketACLCheckSid = "AWSCloudTrailAclCheck"
	BucketWriteSid    = "AWSCloudTrailWrite"
)

// Props configures a Trail. The zero value plus EncryptionKey is the secure default.
type Props struct {
	// EncryptionKey encrypts the log files, the log bucket and the log group; the trail
	// adds its key policy statements to it. Required.
	EncryptionKey *encryptionkey.Key
	// TrailName names the trail. Default: "acme-audit-trail".
	TrailName string
	// ArtifactsBucketName is the first part of the log bucket's name,
	// "{ArtifactsBucketName}-cloudtrail-logs-{account id}". Default: "pkg-artifacts".
	ArtifactsBucketName string
	// LogGroupName names the CloudWatch Logs group. Default: "/aws/cloudtrail/{TrailName}".
	LogGroupName string
	// LogRoleName names the role CloudTrail assumes to write to the log group.
	// Default: "{TrailName}-cloudwatch-logs".
	LogRoleName string
	// LogRetentionDays is how long the log group keeps events; one of RetentionDays.
	// Default: 90.
	LogRetentionDays int
	// LogArchiveDays is how many days after delivery log files move to
	// LogArchiveStorageClass. Default: 90.
	LogArchiveDays int
	// LogArchiveStorageClass is the storage class log files move to; one of
	// securebucket.StorageClasses. Default: "GLACIER".
	LogArchiveStorageClass string
	// RemovalPolicy removal.Destroy lets destroy delete the log bucket while it still
	// holds log files; for test stacks only. Default: removal.Retain (audit logs outlive
	// the stack).
	RemovalPolicy removal.Policy
	// DataEventBuckets are buckets whose object-level operations (GetObject, PutObject,
	// DeleteObject, ...) are logged as S3 data events. Default: none.
	DataEventBuckets []*securebucket.Bucket
	// DataEventBucketArns are more buckets, given by ARN, logged like DataEventBuckets.
	// Default: none.
	DataEventBucketArns []string
	// DataEventTableArns are DynamoDB tables whose item operations (PutItem, GetItem,
	// DeleteItem, Query, Scan, ...) are logged as data events. Default: none.
	DataEventTableArns []string
	// AccessLogs receives the S3 server access logs of the log bucket, so every read of
	// the audit logs is recorded too. Default: the stack's access-log bucket
	// (accesslogs.Of).
	AccessLogs *accesslogs.Bucket
}

// Trail is the audit trail with its log bucket, log group and delivery role.
type Trail struct {
	constructs.Construct
	props     Props
	errs      validation.Errors
	trail     cloudtrail.Cloudtrail
	trailArn  string
	logGroup  cloudwatchloggroup.CloudwatchLogGroup
	logBucket *securebucket.Bucket
	role      iamrole.IamRole
	selectors []*cloudtrail.CloudtrailAdvancedEventSelector
}

// New creates the trail and everything it delivers to under scope.
func New(scope constructs.Construct, id string, props *Props) *Trail {
	p := defaults.Copy(props)
	defaults.Set(&p.TrailName, DefaultTrailName)
	defaults.Set(&p.ArtifactsBucketName, DefaultArtifactsBucketName)
	derivedGroup, derivedRole := p.LogGroupName == "", p.LogRoleName == ""
	if derivedGroup {
		p.LogGroupName = LogGroupNamePrefix + p.TrailName
	}
	if derivedRole {
		p.LogRoleName = p.TrailName + LogRoleNameSuffix
	}
	defaults.Set(&p.LogRetentionDays, DefaultLogRetentionDays)
	defaults.Set(&p.LogArchiveDays, DefaultLogArchiveDays)
	defaults.Set(&p.LogArchiveStorageClass, DefaultLogArchiveClass)
	t := &Trail{props: p}
	constructs.NewConstruct_Override(t, scope, jsii.String(id))
	// A name derived from an invalid TrailName is not reported again.
	t.checkProps(derivedGroup, derivedRole)
	validation.Register(t, func(e *validation.Errors) { e.Merge(&t.errs) })

	env := awsenv.Of(t)
	// Built from strings rather than read from the resources: the key policy, the bucket
	// policy and the role all name the trail and the log group, which themselves depend
	// on the key, the bucket and the role.
	t.trailArn = "arn:" + *env.Partition + ":cloudtrail:" + *env.Region + ":" + *env.AccountID + ":trail/" + p.TrailName
	logGroupArn := "arn:" + *env.Partition + ":logs:" + *env.Region + ":" + *env.AccountID + ":log-group:" + p.LogGroupName

	// Without a key nothing can be encrypted and synth fails on the EncryptionKey
	// violation; the placeholder only keeps the rest of the tree buildable so that one
	// message, not a cascade from the sub-constructs, reports the mistake.
	var bucketKey encryptionkey.IKey = p.EncryptionKey
	if p.EncryptionKey == nil {
		bucketKey = encryptionkey.FromKeyArn(t, "MissingEncryptionKey", "arn:aws:kms:us-east-1:000000000000:key/missing")
	} else {
		t.allowKeyUse(env, logGroupArn)
	}
	keyArn := bucketKey.KeyArn()

	// Log bucket. Invalid archive settings are reported on this construct's props and
	// not passed on, so each mistake is reported once.
	bucketProps := &securebucket.Props{
		BucketName:    p.ArtifactsBucketName + LogBucketNameInfix + *env.AccountID,
		EncryptionKey: bucketKey,
		RemovalPolicy: p.RemovalPolicy,
		AccessLogs:    p.AccessLogs,
	}
	if t.archiveValid() {
		bucketProps.Transitions = []securebucket.Transition{{Days: p.LogArchiveDays, StorageClass: p.LogArchiveStorageClass}}
	}
	t.logBucket = securebucket.New(t, "LogBucket", bucketProps)
	bucketArn := *t.logBucket.BucketArn()
	sourceIsThisTrail := iampolicy.StringEquals("aws:SourceArn", t.trailArn)
	t.logBucket.AddToResourcePolicy(iampolicy.Statement{
		Sid:        BucketACLCheckSid,
		Principals: []iampolicy.Principal{iampolicy.ServicePrincipal("cloudtrail.amazonaws.com")},
		Actions:    []string{"s3:GetBucketAcl"},
		Resources:  []string{bucketArn},
		Conditions: []iampolicy.Condition{sourceIsThisTrail},
	}, iampolicy.Statement{
		Sid:        BucketWriteSid,
		Principals: []iampolicy.Principal{iampolicy.ServicePrincipal("cloudtrail.amazonaws.com")},
		Actions:    []string{"s3:PutObject"},
		Resources:  []string{t.logBucket.ArnForObjects("AWSLogs/" + *env.AccountID + "/")},
		Conditions: []iampolicy.Condition{
			sourceIsThisTrail,
			iampolicy.StringEquals("s3:x-amz-acl", "bucket-owner-full-control"),
		},
	})

	// CloudWatch Logs delivery.
	t.logGroup = cloudwatchloggroup.NewCloudwatchLogGroup(t, jsii.String("LogGroup"), &cloudwatchloggroup.CloudwatchLogGroupConfig{
		Name:            jsii.String(p.LogGroupName),
		RetentionInDays: jsii.Number(float64(p.LogRetentionDays)),
		KmsKeyId:        keyArn,
	})
	t.role = iampolicy.NewServiceRole(t, "LogRole", iampolicy.ServiceRole{
		Name:        p.LogRoleName,
		Description: "Lets CloudTrail trail " + p.TrailName + " deliver events to " + p.LogGroupName,
		Service:     "cloudtrail.amazonaws.com",
		TrustSid:    "CloudTrailAssumesForThisTrailOnly",
		Conditions:  []iampolicy.Condition{sourceIsThisTrail},
	})
	// CloudTrail names its streams {account}_CloudTrail_{region}, one per region.
	rolePolicy := iampolicy.Grant(t, "LogDelivery", t.role, iampolicy.Statement{
		Sid:       "WriteTrailLogStreams",
		Actions:   []string{"logs:CreateLogStream", "logs:PutLogEvents"},
		Resources: []string{logGroupArn + ":log-stream:" + *env.AccountID + "_CloudTrail_*"},
	})

	// The trail. CloudTrail checks at creation that it may write to the bucket, use the
	// key and assume the role, so the policies granting that come first.
	dependsOn := []cdktf.ITerraformDependable{rolePolicy, t.logGroup}
	if p.EncryptionKey != nil {
		dependsOn = append(dependsOn, p.EncryptionKey.Resource())
	}
	dependsOn = append(dependsOn, t.logBucket.PolicyResource())
	t.selectors = t.eventSelectors()
	t.trail = cloudtrail.NewCloudtrail(t, jsii.String("Trail"), &cloudtrail.CloudtrailConfig{
		Name:                       jsii.String(p.TrailName),
		S3BucketName:               t.logBucket.BucketName(),
		IsMultiRegionTrail:         jsii.Bool(true),
		IncludeGlobalServiceEvents: jsii.Bool(true),
		EnableLogFileValidation:    jsii.Bool(true),
		EnableLogging:              jsii.Bool(true),
		// The key ARN, not the alias or id: CloudTrail puts objects naming the key it was
		// given, and the log bucket denies uploads naming anything but the key ARN.
		KmsKeyId: keyArn,
		// CloudTrail wants the log group ARN with the stream wildcard.
		CloudWatchLogsGroupArn: jsii.String(*t.logGroup.Arn() + ":*"),
		CloudWatchLogsRoleArn:  t.role.Arn(),
		AdvancedEventSelector:  &t.selectors,
		DependsOn:              &dependsOn,
	})
	return t
}

// allowKeyUse adds the key policy statements CloudTrail and CloudWatch Logs need.
func (t *Trail) allowKeyUse(env awsenv.Env, logGroupArn string) {
	key, p := t.props.EncryptionKey, t.props
	suffix := validation.PascalCase(p.TrailName)
	sourceIsThisTrail := iampolicy.StringEquals("aws:SourceArn", t.trailArn)
	key.AllowServiceUse(encryptionkey.ServiceUse{
		Sid:     "CloudTrailEncryptLogs" + suffix,
		Service: "cloudtrail.amazonaws.com",
		Actions: []string{"kms:GenerateDataKey"},
		Conditions: []iampolicy.Condition{
			sourceIsThisTrail,
			{Test: "StringLike", Variable: "kms:EncryptionContext:aws:cloudtrail:arn",
				Values: []string{"arn:" + *env.Partition + ":cloudtrail:*:" + *env.AccountID + ":trail/*"}},
		},
	})
	key.AllowServiceUse(encryptionkey.ServiceUse{
		Sid:        "CloudTrailDescribeKey" + suffix,
		Service:    "cloudtrail.amazonaws.com",
		Actions:    []string{"kms:DescribeKey"},
		Conditions: []iampolicy.Condition{sourceIsThisTrail},
	})
	key.AllowLogGroup("CloudWatchLogsUse"+suffix, logGroupArn)
}

// eventSelectors returns the advanced selectors: all management events, then S3 object
// and DynamoDB table data events for the resources named in the props. A trail uses
// either basic or advanced selectors, never both.
func (t *Trail) eventSelectors() []*cloudtrail.CloudtrailAdvancedEventSelector {
	p := t.props
	field := func(name string, values ...string) *cloudtrail.CloudtrailAdvancedEventSelectorFieldSelector {
		return &cloudtrail.CloudtrailAdvancedEventSelectorFieldSelector{Field: jsii.String(name), EqualTo: jsii.Strings(values...)}
	}
	// No readOnly field: both read and write events are logged.
	out := []*cloudtrail.CloudtrailAdvancedEventSelector{{
		Name:          jsii.String(ManagementSelectorName),
		FieldSelector: &[]*cloudtrail.CloudtrailAdvancedEventSelectorFieldSelector{field("eventCategory", "Management")},
	}}
	var objects []string
	for _, b := range p.DataEventBuckets {
		if b != nil {
			objects = append(objects, *b.BucketArn()+"/")
		}
	}
	for _, arn := range p.DataEventBucketArns {
		objects = append(objects, arn+"/")
	}
	if len(objects) > 0 {
		arns := &cloudtrail.CloudtrailAdvancedEventSelectorFieldSelector{Field: jsii.String("resources.ARN"), StartsWith: jsii.Strings(objects...)}
		out = append(out, &cloudtrail.CloudtrailAdvancedEventSelector{
			Name: jsii.String(S3SelectorName),
			FieldSelector: &[]*cloudtrail.CloudtrailAdvancedEventSelectorFieldSelector{
				field("eventCategory", "Data"), field("resources.type", "AWS::S3::Object"), arns,
			},
		})
	}
	if len(p.DataEventTableArns) > 0 {
		out = append(out, &cloudtrail.CloudtrailAdvancedEventSelector{
			Name: jsii.String(DynamoDBSelectorName),
			FieldSelector: &[]*cloudtrail.CloudtrailAdvancedEventSelectorFieldSelector{
				field("eventCategory", "Data"), field("resources.type", "AWS::DynamoDB::Table"),
				field("resources.ARN", p.DataEventTableArns...),
			},
		})
	}
	return out
}

// Names of the advanced event selectors.
const (
	ManagementSelectorName = "Management events"
	S3SelectorName         = "S3 object data events"
	DynamoDBSelectorName   = "DynamoDB table data events"
)

// TrailArn is the trail's ARN (from the live resource).
func (t *Trail) TrailArn() *string { return t.trail.Arn() }

// TrailName is the trail's name.
func (t *Trail) TrailName() *string { return t.trail.Name() }

// LogGroupArn is the CloudWatch Logs group's ARN, without the ":*" stream wildcard.
func (t *Trail) LogGroupArn() *string { return t.logGroup.Arn() }

// LogGroupName is the CloudWatch Logs group's name.
func (t *Trail) LogGroupName() *string { return t.logGroup.Name() }

// LogBucket is the bucket log files are delivered to.
func (t *Trail) LogBucket() *securebucket.Bucket { return t.logBucket }

// LogRoleArn is the ARN of the role CloudTrail assumes to write to the log group.
func (t *Trail) LogRoleArn() *string { return t.role.Arn() }

// Resource exposes the underlying aws_cloudtrail for escape hatches.
func (t *Trail) Resource() cloudtrail.Cloudtrail { return t.trail }

func (t *Trail) archiveValid() bool {
	p := t.props
	return p.LogArchiveDays >= 1 && slices.Contains(securebucket.StorageClasses, p.LogArchiveStorageClass) &&
		!(isInfrequentAccess(p.LogArchiveStorageClass) && p.LogArchiveDays < 30)
}

func isInfrequentAccess(class string) bool { return class == "STANDARD_IA" || class == "ONEZONE_IA" }

var (
	trailNamePattern    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9]$`)
	trailNameAdjacent   = regexp.MustCompile(`[._-]{2}`)
	logGroupNamePattern = regexp.MustCompile(`^[A-Za-z0-9._/#-]+$`)
	roleNamePattern     = regexp.MustCompile(`^[A-Za-z0-9+=,.@_-]+$`)
	bucketArnPattern    = regexp.MustCompile(`^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	tableArnPattern     = regexp.MustCompile(`^arn:aws[a-z-]*:dynamodb:[a-z0-9-]+:[0-9]{12}:table/[A-Za-z0-9_.-]{3,255}$`)
)

// checkProps records one violation per invalid prop. Props are plain values known in New;
// only resource references (tokens) are left for Terraform to check.
func (t *Trail) checkProps(derivedGroup, derivedRole bool) {
	p, e := t.props, &t.errs
	trailNameErr := validateTrailName(p.TrailName)
	if p.EncryptionKey == nil {
		e.Addf("EncryptionKey", "is required: the trail, its log bucket and its log group are encrypted with the project key, whose policy the trail extends")
	}
	if trailNameErr != nil {
		e.Addf("TrailName", "%v", trailNameErr)
	}
	// The account id is 12 digits; check the name the bucket will have.
	if err := securebucket.ValidateBucketName(p.ArtifactsBucketName + LogBucketNameInfix + "000000000000"); err != nil {
		e.Addf("ArtifactsBucketName", "%q cannot name the log bucket %q: %v",
			p.ArtifactsBucketName, p.ArtifactsBucketName+LogBucketNameInfix+"{account id}", err)
	}
	badGroup := len(p.LogGroupName) > 512 || !logGroupNamePattern.MatchString(p.LogGroupName) || strings.HasPrefix(p.LogGroupName, "aws/")
	if badGroup && (!derivedGroup || trailNameErr == nil) {
		e.Addf("LogGroupName", "%q must be 1-512 letters, digits and . _ - / # and must not start with aws/", p.LogGroupName)
	}
	badRole := len(p.LogRoleName) > 64 || !roleNamePattern.MatchString(p.LogRoleName)
	if badRole && (!derivedRole || trailNameErr == nil) {
		e.Addf("LogRoleName", "%q must be 1-64 letters, digits and + = , . @ _ - (the default is TrailName+%q; set LogRoleName for long trail names)",
			p.LogRoleName, LogRoleNameSuffix)
	}
	e.CheckLogRetention("LogRetentionDays", p.LogRetentionDays)
	if !slices.Contains(securebucket.StorageClasses, p.LogArchiveStorageClass) {
		e.Addf("LogArchiveStorageClass", "%q is not one of %s", p.LogArchiveStorageClass, strings.Join(securebucket.StorageClasses, ", "))
	}
	switch {
	case p.LogArchiveDays < 1:
		e.Addf("LogArchiveDays", "must be at least 1 day, got %d", p.LogArchiveDays)
	case isInfrequentAccess(p.LogArchiveStorageClass) && p.LogArchiveDays < 30:
		e.Addf("LogArchiveDays", "S3 needs at least 30 days before %s, got %d", p.LogArchiveStorageClass, p.LogArchiveDays)
	}
	for i, b := range p.DataEventBuckets {
		if b == nil {
			e.Addf(fmt.Sprintf("DataEventBuckets[%d]", i), "is nil")
		}
	}
	for i, arn := range p.DataEventBucketArns {
		if !validation.IsToken(arn) && !bucketArnPattern.MatchString(arn) {
			e.Addf(fmt.Sprintf("DataEventBucketArns[%d]", i), "%q is not a bucket ARN (arn:aws:s3:::<bucket>, no key or wildcard)", arn)
		}
	}
	for i, arn := range p.DataEventTableArns {
		if !validation.IsToken(arn) && !tableArnPattern.MatchString(arn) {
			e.Addf(fmt.Sprintf("DataEventTableArns[%d]", i), "%q is not a DynamoDB table ARN (arn:aws:dynamodb:<region>:<account>:table/<name>)", arn)
		}
	}
}

// validateTrailName applies CloudTrail's naming rules.
func validateTrailName(name string) error {
	switch {
	case len(name) < 3 || len(name) > 128:
		return fmt.Errorf("%q must be 3-128 characters long, got %d", name, len(name))
	case !trailNamePattern.MatchString(name):
		return fmt.Errorf("%q may hold only letters, digits, periods, underscores and hyphens, and must begin and end with a letter or digit", name)
	case trailNameAdjacent.MatchString(name):
		return fmt.Errorf("%q must not have adjacent periods, underscores or hyphens", name)
	case net.ParseIP(name) != nil:
		return fmt.Errorf("%q must not be formatted as an IP address", name)
	}
	return nil
}
