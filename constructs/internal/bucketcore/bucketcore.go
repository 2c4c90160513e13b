// Package bucketcore is what every bucket of this module has, whatever it stores:
// versioning, all four public-access blocks, ACLs disabled (BucketOwnerEnforced), a
// policy denying requests without TLS and uploads asking for another encryption than
// the bucket's, lifecycle rules, and event notifications to EventBridge. securebucket
// (SSE-KMS) and accesslogs (SSE-S3, the one encryption AWS log delivery accepts) build
// on it and add what differs.
package bucketcore

import (
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/s3bucket"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/s3bucketlifecycleconfiguration"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/s3bucketnotification"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/s3bucketownershipcontrols"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/s3bucketpolicy"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/s3bucketpublicaccessblock"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/s3bucketserversideencryptionconfiguration"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/s3bucketversioning"
	"github.com/hashicorp/terraform-cdk-go/cdktf"

	"github.com/acme/module-registry/constructs/iampolicy"
)

// DenyInsecureTransportSid names the policy statement every bucket carries that refuses
// requests without TLS.
const DenyInsecureTransportSid = "DenyInsecureTransport"

// SSE algorithms a bucket's default encryption can name.
const (
	SSEKMS = "aws:kms"
	SSES3  = "AES256"
)

// Config says what differs between buckets.
type Config struct {
	// Name is the bucket's name.
	Name string
	// ForceDestroy lets destroy delete the bucket with its objects.
	ForceDestroy bool
	// Algorithm is the default encryption, SSEKMS or SSES3; uploads asking for another
	// are refused by the policy statement DenyOtherEncryptionSid.
	Algorithm              string
	DenyOtherEncryptionSid string
	// KMSKeyArn is the key of SSEKMS (nil while the caller's key is missing; the caller
	// reports that).
	KMSKeyArn *string
	// AbortIncompleteUploadDays, NoncurrentVersionExpirationDays and, when not zero,
	// ExpirationDays (of current objects) shape the lifecycle rules.
	AbortIncompleteUploadDays, NoncurrentVersionExpirationDays, ExpirationDays int
	// Transitions move current objects to cheaper storage classes.
	Transitions []Transition
}

// Transition moves current objects to StorageClass Days after creation.
type Transition struct {
	Days         int
	StorageClass string
}

// Core is one bucket with everything that secures it.
type Core struct {
	Bucket s3bucket.S3Bucket
	// Policy is the bucket policy's document; callers add their statements to it.
	Policy *iampolicy.Document
	// PolicyResource is the bucket policy, for resources that must wait for it.
	PolicyResource s3bucketpolicy.S3BucketPolicy
}

// New creates the bucket and the resources every bucket has under scope.
func New(scope constructs.Construct, c Config) *Core {
	core := &Core{}
	core.Bucket = s3bucket.NewS3Bucket(scope, jsii.String("Bucket"), &s3bucket.S3BucketConfig{
		Bucket:       jsii.String(c.Name),
		ForceDestroy: jsii.Bool(c.ForceDestroy),
	})
	bucketID := core.Bucket.Id()

	pab := s3bucketpublicaccessblock.NewS3BucketPublicAccessBlock(scope, jsii.String("PublicAccessBlock"),
		&s3bucketpublicaccessblock.S3BucketPublicAccessBlockConfig{
			Bucket:                bucketID,
			BlockPublicAcls:       jsii.Bool(true),
			BlockPublicPolicy:     jsii.Bool(true),
			IgnorePublicAcls:      jsii.Bool(true),
			RestrictPublicBuckets: jsii.Bool(true),
		})
	s3bucketownershipcontrols.NewS3BucketOwnershipControls(scope, jsii.String("OwnershipControls"),
		&s3bucketownershipcontrols.S3BucketOwnershipControlsConfig{
			Bucket: bucketID,
			Rule: &s3bucketownershipcontrols.S3BucketOwnershipControlsRule{
				ObjectOwnership: jsii.String("BucketOwnerEnforced"),
			},
		})
	versioning := s3bucketversioning.NewS3BucketVersioningA(scope, jsii.String("Versioning"),
		&s3bucketversioning.S3BucketVersioningAConfig{
			Bucket: bucketID,
			VersioningConfiguration: &s3bucketversioning.S3BucketVersioningVersioningConfiguration{
				Status: jsii.String("Enabled"),
			},
		})
	if c.Algorithm == SSES3 || c.KMSKeyArn != nil {
		byDefault := &s3bucketserversideencryptionconfiguration.S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA{
			SseAlgorithm: jsii.String(c.Algorithm),
		}
		rule := &s3bucketserversideencryptionconfiguration.S3BucketServerSideEncryptionConfigurationRuleA{
			ApplyServerSideEncryptionByDefault: byDefault,
		}
		if c.Algorithm == SSEKMS {
			byDefault.KmsMasterKeyId = c.KMSKeyArn
			rule.BucketKeyEnabled = jsii.Bool(true)
		}
		s3bucketserversideencryptionconfiguration.NewS3BucketServerSideEncryptionConfigurationA(scope, jsii.String("Encryption"),
			&s3bucketserversideencryptionconfiguration.S3BucketServerSideEncryptionConfigurationAConfig{
				Bucket: bucketID,
				Rule:   []*s3bucketserversideencryptionconfiguration.S3BucketServerSideEncryptionConfigurationRuleA{rule},
			})
	}
	// Object events go to EventBridge, where rules can route them; S3 sends nothing
	// until one does.
	s3bucketnotification.NewS3BucketNotification(scope, jsii.String("Notifications"), &s3bucketnotification.S3BucketNotificationConfig{
		Bucket:      bucketID,
		Eventbridge: jsii.Bool(true),
	})

	arn := *core.Bucket.Arn()
	core.Policy = iampolicy.NewDocument(scope, "PolicyDocument", iampolicy.Statement{
		Sid:        DenyInsecureTransportSid,
		Effect:     iampolicy.Deny,
		Principals: []iampolicy.Principal{iampolicy.Everyone()},
		Actions:    []string{"s3:*"},
		Resources:  []string{arn, arn + "/*"},
		Conditions: []iampolicy.Condition{{Test: "Bool", Variable: "aws:SecureTransport", Values: []string{"false"}}},
	}, iampolicy.Statement{
		// Uploads without an encryption header get the default; uploads that ask for
		// something else are refused. Null=false limits the check to requests that carry
		// the header.
		Sid:        c.DenyOtherEncryptionSid,
		Effect:     iampolicy.Deny,
		Principals: []iampolicy.Principal{iampolicy.Everyone()},
		Actions:    []string{"s3:PutObject"},
		Resources:  []string{arn + "/*"},
		Conditions: []iampolicy.Condition{
			{Test: "StringNotEquals", Variable: "s3:x-amz-server-side-encryption", Values: []string{c.Algorithm}},
			{Test: "Null", Variable: "s3:x-amz-server-side-encryption", Values: []string{"false"}},
		},
	})
	// The public access block must exist first, or a policy naming "*" can be refused.
	core.PolicyResource = s3bucketpolicy.NewS3BucketPolicy(scope, jsii.String("Policy"), &s3bucketpolicy.S3BucketPolicyConfig{
		Bucket:    bucketID,
		Policy:    core.Policy.JSON(),
		DependsOn: &[]cdktf.ITerraformDependable{pab},
	})
	newLifecycle(scope, bucketID, versioning, c)
	return core
}

