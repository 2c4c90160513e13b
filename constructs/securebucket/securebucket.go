// Package securebucket provides an S3 bucket that is secure without options: SSE-KMS under
// the project key with a bucket key, versioning, all four public-access blocks, ACLs
// disabled (BucketOwnerEnforced), a policy denying non-TLS requests and uploads that ask
// for any other encryption, lifecycle rules that clean up incomplete uploads and old
// versions, server access logging into the stack's access-log bucket (accesslogs) and
// event notifications to EventBridge. Access is handed out with Grant methods scoped to
// object key prefixes.
package securebucket

import (
	"fmt"
	"slices"
	"strings"

	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/s3accountpublicaccessblock"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/s3bucket"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/s3bucketlogging"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/s3bucketpolicy"
	"github.com/hashicorp/terraform-cdk-go/cdktf"

	"github.com/acme/module-registry/constructs/accesslogs"
	"github.com/acme/module-registry/constructs/encryptionkey"
	"github.com/acme/module-registry/constructs/iampolicy"
	"github.com/acme/module-registry/constructs/internal/bucketcore"
	"github.com/acme/module-registry/constructs/internal/defaults"
	"github.com/acme/module-registry/constructs/internal/validation"
	"github.com/acme/module-registry/constructs/removal"
)

// Defaults.
const (
	DefaultBucketName                      = "pkg-artifacts"
	DefaultAbortIncompleteUploadDays       = 7
	DefaultNoncurrentVersionExpirationDays = 90
)

// Props configures a Bucket. The zero value (plus EncryptionKey) is the secure default.
type Props struct {
	// BucketName is the globally unique bucket name. Default: "pkg-artifacts".
	BucketName string
	// EncryptionKey encrypts every object (SSE-KMS with a bucket key). Required.
	EncryptionKey encryptionkey.IKey
	// RemovalPolicy removal.Destroy lets destroy delete the bucket with the objects it
	// still holds. Default: removal.Retain (destroy fails while objects remain).
	RemovalPolicy removal.Policy
	// AbortIncompleteUploadDays aborts multipart uploads left incomplete this many days.
	// Default: 7.
	AbortIncompleteUploadDays int
	// NoncurrentVersionExpirationDays deletes overwritten or deleted versions after this
	// many days. Default: 90.
	NoncurrentVersionExpirationDays int
	// Transitions move current objects to cheaper storage classes. Default: none.
	Transitions []Transition
	// AccessLogs receives the bucket's S3 server access logs, under
	// "s3/<BucketName>/". Default: the stack's access-log bucket (accesslogs.Of), created
	// on first use.
	AccessLogs *accesslogs.Bucket
}

// Transition moves current objects to StorageClass Days after creation.
type Transition struct {
	Days         int
	StorageClass string
}

// Bucket is the secured bucket.
type Bucket struct {
	constructs.Construct
	props  Props
	core   *bucketcore.Core
	access *access
	errs   validation.Errors
}

var _ IBucket = (*Bucket)(nil)

// StorageClasses a Transition may name.
var StorageClasses = []string{"STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE"}

// Statement Sids of the policy every bucket carries.
const (
	DenyInsecureTransportSid = bucketcore.DenyInsecureTransportSid
	DenyOtherEncryptionSid   = "DenyEncryptionOtherThanKms"
	DenyOtherKeysSid         = "DenyKmsKeysOtherThanProjectKey"
)

