// Package configrecorder turns on AWS Config in one account and region (Security Hub
// Config.1) so that drift from the security invariants is seen when it happens, whoever
// causes it: a configuration recorder of all supported resource types (global ones such
// as IAM recorded in this region only), a delivery channel to a securebucket (SSE-KMS
// under the project key) with change notifications to an SNS topic under the same key,
// the recorder started, and AWS managed rules mirroring the invariants the compliance
// aspect checks at synth (ManagedRules; README.md says what each catches that synth
// cannot).
//
//	config := configrecorder.New(stack, "Config", &configrecorder.Props{EncryptionKey: key})
//	_ = config.RecorderName()
//
// Config records and delivers through a role only config.amazonaws.com may assume, for
// this account only: AWS's managed AWS_ConfigRole to read resource configurations, plus
// writes under AWSLogs/<account>/Config/ in the bucket, Publish to the topic and the key
// only through S3 and SNS.
package configrecorder

import (
	"fmt"
	"regexp"

	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/configconfigrule"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/configconfigurationrecorder"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/configconfigurationrecorderstatus"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/configdeliverychannel"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/iamrole"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/iamrolepolicyattachment"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/snstopic"
	"github.com/hashicorp/terraform-cdk-go/cdktf"

	"github.com/acme/module-registry/constructs/encryptionkey"
	"github.com/acme/module-registry/constructs/iampolicy"
	"github.com/acme/module-registry/constructs/internal/awsenv"
	"github.com/acme/module-registry/constructs/internal/defaults"
	"github.com/acme/module-registry/constructs/internal/validation"
	"github.com/acme/module-registry/constructs/removal"
	"github.com/acme/module-registry/constructs/securebucket"
)

// Defaults.
const (
	DefaultRecorderName = "acme-config-recorder"
	DefaultTopicName    = "acme-config-changes"
	DefaultRoleName     = "acme-config-recorder"
	// BucketNamePrefix is followed by the account id in the default bucket name.
	BucketNamePrefix = "acme-config-"
	// ConfigRolePolicyArn is AWS's managed policy letting Config read the configuration
	// of every resource type it records.
	ConfigRolePolicyArn = "arn:aws:iam::aws:policy/service-role/AWS_ConfigRole"
)

// Props configures a Recorder. The zero value plus EncryptionKey is the secure default.
type Props struct {
	// EncryptionKey encrypts the delivery bucket and the topic. Required.
	EncryptionKey *encryptionkey.Key
	// RecorderName names the recorder and the delivery channel (one each per region).
	// Default: "acme-config-recorder".
	RecorderName string
	// BucketName names the delivery bucket. Default: "acme-config-{account id}".
	BucketName string
	// TopicName names the notification topic. Default: "acme-config-changes".
	TopicName string
	// RoleName names the role Config records and delivers with.
	// Default: "acme-config-recorder".
	RoleName string
	// GlobalResourcesElsewhere leaves global resource types (IAM) to the recorder of
	// another region, so each is recorded once. Default: false (recorded here).
	GlobalResourcesElsewhere bool
	// Rules are the managed rules evaluated. Default: ManagedRules.
	Rules []ManagedRule
	// RemovalPolicy removal.Destroy lets destroy delete the delivery bucket with its
	// snapshots; for test stacks. Default: removal.Retain.
	RemovalPolicy removal.Policy
}

// Recorder is the recorder, its delivery channel and role, the bucket, the topic and
// the rules.
type Recorder struct {
	constructs.Construct
	props    Props
	recorder configconfigurationrecorder.ConfigConfigurationRecorder
	channel  configdeliverychannel.ConfigDeliveryChannel
	bucket   *securebucket.Bucket
	topic    snstopic.SnsTopic
	role     iamrole.IamRole
	rules    []configconfigrule.ConfigConfigRule
}

