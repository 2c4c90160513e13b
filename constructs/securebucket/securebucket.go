// Package securebucket provides an S3 bucket that is secure without options: SSE-KMS under
// the project key with a bucket key, versioning, all four public-access blocks, ACLs
// disabled (BucketOwnerEnforced), a policy denying non-TLS requests and uploads that ask
// for any other encryption, and lifecycle rules that clean up incomplete uploads and old
// versions. Access is handed out with Grant methods scoped to object key prefixes.
package securebucket

import (
	"fmt"
	"slices"
	"strings"

	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/s3bucket"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/s3bucketlifecycleconfiguration"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/s3bucketlogging"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/s3bucketownershipcontrols"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/s3bucketpolicy"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/s3bucketpublicaccessblock"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/s3bucketserversideencryptionconfiguration"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/s3bucketversioning"
	"github.com/hashicorp/terraform-cdk-go/cdktf"

	"github.com/acme/module-registry/constructs/encryptionkey"
	"github.com/acme/module-registry/constructs/iampolicy"
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
	// AccessLogs turns on S3 server access logging. Default: off. AWS delivers access
	// logs only to a target bucket encrypted with SSE-S3, which this construct never
	// creates: the target is yours to provide.
	AccessLogs *AccessLogs
}

// Transition moves current objects to StorageClass Days after creation.
type Transition struct {
	Days         int
	StorageClass string
}

// AccessLogs names where server access logs go.
type AccessLogs struct {
	TargetBucket string
	Prefix       string
}

// Bucket is the secured bucket.
type Bucket struct {
	constructs.Construct
	props  Props
	bucket s3bucket.S3Bucket
	policy *iampolicy.Document
	pol    s3bucketpolicy.S3BucketPolicy
	access *access
	errs   validation.Errors
}

var _ IBucket = (*Bucket)(nil)

// StorageClasses a Transition may name.
var StorageClasses = []string{"STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE"}