// New creates the bucket and every resource that secures it.
func New(scope constructs.Construct, id string, props *Props) *Bucket {
	p := defaults.Copy(props)
	defaults.Set(&p.BucketName, DefaultBucketName)
	defaults.Set(&p.AbortIncompleteUploadDays, DefaultAbortIncompleteUploadDays)
	defaults.Set(&p.NoncurrentVersionExpirationDays, DefaultNoncurrentVersionExpirationDays)
	b := &Bucket{props: p}
	constructs.NewConstruct_Override(b, scope, jsii.String(id))
	validation.Register(b, b.validate)

	var keyArn *string
	if p.EncryptionKey != nil {
		keyArn = p.EncryptionKey.KeyArn()
	}
	b.core = bucketcore.New(b, bucketcore.Config{
		Name:                            p.BucketName,
		ForceDestroy:                    p.RemovalPolicy.Destroys(),
		Algorithm:                       bucketcore.SSEKMS,
		DenyOtherEncryptionSid:          DenyOtherEncryptionSid,
		KMSKeyArn:                       keyArn,
		AbortIncompleteUploadDays:       p.AbortIncompleteUploadDays,
		NoncurrentVersionExpirationDays: p.NoncurrentVersionExpirationDays,
		Transitions:                     coreTransitions(p.Transitions),
	})
	arn := *b.core.Bucket.Arn()
	b.access = newAccess(b, b.core.Bucket.Arn(), p.EncryptionKey)
	if keyArn != nil {
		b.core.Policy.Add(iampolicy.Statement{
			Sid:        DenyOtherKeysSid,
			Effect:     iampolicy.Deny,
			Principals: []iampolicy.Principal{iampolicy.Everyone()},
			Actions:    []string{"s3:PutObject"},
			Resources:  []string{arn + "/*"},
			Conditions: []iampolicy.Condition{
				{Test: "StringNotEquals", Variable: "s3:x-amz-server-side-encryption-aws-kms-key-id", Values: []string{*keyArn}},
				{Test: "Null", Variable: "s3:x-amz-server-side-encryption-aws-kms-key-id", Values: []string{"false"}},
			},
		})
	}

	logs := p.AccessLogs
	if logs == nil {
		logs = accesslogs.Of(b)
	}
	prefix := logs.AllowServerAccessLogs(b, p.BucketName, arn)
	// S3 checks, when logging is turned on, that the target's policy lets it write.
	s3bucketlogging.NewS3BucketLoggingA(b, jsii.String("AccessLogging"), &s3bucketlogging.S3BucketLoggingAConfig{
		Bucket:       b.core.Bucket.Id(),
		TargetBucket: logs.BucketName(),
		TargetPrefix: jsii.String(prefix),
		DependsOn:    &[]cdktf.ITerraformDependable{logs.PolicyResource()},
	})
	return b
}

func coreTransitions(ts []Transition) []bucketcore.Transition {
	out := make([]bucketcore.Transition, len(ts))
	for i, t := range ts {
		out[i] = bucketcore.Transition(t)
	}
	return out
}

// ValidateBucketName checks name against S3's general purpose bucket naming rules and
// says which rule is broken.
func ValidateBucketName(name string) error { return bucketcore.ValidateBucketName(name) }

// BlockPublicAccessAccountWide turns on all four S3 public-access blocks for the whole
// account (Security Hub S3.1), so no bucket of the account can be made public, whichever
// stack made it. It is one setting per account: create it in one stack only.
func BlockPublicAccessAccountWide(scope constructs.Construct, id string) s3accountpublicaccessblock.S3AccountPublicAccessBlock {
	return s3accountpublicaccessblock.NewS3AccountPublicAccessBlock(scope, jsii.String(id), &s3accountpublicaccessblock.S3AccountPublicAccessBlockConfig{
		BlockPublicAcls:       jsii.Bool(true),
		BlockPublicPolicy:     jsii.Bool(true),
		IgnorePublicAcls:      jsii.Bool(true),
		RestrictPublicBuckets: jsii.Bool(true),
	})
}

// BucketName is the bucket's name.
func (b *Bucket) BucketName() *string { return b.core.Bucket.Bucket() }

// BucketArn is the bucket's ARN.
func (b *Bucket) BucketArn() *string { return b.core.Bucket.Arn() }

// Resource exposes the underlying s3_bucket for escape hatches.
func (b *Bucket) Resource() s3bucket.S3Bucket { return b.core.Bucket }

// PolicyResource is the bucket policy, for resources that must wait until it is in place
// (a trail delivering logs, for example).
func (b *Bucket) PolicyResource() s3bucketpolicy.S3BucketPolicy { return b.core.PolicyResource }

// ArnForObjects is the ARN pattern of objects under prefix ("" for all objects).
func (b *Bucket) ArnForObjects(prefix string) string { return b.access.ArnForObjects(prefix) }