// New creates the recorder and everything it delivers to, starts it and adds the rules.
func New(scope constructs.Construct, id string, props *Props) *Recorder {
	p := defaults.Copy(props)
	defaults.Set(&p.RecorderName, DefaultRecorderName)
	defaults.Set(&p.TopicName, DefaultTopicName)
	defaults.Set(&p.RoleName, DefaultRoleName)
	if p.Rules == nil {
		p.Rules = ManagedRules
	}
	r := &Recorder{props: p}
	constructs.NewConstruct_Override(r, scope, jsii.String(id))
	validation.Register(r, r.validate)
	env := awsenv.Of(r)
	defaults.Set(&p.BucketName, BucketNamePrefix+*env.AccountID)
	r.props = p

	// Without a key synth fails on EncryptionKey; the placeholder keeps the tree
	// buildable so that one message reports the mistake.
	var key encryptionkey.IKey = p.EncryptionKey
	if p.EncryptionKey == nil {
		key = encryptionkey.FromKeyArn(r, "MissingEncryptionKey", "arn:aws:kms:us-east-1:000000000000:key/missing")
	}
	r.bucket = securebucket.New(r, "Bucket", &securebucket.Props{BucketName: p.BucketName, EncryptionKey: key, RemovalPolicy: p.RemovalPolicy})
	r.topic = snstopic.NewSnsTopic(r, jsii.String("Topic"), &snstopic.SnsTopicConfig{
		Name:           jsii.String(p.TopicName),
		KmsMasterKeyId: key.KeyArn(),
	})

	r.role = iampolicy.NewServiceRole(r, "Role", iampolicy.ServiceRole{
		Name:        p.RoleName,
		Description: "Lets AWS Config record this account and deliver to " + p.BucketName,
		Service:     "config.amazonaws.com",
		TrustSid:    "ConfigRecordsThisAccountOnly",
		Conditions:  []iampolicy.Condition{iampolicy.StringEquals("aws:SourceAccount", *env.AccountID)},
	})
	read := iamrolepolicyattachment.NewIamRolePolicyAttachment(r, jsii.String("ReadConfigurations"), &iamrolepolicyattachment.IamRolePolicyAttachmentConfig{
		Role: r.role.Name(), PolicyArn: jsii.String(ConfigRolePolicyArn),
	})
	deliveryPrefix := "AWSLogs/" + *env.AccountID + "/Config/"
	r.bucket.GrantWrite(r.role, deliveryPrefix)
	// Config checks the bucket's ACL before its first delivery; securebucket has no
	// grant for bucket metadata, so the one action is named here.
	checkACL := iampolicy.Grant(r, "CheckBucketAcl", r.role, iampolicy.Statement{
		Sid: "CheckDeliveryBucketAcl", Actions: []string{"s3:GetBucketAcl"}, Resources: []string{*r.bucket.BucketArn()},
	})
	publish := iampolicy.Grant(r, "PublishChanges", r.role, iampolicy.Statement{
		Sid: "PublishConfigChanges", Actions: []string{"sns:Publish"}, Resources: []string{*r.topic.Arn()},
	})
	key.GrantEncryptDecrypt(r.role, "sns")

	r.recorder = configconfigurationrecorder.NewConfigConfigurationRecorder(r, jsii.String("Recorder"), &configconfigurationrecorder.ConfigConfigurationRecorderConfig{
		Name:    jsii.String(p.RecorderName),
		RoleArn: r.role.Arn(),
		RecordingGroup: &configconfigurationrecorder.ConfigConfigurationRecorderRecordingGroup{
			AllSupported:               jsii.Bool(true),
			IncludeGlobalResourceTypes: jsii.Bool(!p.GlobalResourcesElsewhere),
		},
		DependsOn: &[]cdktf.ITerraformDependable{read},
	})
	r.channel = configdeliverychannel.NewConfigDeliveryChannel(r, jsii.String("DeliveryChannel"), &configdeliverychannel.ConfigDeliveryChannelConfig{
		Name:         jsii.String(p.RecorderName),
		S3BucketName: r.bucket.BucketName(),
		S3KmsKeyArn:  key.KeyArn(),
		SnsTopicArn:  r.topic.Arn(),
		// Config checks delivery when the channel is created: the grants come first.
		DependsOn: &[]cdktf.ITerraformDependable{r.recorder, r.bucket.PolicyResource(), checkACL, publish},
	})
	configconfigurationrecorderstatus.NewConfigConfigurationRecorderStatus(r, jsii.String("Started"), &configconfigurationrecorderstatus.ConfigConfigurationRecorderStatusConfig{
		Name:      r.recorder.Name(),
		IsEnabled: jsii.Bool(true),
		DependsOn: &[]cdktf.ITerraformDependable{r.channel},
	})
	for i, rule := range p.Rules {
		cfg := &configconfigrule.ConfigConfigRuleConfig{
			Name:        jsii.String(rule.Name),
			Description: jsii.String(fmt.Sprintf("Mirrors %s. Catches %s.", rule.Mirrors, rule.Drift)),
			Source:      &configconfigrule.ConfigConfigRuleSource{Owner: jsii.String("AWS"), SourceIdentifier: jsii.String(rule.Identifier)},
			DependsOn:   &[]cdktf.ITerraformDependable{r.recorder},
		}
		if rule.InputParameters != "" {
			cfg.InputParameters = jsii.String(rule.InputParameters)
		}
		r.rules = append(r.rules, configconfigrule.NewConfigConfigRule(r, jsii.String(fmt.Sprintf("Rule%d", i)), cfg))
	}
	return r
}