// Statement Sids of the policy every bucket carries.
const (
	DenyInsecureTransportSid = "DenyInsecureTransport"
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
	c := b
	validation.Register(c, b.validate)

	b.bucket = s3bucket.NewS3Bucket(c, jsii.String("Bucket"), &s3bucket.S3BucketConfig{
		Bucket:       jsii.String(p.BucketName),
		ForceDestroy: jsii.Bool(p.RemovalPolicy.Destroys()),
	})
	bucketID := b.bucket.Id()
	b.access = newAccess(c, b.bucket.Arn(), p.EncryptionKey)

	pab := s3bucketpublicaccessblock.NewS3BucketPublicAccessBlock(c, jsii.String("PublicAccessBlock"),
		&s3bucketpublicaccessblock.S3BucketPublicAccessBlockConfig{
			Bucket:                bucketID,
			BlockPublicAcls:       jsii.Bool(true),
			BlockPublicPolicy:     jsii.Bool(true),
			IgnorePublicAcls:      jsii.Bool(true),
			RestrictPublicBuckets: jsii.Bool(true),
		})
	s3bucketownershipcontrols.NewS3BucketOwnershipControls(c, jsii.String("OwnershipControls"),
		&s3bucketownershipcontrols.S3BucketOwnershipControlsConfig{
			Bucket: bucketID,
			Rule: &s3bucketownershipcontrols.S3BucketOwnershipControlsRule{
				ObjectOwnership: jsii.String("BucketOwnerEnforced"),
			},
		})
	versioning := s3bucketversioning.NewS3BucketVersioningA(c, jsii.String("Versioning"),
		&s3bucketversioning.S3BucketVersioningAConfig{
			Bucket: bucketID,
			VersioningConfiguration: &s3bucketversioning.S3BucketVersioningVersioningConfiguration{
				Status: jsii.String("Enabled"),
			},
		})

	var keyArn *string
	if p.EncryptionKey != nil {
		keyArn = p.EncryptionKey.KeyArn()
		s3bucketserversideencryptionconfiguration.NewS3BucketServerSideEncryptionConfigurationA(c, jsii.String("Encryption"),
			&s3bucketserversideencryptionconfiguration.S3BucketServerSideEncryptionConfigurationAConfig{
				Bucket: bucketID,
				Rule: []*s3bucketserversideencryptionconfiguration.S3BucketServerSideEncryptionConfigurationRuleA{{
					ApplyServerSideEncryptionByDefault: &s3bucketserversideencryptionconfiguration.S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA{
						SseAlgorithm:   jsii.String("aws:kms"),
						KmsMasterKeyId: keyArn,
					},
					BucketKeyEnabled: jsii.Bool(true),
				}},
			})
	}

	arn := *b.bucket.Arn()
	b.policy = iampolicy.NewDocument(c, "PolicyDocument", iampolicy.Statement{
		Sid:        DenyInsecureTransportSid,
		Effect:     iampolicy.Deny,
		Principals: []iampolicy.Principal{iampolicy.Everyone()},
		Actions:    []string{"s3:*"},
		Resources:  []string{arn, arn + "/*"},
		Conditions: []iampolicy.Condition{{Test: "Bool", Variable: "aws:SecureTransport", Values: []string{"false"}}},
	}, iampolicy.Statement{
		// Uploads without an encryption header get the default (this key); uploads that
		// ask for something else are refused. Null=false limits the check to requests
		// that carry the header.
		Sid:        DenyOtherEncryptionSid,
		Effect:     iampolicy.Deny,
		Principals: []iampolicy.Principal{iampolicy.Everyone()},
		Actions:    []string{"s3:PutObject"},
		Resources:  []string{arn + "/*"},
		Conditions: []iampolicy.Condition{
			{Test: "StringNotEquals", Variable: "s3:x-amz-server-side-encryption", Values: []string{"aws:kms"}},
			{Test: "Null", Variable: "s3:x-amz-server-side-encryption", Values: []string{"false"}},
		},
	})
	if keyArn != nil {
		b.policy.Add(iampolicy.Statement{
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
	// The public access block must exist first, or a policy naming "*" can be refused.
	b.pol = s3bucketpolicy.NewS3BucketPolicy(c, jsii.String("Policy"), &s3bucketpolicy.S3BucketPolicyConfig{
		Bucket:    bucketID,
		Policy:    b.policy.JSON(),
		DependsOn: &[]cdktf.ITerraformDependable{pab},
	})

	b.newLifecycle(versioning)
	if p.AccessLogs != nil {
		s3bucketlogging.NewS3BucketLoggingA(c, jsii.String("AccessLogging"), &s3bucketlogging.S3BucketLoggingAConfig{
			Bucket:       bucketID,
			TargetBucket: jsii.String(p.AccessLogs.TargetBucket),
			TargetPrefix: jsii.String(p.AccessLogs.Prefix),
		})
	}
	return b
}

func (b *Bucket) newLifecycle(versioning s3bucketversioning.S3BucketVersioningA) {
	p := b.props
	everything := &s3bucketlifecycleconfiguration.S3BucketLifecycleConfigurationRuleFilter{Prefix: jsii.String("")}
	rules := []*s3bucketlifecycleconfiguration.S3BucketLifecycleConfigurationRule{{
		Id:     jsii.String("abort-incomplete-multipart-uploads"),
		Status: jsii.String("Enabled"),
		Filter: []*s3bucketlifecycleconfiguration.S3BucketLifecycleConfigurationRuleFilter{everything},
		AbortIncompleteMultipartUpload: []*s3bucketlifecycleconfiguration.S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload{{
			DaysAfterInitiation: jsii.Number(float64(p.AbortIncompleteUploadDays)),
		}},
	}, {
		Id:     jsii.String("expire-noncurrent-versions"),
		Status: jsii.String("Enabled"),
		Filter: []*s3bucketlifecycleconfiguration.S3BucketLifecycleConfigurationRuleFilter{everything},
		NoncurrentVersionExpiration: []*s3bucketlifecycleconfiguration.S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration{{
			NoncurrentDays: jsii.Number(float64(p.NoncurrentVersionExpirationDays)),
		}},
	}}
	if len(p.Transitions) > 0 {
		ts := make([]*s3bucketlifecycleconfiguration.S3BucketLifecycleConfigurationRuleTransition, 0, len(p.Transitions))
		for _, t := range p.Transitions {
			ts = append(ts, &s3bucketlifecycleconfiguration.S3BucketLifecycleConfigurationRuleTransition{
				Days: jsii.Number(float64(t.Days)), StorageClass: jsii.String(t.StorageClass),
			})
		}
		rules = append(rules, &s3bucketlifecycleconfiguration.S3BucketLifecycleConfigurationRule{
			Id:         jsii.String("transition-storage-class"),
			Status:     jsii.String("Enabled"),
			Filter:     []*s3bucketlifecycleconfiguration.S3BucketLifecycleConfigurationRuleFilter{everything},
			Transition: &ts,
		})
	}
	// Noncurrent-version rules need versioning in place first.
	s3bucketlifecycleconfiguration.NewS3BucketLifecycleConfiguration(b, jsii.String("Lifecycle"),
		&s3bucketlifecycleconfiguration.S3BucketLifecycleConfigurationConfig{
			Bucket:    b.bucket.Id(),
			Rule:      &rules,
			DependsOn: &[]cdktf.ITerraformDependable{versioning},
		})
}

// BucketName is the bucket's name.
func (b *Bucket) BucketName() *string { return b.bucket.Bucket() }

// BucketArn is the bucket's ARN.
func (b *Bucket) BucketArn() *string { return b.bucket.Arn() }

// Resource exposes the underlying s3_bucket for escape hatches.
func (b *Bucket) Resource() s3bucket.S3Bucket { return b.bucket }

// PolicyResource is the bucket policy, for resources that must wait until it is in place
// (a trail delivering logs, for example).
func (b *Bucket) PolicyResource() s3bucketpolicy.S3BucketPolicy { return b.pol }

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
		b.policy.Add(s)
	}
}

// PolicyStatements returns the bucket policy's statements, for inspection and tests.
func (b *Bucket) PolicyStatements() []iampolicy.Statement { return b.policy.Statements() }

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
	if a := p.AccessLogs; a != nil {
		if !validation.IsToken(a.TargetBucket) {
			if err := ValidateBucketName(a.TargetBucket); err != nil {
				e.Addf("AccessLogs.TargetBucket", "%v", err)
			}
		}
		if a.TargetBucket == p.BucketName {
			e.Addf("AccessLogs.TargetBucket", "must not be the bucket itself: logging into the logged bucket loops forever")
		}
	}
	b.access.validate(e)
	e.Merge(&b.errs)
}
