// Package accesslogs provides the bucket a stack's access logs go to: the S3 server
// access logs of its buckets and the access logs of its load balancers.
//
// AWS delivers both only to a bucket encrypted with SSE-S3 (S3-managed keys), so this
// bucket is the one exception to the module's SSE-KMS rule. Everything else is as for a
// securebucket: versioning, all four public-access blocks, ACLs disabled, a policy
// denying requests without TLS and uploads asking for another encryption, lifecycle
// rules (log files expire after RetentionDays), and event notifications to EventBridge.
// Its policy lets each log source write only its own prefix, and only for this account:
//
//   - S3 (logging.s3.amazonaws.com) writes a bucket's logs under "s3/<bucket>/", only
//     for that bucket (aws:SourceArn) of this account (aws:SourceAccount);
//   - Elastic Load Balancing writes a load balancer's logs under
//     "alb/<name>/AWSLogs/<account>/", as the region's Elastic Load Balancing account
//     (aws_elb_service_account; us-east-1: 127311923021), the principal AWS documents
//     for every region opened before August 2022.
//
// Every stack has one: Of returns it, creating it with the default props on first use,
// and securebucket and fargateservice log to it unless told otherwise. To give it other
// props, create it before anything uses it:
//
//	accesslogs.New(stack, accesslogs.DefaultID, &accesslogs.Props{NamePrefix: "team-b"})
//	securebucket.New(stack, "Models", &securebucket.Props{EncryptionKey: key}) // logs to it
//
// The access-log bucket does not log its own access: into itself that would log its
// own log writes without end.
package accesslogs

import (
	"regexp"
	"strings"

	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/dataawselbserviceaccount"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/s3bucket"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/s3bucketpolicy"
	"github.com/hashicorp/terraform-cdk-go/cdktf"

	"github.com/acme/module-registry/constructs/iampolicy"
	"github.com/acme/module-registry/constructs/internal/awsenv"
	"github.com/acme/module-registry/constructs/internal/bucketcore"
	"github.com/acme/module-registry/constructs/internal/defaults"
	"github.com/acme/module-registry/constructs/internal/validation"
	"github.com/acme/module-registry/constructs/removal"
)

// Defaults.
const (
	// DefaultID is the construct id, at the stack's root, of the stack's access-log bucket.
	DefaultID                              = "AccessLogs"
	DefaultRetentionDays                   = 365
	DefaultNoncurrentVersionExpirationDays = 30
	DefaultAbortIncompleteUploadDays       = 7
	// NameInfix joins the name prefix and the account id: the bucket is
	// "{NamePrefix}-access-logs-{account id}-{region}".
	NameInfix = "-access-logs-"
	// ServerAccessLogsPrefix starts the key prefix of every bucket's server access logs,
	// "s3/<bucket>/".
	ServerAccessLogsPrefix = "s3/"
	// LoadBalancerLogsPrefix starts the key prefix of every load balancer's logs,
	// "alb/<name>".
	LoadBalancerLogsPrefix = "alb/"
)

// Statement Sids of the bucket policy: its own protections, and the prefixes of the
// statements letting each log source write (the source's construct path follows).
const (
	DenyInsecureTransportSid  = bucketcore.DenyInsecureTransportSid
	DenyOtherEncryptionSid    = "DenyEncryptionOtherThanSSES3"
	ServerAccessLogsSidPrefix = "ServerAccessLogs"
	LoadBalancerLogsSidPrefix = "LoadBalancerLogs"
)

