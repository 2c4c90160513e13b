package securebucket

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/acme/module-registry/constructs/encryptionkey"
	"github.com/acme/module-registry/constructs/iampolicy"
	"github.com/acme/module-registry/constructs/internal/awsenv"
	"github.com/acme/module-registry/constructs/internal/grant"
	"github.com/acme/module-registry/constructs/internal/validation"
)

// IBucket is what other constructs need from a bucket: its name, ARN and grants. Both
// *Bucket and buckets imported with FromBucketName or FromBucketArn satisfy it.
type IBucket interface {
	BucketName() *string
	BucketArn() *string
	ArnForObjects(prefix string) string
	GrantRead(role iampolicy.Role, prefixes ...string)
	GrantWrite(role iampolicy.Role, prefixes ...string)
	GrantReadWrite(role iampolicy.Role, prefixes ...string)
	GrantDeleteVersions(role iampolicy.Role, prefixes ...string)
}

// access hands out a bucket's grants; owned and imported buckets forward to it (jsii
// does not let a construct embed a struct of an unexported type).
type access struct {
	arn    *string
	key    encryptionkey.IKey
	grants *grant.Granter
	errs   validation.Errors
}

func newAccess(scope constructs.Construct, arn *string, key encryptionkey.IKey) *access {
	return &access{arn: arn, key: key, grants: grant.New(scope)}
}

// ArnForObjects is the ARN pattern of objects under prefix ("" for all objects).
func (a *access) ArnForObjects(prefix string) string { return *a.arn + "/" + prefix + "*" }

func (a *access) read(role iampolicy.Role, prefixes []string) {
	a.grant("Read", role, prefixes, readActions, grant.Decrypt)
}

// Multipart uploads decrypt the data key for each part, so writers decrypt too.
func (a *access) write(role iampolicy.Role, prefixes []string) {
	a.grant("Write", role, prefixes, writeActions, grant.EncryptDecrypt)
}

func (a *access) deleteVersions(role iampolicy.Role, prefixes []string) {
	a.grant("DeleteVersions", role, prefixes, []string{"s3:DeleteObjectVersion"}, grant.NoKeyUse)
}

func (a *access) readWrite(role iampolicy.Role, prefixes []string) {
	a.grant("ReadWrite", role, prefixes, append(append([]string{}, readActions...), writeActions...), grant.EncryptDecrypt)
}

var (
	readActions  = []string{"s3:GetObject", "s3:GetObjectVersion"}
	writeActions = []string{"s3:PutObject", "s3:AbortMultipartUpload"}
)

func (a *access) grant(kind string, role iampolicy.Role, prefixes []string, actions []string, keyUse grant.KeyUse) {
	for _, p := range prefixes {
		if p == "" || strings.ContainsAny(p, "*?") || strings.HasPrefix(p, "/") {
			a.errs.Addf("Grant"+kind, "prefix %q must be a non-empty key prefix without wildcards or a leading slash", p)
			return
		}
	}
	objects := []string{a.ArnForObjects("")}
	listPrefixes := []string{}
	if len(prefixes) > 0 {
		objects = objects[:0]
		for _, p := range prefixes {
			objects = append(objects, a.ArnForObjects(p))
			listPrefixes = append(listPrefixes, p+"*")
		}
	}
	statements := []iampolicy.Statement{{Sid: "Objects" + kind, Actions: actions, Resources: objects}}
	if kind == "Read" || kind == "ReadWrite" {
		list := iampolicy.Statement{Sid: "List" + kind, Actions: []string{"s3:ListBucket"}, Resources: []string{*a.arn}}
		if len(listPrefixes) > 0 {
			list.Conditions = []iampolicy.Condition{{Test: "StringLike", Variable: "s3:prefix", Values: listPrefixes}}
		}
		statements = append(statements, list)
	}
	a.grants.Grant(grant.Request{Kind: kind, Role: role, Statements: statements, Key: a.key, KeyUse: keyUse, Via: "s3"})
}

func (a *access) validate(e *validation.Errors) {
	a.grants.Validate(e)
	e.Merge(&a.errs)
}

