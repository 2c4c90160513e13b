// Package encryptionkey provides the project's customer-managed KMS key: rotation on, a
// short deletion window, and a key policy that gives the account root administration and
// lets only the AWS services a caller names use the key, each scoped by conditions.
//
// Other constructs add their service statements through AllowServiceUse and hand roles
// least-privilege access through the Grant methods; nobody edits the key policy by hand.
package encryptionkey

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/kmsalias"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/kmskey"

	"github.com/acme/module-registry/constructs/iampolicy"
	"github.com/acme/module-registry/constructs/internal/awsenv"
	"github.com/acme/module-registry/constructs/internal/defaults"
	"github.com/acme/module-registry/constructs/internal/validation"
)

// Defaults from the security guide.
const (
	DefaultAlias              = "alias/acme-main-key"
	DefaultDescription        = "KMS key for ACME project encryption"
	DefaultDeletionWindowDays = 7
)

// Props configures a Key. The zero value is the secure default.
type Props struct {
	// Alias names the key. Default: "alias/acme-main-key".
	Alias string
	// Description of the key. Default: "KMS key for ACME project encryption".
	Description string
	// DisableRotation turns automatic key rotation off. Default: false (rotation on).
	DisableRotation bool
	// RotationPeriodDays sets the rotation period, 90-2560. Default: 0 (AWS's 365 days).
	RotationPeriodDays int
	// DeletionWindowDays is the waiting period before the key is deleted, 7-30.
	// Default: 7.
	DeletionWindowDays int
	// ServiceUses lets AWS services use the key. Default: none; more can be added
	// with AllowServiceUse.
	ServiceUses []ServiceUse
}

// ServiceUse is one key-policy statement letting an AWS service principal use the key.
type ServiceUse struct {
	// Sid names the statement; letters and digits, unique within the key policy.
	Sid string
	// Service is the principal, e.g. "cloudtrail.amazonaws.com".
	Service string
	// Actions are kms: actions named exactly, e.g. "kms:GenerateDataKey"; no wildcards.
	Actions []string
	// Conditions scope the use. At least one must constrain aws:SourceArn,
	// aws:SourceAccount, kms:ViaService or a kms:EncryptionContext key.
	Conditions []iampolicy.Condition
}

// IKey is what other constructs need from a key: its ARN and grants. Both *Key and keys
// imported with FromKeyArn satisfy it.
type IKey interface {
	KeyArn() *string
	GrantEncrypt(role iampolicy.Role, viaServices ...string)
	GrantDecrypt(role iampolicy.Role, viaServices ...string)
	GrantEncryptDecrypt(role iampolicy.Role, viaServices ...string)
}

// Key is a customer-managed KMS key with its alias.
type Key struct {
	constructs.Construct
	props  Props
	key    kmskey.KmsKey
	alias  kmsalias.KmsAlias
	policy *iampolicy.Document
	uses   []ServiceUse
	grants *granter
}

var _ IKey = (*Key)(nil)

// New creates the key, its alias and its key policy under scope.
func New(scope constructs.Construct, id string, props *Props) *Key {
	p := defaults.Copy(props)
	defaults.Set(&p.Alias, DefaultAlias)
	defaults.Set(&p.Description, DefaultDescription)
	defaults.Set(&p.DeletionWindowDays, DefaultDeletionWindowDays)
	k := &Key{props: p}
	constructs.NewConstruct_Override(k, scope, jsii.String(id))
	c := k
	env := awsenv.Of(c)

	// A key policy's Resource "*" means "this key": AWS requires that form. Root gets
	// kms:* so that IAM policies (the Grant methods) can delegate use of the key.
	k.policy = iampolicy.NewDocument(c, "Policy", iampolicy.Statement{
		Sid:        RootAdministrationSid,
		Principals: []iampolicy.Principal{iampolicy.AWSPrincipal(env.RootArn())},
		Actions:    []string{"kms:*"},
		Resources:  []string{"*"},
	})
	cfg := &kmskey.KmsKeyConfig{
		Description:          jsii.String(p.Description),
		EnableKeyRotation:    jsii.Bool(!p.DisableRotation),
		DeletionWindowInDays: jsii.Number(float64(p.DeletionWindowDays)),
		Policy:               k.policy.JSON(),
	}
	if p.RotationPeriodDays != 0 && !p.DisableRotation {
		cfg.RotationPeriodInDays = jsii.Number(float64(p.RotationPeriodDays))
	}
	k.key = kmskey.NewKmsKey(c, jsii.String("Key"), cfg)
	k.alias = kmsalias.NewKmsAlias(c, jsii.String("Alias"), &kmsalias.KmsAliasConfig{
		Name:        jsii.String(p.Alias),
		TargetKeyId: k.key.KeyId(),
	})
	k.grants = newGranter(c, k.key.Arn(), env)
	for _, u := range p.ServiceUses {
		k.AllowServiceUse(u)
	}
	validation.Register(c, k.validate)
	return k
}