// RecorderName is the configuration recorder's name.
func (r *Recorder) RecorderName() *string { return r.recorder.Name() }

// DeliveryChannelName is the delivery channel's name.
func (r *Recorder) DeliveryChannelName() *string { return r.channel.Name() }

// Bucket is the delivery bucket.
func (r *Recorder) Bucket() *securebucket.Bucket { return r.bucket }

// TopicArn is the notification topic's ARN.
func (r *Recorder) TopicArn() *string { return r.topic.Arn() }

// RoleArn is the role Config records and delivers with.
func (r *Recorder) RoleArn() *string { return r.role.Arn() }

// Rules are the managed rules evaluated.
func (r *Recorder) Rules() []ManagedRule { return append([]ManagedRule{}, r.props.Rules...) }

// GrantReadSnapshots lets role read the configuration snapshots and history Config
// delivers (objects under AWSLogs/ only, decrypted through S3), e.g. an auditor's role.
func (r *Recorder) GrantReadSnapshots(role iampolicy.Role) { r.bucket.GrantRead(role, "AWSLogs/") }

var (
	recorderNamePattern = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,256}$`)
	ruleNamePattern     = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)
	identifierPattern   = regexp.MustCompile(`^[A-Z0-9_]+$`)
	topicNamePattern    = regexp.MustCompile(`^[A-Za-z0-9_-]{1,256}$`)
	roleNamePattern     = regexp.MustCompile(`^[A-Za-z0-9+=,.@_-]{1,64}$`)
)

func (r *Recorder) validate(e *validation.Errors) {
	p := r.props
	if p.EncryptionKey == nil {
		e.Addf("EncryptionKey", "is required: the delivery bucket and the topic are encrypted with the project key")
	}
	if !recorderNamePattern.MatchString(p.RecorderName) {
		e.Addf("RecorderName", "%q must be 1-256 letters, digits, . _ or -", p.RecorderName)
	}
	if !topicNamePattern.MatchString(p.TopicName) {
		e.Addf("TopicName", "%q must be 1-256 letters, digits, _ or -", p.TopicName)
	}
	if !roleNamePattern.MatchString(p.RoleName) {
		e.Addf("RoleName", "%q is not an IAM role name", p.RoleName)
	}
	e.CheckRemovalPolicy(p.RemovalPolicy)
	if len(p.Rules) == 0 {
		e.Addf("Rules", "is empty: a recorder without rules records drift nobody is told about")
	}
	seen := map[string]bool{}
	for i, rule := range p.Rules {
		prop := fmt.Sprintf("Rules[%d]", i)
		if !ruleNamePattern.MatchString(rule.Name) {
			e.Addf(prop+".Name", "%q must be 1-128 letters, digits, _ or -", rule.Name)
		} else if seen[rule.Name] {
			e.Addf(prop+".Name", "%q is used twice", rule.Name)
		}
		seen[rule.Name] = true
		if !identifierPattern.MatchString(rule.Identifier) {
			e.Addf(prop+".Identifier", "%q is not a managed rule identifier such as S3_BUCKET_SSL_REQUESTS_ONLY", rule.Identifier)
		}
		if rule.Mirrors == "" || rule.Drift == "" {
			e.Addf(prop, "needs Mirrors and Drift: every rule says which invariant it watches and what change it catches")
		}
	}
}