// ImportedBucket is a bucket created elsewhere, known by name or ARN, so a stack can grant
// its roles access to it with the same narrow statements as to a bucket it owns.
type ImportedBucket struct {
	constructs.Construct
	name   *string
	access *access
}

var _ IBucket = (*ImportedBucket)(nil)

// Attributes describe a bucket created elsewhere.
type Attributes struct {
	// BucketName names the bucket. Required unless BucketArn is set.
	BucketName string
	// BucketArn is the bucket's ARN (arn:aws:s3:::<name>). Required unless BucketName is
	// set.
	BucketArn string
	// EncryptionKey is the key the bucket's objects are encrypted with; grants then
	// extend to it (decrypt, and encrypt for writers, through S3 only). Default: none.
	EncryptionKey encryptionkey.IKey
}

// FromBucketName references an existing bucket by name.
func FromBucketName(scope constructs.Construct, id, name string) *ImportedBucket {
	return FromBucketAttributes(scope, id, Attributes{BucketName: name})
}

// FromBucketArn references an existing bucket by ARN.
func FromBucketArn(scope constructs.Construct, id, arn string) *ImportedBucket {
	return FromBucketAttributes(scope, id, Attributes{BucketArn: arn})
}

var bucketArnPattern = regexp.MustCompile(`^arn:aws[a-z-]*:s3:::([^/*?]+)$`)

// FromBucketAttributes references an existing bucket, optionally with the key its objects
// are encrypted with. Invalid attributes fail synth naming them.
func FromBucketAttributes(scope constructs.Construct, id string, attrs Attributes) *ImportedBucket {
	b := &ImportedBucket{}
	constructs.NewConstruct_Override(b, scope, jsii.String(id))
	name, arn := attrs.BucketName, attrs.BucketArn
	var errs validation.Errors
	switch {
	case name == "" && arn == "":
		errs.Addf("BucketName", "or BucketArn is required")
	case arn != "" && !validation.IsToken(arn):
		m := bucketArnPattern.FindStringSubmatch(arn)
		if m == nil {
			errs.Addf("BucketArn", "%q is not a bucket ARN (arn:aws:s3:::<bucket>, no key or wildcard)", arn)
			break
		}
		if name != "" && name != m[1] {
			errs.Addf("BucketName", "%q differs from the name in BucketArn %q", name, arn)
		}
		name = m[1]
	}
	if name != "" && !validation.IsToken(name) {
		if err := ValidateBucketName(name); err != nil {
			errs.Addf("BucketName", "%v", err)
		}
	}
	if arn == "" {
		arn = fmt.Sprintf("arn:%s:s3:::%s", *awsenv.Of(b).Partition, name)
	}
	b.name = jsii.String(name)
	b.access = newAccess(b, jsii.String(arn), attrs.EncryptionKey)
	validation.Register(b, func(e *validation.Errors) {
		e.Merge(&errs)
		b.access.validate(e)
	})
	return b
}

// BucketName is the bucket's name.
func (b *ImportedBucket) BucketName() *string { return b.name }

// BucketArn is the bucket's ARN.
func (b *ImportedBucket) BucketArn() *string { return b.access.arn }

// ArnForObjects is the ARN pattern of objects under prefix ("" for all objects).
func (b *ImportedBucket) ArnForObjects(prefix string) string { return b.access.ArnForObjects(prefix) }

// GrantRead: see Bucket.GrantRead.
func (b *ImportedBucket) GrantRead(role iampolicy.Role, prefixes ...string) {
	b.access.read(role, prefixes)
}

// GrantWrite: see Bucket.GrantWrite.
func (b *ImportedBucket) GrantWrite(role iampolicy.Role, prefixes ...string) {
	b.access.write(role, prefixes)
}

// GrantDeleteVersions: see Bucket.GrantDeleteVersions.
func (b *ImportedBucket) GrantDeleteVersions(role iampolicy.Role, prefixes ...string) {
	b.access.deleteVersions(role, prefixes)
}

// GrantReadWrite: see Bucket.GrantReadWrite.
func (b *ImportedBucket) GrantReadWrite(role iampolicy.Role, prefixes ...string) {
	b.access.readWrite(role, prefixes)
}