// Props configures a Bucket. The zero value is the secure default.
type Props struct {
	// NamePrefix starts the bucket's name, "{NamePrefix}-access-logs-{account id}-{region}".
	// Default: the id of the stack, in lowercase.
	NamePrefix string
	// BucketName names the bucket instead. Default: "" (derived from NamePrefix).
	BucketName string
	// RetentionDays is how many days log files are kept. Default: 365.
	RetentionDays int
	// NoncurrentVersionExpirationDays deletes overwritten or deleted log files after this
	// many days. Default: 30.
	NoncurrentVersionExpirationDays int
	// AbortIncompleteUploadDays aborts multipart uploads left incomplete this many days.
	// Default: 7.
	AbortIncompleteUploadDays int
	// RemovalPolicy removal.Destroy lets destroy delete the bucket with the log files it
	// still holds; for local and test stacks. Default: removal.Retain (destroy fails
	// while log files remain).
	RemovalPolicy removal.Policy
}

// Bucket is the access-log bucket.
type Bucket struct {
	constructs.Construct
	props      Props
	core       *bucketcore.Core
	env        awsenv.Env
	elbAccount dataawselbserviceaccount.DataAwsElbServiceAccount
}

// New creates an access-log bucket under scope. Created at the stack's root with id
// DefaultID, it is the stack's (see Of).
func New(scope constructs.Construct, id string, props *Props) *Bucket {
	p := defaults.Copy(props)
	defaults.Set(&p.RetentionDays, DefaultRetentionDays)
	defaults.Set(&p.NoncurrentVersionExpirationDays, DefaultNoncurrentVersionExpirationDays)
	defaults.Set(&p.AbortIncompleteUploadDays, DefaultAbortIncompleteUploadDays)
	b := &Bucket{}
	constructs.NewConstruct_Override(b, scope, jsii.String(id))
	b.env = awsenv.Of(b)
	if p.NamePrefix == "" {
		p.NamePrefix = stackNamePrefix(*cdktf.TerraformStack_Of(b).Node().Id())
	}
	name := p.BucketName
	if name == "" {
		name = p.NamePrefix + NameInfix + *b.env.AccountID + "-" + *b.env.Region
	}
	b.props = p
	validation.Register(b, b.validate)
	b.core = bucketcore.New(b, bucketcore.Config{
		Name:                            name,
		ForceDestroy:                    p.RemovalPolicy.Destroys(),
		Algorithm:                       bucketcore.SSES3,
		DenyOtherEncryptionSid:          DenyOtherEncryptionSid,
		AbortIncompleteUploadDays:       p.AbortIncompleteUploadDays,
		NoncurrentVersionExpirationDays: p.NoncurrentVersionExpirationDays,
		ExpirationDays:                  p.RetentionDays,
	})
	return b
}

// Of returns the access-log bucket of scope's stack: the child of the stack with id
// DefaultID, created with the default props when the stack has none yet.
func Of(scope constructs.Construct) *Bucket {
	stack := cdktf.TerraformStack_Of(scope)
	if b, ok := stack.Node().TryFindChild(jsii.String(DefaultID)).(*Bucket); ok {
		return b
	}
	return New(stack, DefaultID, nil)
}

var unsafeNameChars = regexp.MustCompile(`[^a-z0-9-]+`)

// MaxNamePrefixLength leaves room for NameInfix, a 12-digit account and the longest
// region name in a 63-character bucket name.
const MaxNamePrefixLength = 63 - len(NameInfix) - 12 - 1 - 14

// stackNamePrefix turns a stack id into the start of a bucket name.
func stackNamePrefix(id string) string {
	s := strings.Trim(unsafeNameChars.ReplaceAllString(strings.ToLower(id), "-"), "-")
	if len(s) > MaxNamePrefixLength {
		s = strings.TrimRight(s[:MaxNamePrefixLength], "-")
	}
	if s == "" {
		s = "stack"
	}
	return s
}