// RootAdministrationSid is the Sid of the statement giving the account root administration.
const RootAdministrationSid = "EnableRootAccountAdministration"

// KeyArn is the key's ARN.
func (k *Key) KeyArn() *string { return k.key.Arn() }

// KeyID is the key's id.
func (k *Key) KeyID() *string { return k.key.KeyId() }

// AliasName is the alias, e.g. alias/acme-main-key.
func (k *Key) AliasName() *string { return k.alias.Name() }

// AliasArn is the alias's ARN.
func (k *Key) AliasArn() *string { return k.alias.Arn() }

// Resource exposes the underlying kms_key for escape hatches (overrides, depends_on).
func (k *Key) Resource() kmskey.KmsKey { return k.key }

// AllowServiceUse adds a key-policy statement letting an AWS service use the key, scoped
// by the use's conditions. Invalid uses fail synth with a message naming them.
func (k *Key) AllowServiceUse(use ServiceUse) {
	k.uses = append(k.uses, use)
	k.policy.Add(iampolicy.Statement{
		Sid:        use.Sid,
		Principals: []iampolicy.Principal{iampolicy.ServicePrincipal(use.Service)},
		Actions:    use.Actions,
		Resources:  []string{"*"}, // in a key policy, "*" is this key
		Conditions: use.Conditions,
	})
}

// CloudWatchLogsActions are what CloudWatch Logs does with a log group's key: encrypt new
// events, decrypt them for readers, re-encrypt on key changes, and describe the key. Each
// is named; the wildcards of AWS's example policy grant more than a symmetric key uses.
var CloudWatchLogsActions = []string{
	"kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo",
	"kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:DescribeKey",
}

// AllowLogGroup lets CloudWatch Logs use the key for the one log group logGroupArn (as
// built from strings, so that the log group can depend on the key): the regional service
// principal with the log group's ARN required in the encryption context. sid names the
// statement; letters and digits, unique within the key policy.
func (k *Key) AllowLogGroup(sid, logGroupArn string) {
	k.AllowServiceUse(ServiceUse{
		Sid:     sid,
		Service: "logs." + *k.grants.env.Region + ".amazonaws.com",
		Actions: CloudWatchLogsActions,
		Conditions: []iampolicy.Condition{
			{Test: "ArnEquals", Variable: "kms:EncryptionContext:aws:logs:arn", Values: []string{logGroupArn}},
		},
	})
}

// PolicyStatements returns the key policy's statements, for inspection and tests.
func (k *Key) PolicyStatements() []iampolicy.Statement { return k.policy.Statements() }

// GrantEncrypt lets role encrypt with the key the way services do, by envelope
// encryption: kms:GenerateDataKey.
// With viaServices (e.g. "s3", "secretsmanager") the grant holds only for requests those
// services make on the role's behalf in this region.
func (k *Key) GrantEncrypt(role iampolicy.Role, viaServices ...string) {
	k.grants.encrypt(role, viaServices)
}