// GrantRead lets role read objects (and their versions) under the given key prefixes, list
// only those prefixes, and decrypt them through S3. No prefixes means the whole bucket.
func (b *Bucket) GrantRead(role iampolicy.Role, prefixes ...string) { b.access.read(role, prefixes) }

// GrantWrite lets role put objects under the given prefixes (including multipart uploads
// and aborting them) and encrypt them through S3; multipart uploads decrypt the data key
// of each part, so writers may decrypt too. No prefixes means the whole bucket.
func (b *Bucket) GrantWrite(role iampolicy.Role, prefixes ...string) { b.access.write(role, prefixes) }

// GrantDeleteVersions lets role permanently delete object versions under the given
// prefixes (s3:DeleteObjectVersion) - what removing exactly the bytes one upload wrote
// takes, where a plain delete would only hide the key. It is the one grant that can
// destroy data versioning keeps: give it only to what owns those objects (CloudTrail
// data events record every use). No prefixes means the whole bucket.
func (b *Bucket) GrantDeleteVersions(role iampolicy.Role, prefixes ...string) {
	b.access.deleteVersions(role, prefixes)
}

// GrantReadWrite combines GrantRead and GrantWrite.
func (b *Bucket) GrantReadWrite(role iampolicy.Role, prefixes ...string) {
	b.access.readWrite(role, prefixes)
}

// EncryptionKey is the key the bucket encrypts with.
func (b *Bucket) EncryptionKey() encryptionkey.IKey { return b.props.EncryptionKey }

// AddToResourcePolicy adds statements to the bucket policy, e.g. for a service principal
// that delivers logs. A statement with the Sid of an existing one replaces it.
func (b *Bucket) AddToResourcePolicy(statements ...iampolicy.Statement) {
	for _, s := range statements {
		if slices.Contains([]string{DenyInsecureTransportSid, DenyOtherEncryptionSid, DenyOtherKeysSid}, s.Sid) {
			b.errs.Addf("AddToResourcePolicy", "Sid %q is reserved for the bucket's own protections", s.Sid)
			continue
		}
		b.core.Policy.Add(s)
	}
}

// PolicyStatements returns the bucket policy's statements, for inspection and tests.
func (b *Bucket) PolicyStatements() []iampolicy.Statement { return b.core.Policy.Statements() }

func (b *Bucket) validate(e *validation.Errors) {
	p := b.props
	if !validation.IsToken(p.BucketName) {
		if err := ValidateBucketName(p.BucketName); err != nil {
			e.Addf("BucketName", "%v", err)
		}
	}
	if p.EncryptionKey == nil {
		e.Addf("EncryptionKey", "is required: every bucket is encrypted with SSE-KMS under a customer-managed key")
	}
	e.CheckRemovalPolicy(p.RemovalPolicy)
	if p.AbortIncompleteUploadDays < 1 {
		e.Addf("AbortIncompleteUploadDays", "must be at least 1, got %d", p.AbortIncompleteUploadDays)
	}
	if p.NoncurrentVersionExpirationDays < 1 {
		e.Addf("NoncurrentVersionExpirationDays", "must be at least 1, got %d", p.NoncurrentVersionExpirationDays)
	}
	last := -1
	for i, t := range p.Transitions {
		prop := fmt.Sprintf("Transitions[%d]", i)
		if !slices.Contains(StorageClasses, t.StorageClass) {
			e.Addf(prop+".StorageClass", "%q is not one of %s", t.StorageClass, strings.Join(StorageClasses, ", "))
		}
		if t.Days < 0 {
			e.Addf(prop+".Days", "must not be negative, got %d", t.Days)
		}
		if (t.StorageClass == "STANDARD_IA" || t.StorageClass == "ONEZONE_IA") && t.Days < 30 {
			e.Addf(prop+".Days", "S3 needs at least 30 days before %s, got %d", t.StorageClass, t.Days)
		}
		if t.Days <= last {
			e.Addf(prop+".Days", "must be later than the previous transition (%d days), got %d", last, t.Days)
		}
		last = t.Days
	}
	b.access.validate(e)
	e.Merge(&b.errs)
}