// AllowServerAccessLogs lets S3 deliver the server access logs of the bucket
// bucketArn, named bucketName, to this bucket, under the prefix it returns
// ("s3/<bucketName>/"), and only for that bucket of this account. source names the
// statement (by its construct path), so calling again for it changes nothing.
func (b *Bucket) AllowServerAccessLogs(source constructs.IConstruct, bucketName, bucketArn string) string {
	prefix := ServerAccessLogsPrefix + bucketName + "/"
	b.core.Policy.Add(iampolicy.Statement{
		Sid:        ServerAccessLogsSidPrefix + validation.PascalCase(*source.Node().Path()),
		Principals: []iampolicy.Principal{iampolicy.ServicePrincipal("logging.s3.amazonaws.com")},
		Actions:    []string{"s3:PutObject"},
		Resources:  []string{*b.core.Bucket.Arn() + "/" + prefix + "*"},
		Conditions: []iampolicy.Condition{
			{Test: "ArnEquals", Variable: "aws:SourceArn", Values: []string{bucketArn}},
			iampolicy.StringEquals("aws:SourceAccount", *b.env.AccountID),
		},
	})
	return prefix
}

// AllowLoadBalancerLogs lets Elastic Load Balancing deliver the access logs of the load
// balancer named name to this bucket, under the prefix it returns ("alb/<name>"), and
// only under that prefix's AWSLogs/<this account>/. source names the statement.
func (b *Bucket) AllowLoadBalancerLogs(source constructs.IConstruct, name string) string {
	if b.elbAccount == nil {
		b.elbAccount = dataawselbserviceaccount.NewDataAwsElbServiceAccount(b, jsii.String("LoadBalancingAccount"), nil)
	}
	prefix := LoadBalancerLogsPrefix + name
	b.core.Policy.Add(iampolicy.Statement{
		Sid:        LoadBalancerLogsSidPrefix + validation.PascalCase(*source.Node().Path()),
		Principals: []iampolicy.Principal{iampolicy.AWSPrincipal(*b.elbAccount.Arn())},
		Actions:    []string{"s3:PutObject"},
		Resources:  []string{*b.core.Bucket.Arn() + "/" + prefix + "/AWSLogs/" + *b.env.AccountID + "/*"},
	})
	return prefix
}

// BucketName is the bucket's name.
func (b *Bucket) BucketName() *string { return b.core.Bucket.Bucket() }

// BucketArn is the bucket's ARN.
func (b *Bucket) BucketArn() *string { return b.core.Bucket.Arn() }

// PolicyResource is the bucket policy; log sources wait for it (S3 and Elastic Load
// Balancing check they may write when logging is turned on).
func (b *Bucket) PolicyResource() s3bucketpolicy.S3BucketPolicy { return b.core.PolicyResource }

// Resource exposes the underlying aws_s3_bucket for escape hatches.
func (b *Bucket) Resource() s3bucket.S3Bucket { return b.core.Bucket }

// PolicyStatements returns the bucket policy's statements, for inspection and tests.
func (b *Bucket) PolicyStatements() []iampolicy.Statement { return b.core.Policy.Statements() }

func (b *Bucket) validate(e *validation.Errors) {
	p := b.props
	if p.BucketName != "" {
		if !validation.IsToken(p.BucketName) {
			if err := bucketcore.ValidateBucketName(p.BucketName); err != nil {
				e.Addf("BucketName", "%v", err)
			}
		}
	} else if !validation.IsToken(p.NamePrefix) {
		// The account id is 12 digits and the longest region has 14 characters.
		if err := bucketcore.ValidateBucketName(p.NamePrefix + NameInfix + "000000000000-ap-southeast-4"); err != nil {
			e.Addf("NamePrefix", "%q cannot start the bucket name %q: %v", p.NamePrefix, p.NamePrefix+NameInfix+"{account id}-{region}", err)
		}
	}
	for _, c := range []struct {
		prop string
		days int
	}{{"RetentionDays", p.RetentionDays}, {"NoncurrentVersionExpirationDays", p.NoncurrentVersionExpirationDays}, {"AbortIncompleteUploadDays", p.AbortIncompleteUploadDays}} {
		if c.days < 1 {
			e.Addf(c.prop, "must be at least 1, got %d", c.days)
		}
	}
	e.CheckRemovalPolicy(p.RemovalPolicy)
}