// GrantDecrypt lets role decrypt with the key, optionally only via the named services.
func (k *Key) GrantDecrypt(role iampolicy.Role, viaServices ...string) {
	k.grants.decrypt(role, viaServices)
}

// GrantEncryptDecrypt combines GrantEncrypt and GrantDecrypt in one statement.
func (k *Key) GrantEncryptDecrypt(role iampolicy.Role, viaServices ...string) {
	k.grants.encryptDecrypt(role, viaServices)
}

var (
	aliasPattern = regexp.MustCompile(`^alias/[a-zA-Z0-9/_-]{1,250}$`)
	sidPattern   = regexp.MustCompile(`^[A-Za-z0-9]+$`)
	// Variables that tie a service's use of the key to this account or resource.
	scopingVariables = []string{"aws:SourceArn", "aws:SourceAccount", "kms:ViaService", "kms:CallerAccount"}
)

// ValidateAlias checks a key alias against KMS's rules and says what is wrong.
func ValidateAlias(alias string) error {
	if !aliasPattern.MatchString(alias) || strings.HasPrefix(alias, "alias/aws/") {
		return fmt.Errorf("%q must be alias/<name> (letters, digits, /_-) and must not start with alias/aws/", alias)
	}
	return nil
}

func (k *Key) validate(e *validation.Errors) {
	p := k.props
	if err := ValidateAlias(p.Alias); err != nil {
		e.Addf("Alias", "%v", err)
	}
	if p.DeletionWindowDays < 7 || p.DeletionWindowDays > 30 {
		e.Addf("DeletionWindowDays", "must be between 7 and 30 days, got %d", p.DeletionWindowDays)
	}
	if p.RotationPeriodDays != 0 {
		if p.DisableRotation {
			e.Addf("RotationPeriodDays", "is set to %d but DisableRotation is true", p.RotationPeriodDays)
		} else if p.RotationPeriodDays < 90 || p.RotationPeriodDays > 2560 {
			e.Addf("RotationPeriodDays", "must be between 90 and 2560 days, got %d", p.RotationPeriodDays)
		}
	}
	if len(p.Description) > 8192 {
		e.Addf("Description", "must be at most 8192 characters, got %d", len(p.Description))
	}
	seen := map[string]bool{RootAdministrationSid: true}
	for i, u := range k.uses {
		prop := fmt.Sprintf("ServiceUses[%d]", i)
		if u.Sid != "" {
			prop = fmt.Sprintf("ServiceUses[%s]", u.Sid)
		}
		switch {
		case !sidPattern.MatchString(u.Sid):
			e.Addf(prop+".Sid", "%q must be non-empty letters and digits", u.Sid)
		case seen[u.Sid]:
			e.Addf(prop+".Sid", "%q is used twice in the key policy", u.Sid)
		}
		seen[u.Sid] = true
		if !strings.HasSuffix(u.Service, ".amazonaws.com") {
			e.Addf(prop+".Service", "%q is not an AWS service principal (like cloudtrail.amazonaws.com)", u.Service)
		}
		if len(u.Actions) == 0 {
			e.Addf(prop+".Actions", "at least one kms: action is required")
		}
		for _, a := range u.Actions {
			if !strings.HasPrefix(a, "kms:") || strings.ContainsAny(a, "*?") {
				e.Addf(prop+".Actions", "%q must be one kms: action named exactly, without wildcards", a)
			}
		}
		if !scoped(u.Conditions) {
			e.Addf(prop+".Conditions", "must constrain one of %s or a kms:EncryptionContext key, so only this account's resources can use the key",
				strings.Join(scopingVariables, ", "))
		}
	}
	k.grants.validate(e)
}

func scoped(conds []iampolicy.Condition) bool {
	for _, c := range conds {
		if len(c.Values) == 0 {
			continue
		}
		if strings.HasPrefix(c.Variable, "kms:EncryptionContext:") {
			return true
		}
		for _, v := range scopingVariables {
			if c.Variable == v {
				return true
			}
		}
	}
	return false
}