// Lifecycle rule ids.
const (
	AbortUploadsRuleID      = "abort-incomplete-multipart-uploads"
	ExpireNoncurrentRuleID  = "expire-noncurrent-versions"
	ExpireCurrentRuleID     = "expire-current-objects"
	TransitionStorageRuleID = "transition-storage-class"
)

func newLifecycle(scope constructs.Construct, bucketID *string, versioning s3bucketversioning.S3BucketVersioningA, c Config) {
	everything := &s3bucketlifecycleconfiguration.S3BucketLifecycleConfigurationRuleFilter{Prefix: jsii.String("")}
	rule := func(id string) *s3bucketlifecycleconfiguration.S3BucketLifecycleConfigurationRule {
		return &s3bucketlifecycleconfiguration.S3BucketLifecycleConfigurationRule{
			Id: jsii.String(id), Status: jsii.String("Enabled"),
			Filter: []*s3bucketlifecycleconfiguration.S3BucketLifecycleConfigurationRuleFilter{everything},
		}
	}
	abort := rule(AbortUploadsRuleID)
	abort.AbortIncompleteMultipartUpload = []*s3bucketlifecycleconfiguration.S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload{{
		DaysAfterInitiation: jsii.Number(float64(c.AbortIncompleteUploadDays)),
	}}
	noncurrent := rule(ExpireNoncurrentRuleID)
	noncurrent.NoncurrentVersionExpiration = []*s3bucketlifecycleconfiguration.S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration{{
		NoncurrentDays: jsii.Number(float64(c.NoncurrentVersionExpirationDays)),
	}}
	rules := []*s3bucketlifecycleconfiguration.S3BucketLifecycleConfigurationRule{abort, noncurrent}
	if c.ExpirationDays > 0 {
		expire := rule(ExpireCurrentRuleID)
		expire.Expiration = []*s3bucketlifecycleconfiguration.S3BucketLifecycleConfigurationRuleExpiration{{
			Days: jsii.Number(float64(c.ExpirationDays)),
		}}
		rules = append(rules, expire)
	}
	if len(c.Transitions) > 0 {
		ts := make([]*s3bucketlifecycleconfiguration.S3BucketLifecycleConfigurationRuleTransition, 0, len(c.Transitions))
		for _, t := range c.Transitions {
			ts = append(ts, &s3bucketlifecycleconfiguration.S3BucketLifecycleConfigurationRuleTransition{
				Days: jsii.Number(float64(t.Days)), StorageClass: jsii.String(t.StorageClass),
			})
		}
		move := rule(TransitionStorageRuleID)
		move.Transition = &ts
		rules = append(rules, move)
	}
	// Noncurrent-version rules need versioning in place first.
	s3bucketlifecycleconfiguration.NewS3BucketLifecycleConfiguration(scope, jsii.String("Lifecycle"),
		&s3bucketlifecycleconfiguration.S3BucketLifecycleConfigurationConfig{
			Bucket:    bucketID,
			Rule:      &rules,
			DependsOn: &[]cdktf.ITerraformDependable{versioning},
		})
}
