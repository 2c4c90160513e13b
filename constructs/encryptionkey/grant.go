package encryptionkey

import (
	"regexp"

	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/acme/module-registry/constructs/iampolicy"
	"github.com/acme/module-registry/constructs/internal/awsenv"
	"github.com/acme/module-registry/constructs/internal/grant"
	"github.com/acme/module-registry/constructs/internal/validation"
)

// granter writes IAM statements for a key ARN; shared by owned and imported keys.
type granter struct {
	grants *grant.Granter
	keyArn *string
	env    awsenv.Env
	errs   validation.Errors
}

func newGranter(scope constructs.Construct, keyArn *string, env awsenv.Env) *granter {
	return &granter{grants: grant.New(scope), keyArn: keyArn, env: env}
}

var servicePattern = regexp.MustCompile(`^[a-z0-9-]+$`)

var (
	// Services encrypt with envelope encryption: S3, Secrets Manager and SDK encryption
	// clients ask KMS for a data key, so encrypting through them is kms:GenerateDataKey.
	encryptActions = []string{"kms:GenerateDataKey"}
	decryptActions = []string{"kms:Decrypt"}
)

func (g *granter) encrypt(role iampolicy.Role, via []string) {
	g.grant("Encrypt", role, encryptActions, via)
}
func (g *granter) decrypt(role iampolicy.Role, via []string) {
	g.grant("Decrypt", role, decryptActions, via)
}
func (g *granter) encryptDecrypt(role iampolicy.Role, via []string) {
	g.grant("EncryptDecrypt", role, append(append([]string{}, encryptActions...), decryptActions...), via)
}

func (g *granter) grant(kind string, role iampolicy.Role, actions, via []string) {
	st := iampolicy.Statement{
		Sid:       "UseKey" + kind,
		Actions:   actions,
		Resources: []string{*g.keyArn},
	}
	if len(via) > 0 {
		endpoints := make([]string, 0, len(via))
		for _, s := range via {
			if !servicePattern.MatchString(s) {
				g.errs.Addf("Grant"+kind, "viaServices entry %q must be a service name such as s3 or secretsmanager", s)
			}
			endpoints = append(endpoints, g.env.ServiceEndpoint(s))
		}
		st.Conditions = []iampolicy.Condition{iampolicy.StringEquals("kms:ViaService", endpoints...)}
	}
	g.grants.Grant(grant.Request{Kind: kind, Role: role, Statements: []iampolicy.Statement{st}})
}

func (g *granter) validate(e *validation.Errors) {
	g.grants.Validate(e)
	e.Merge(&g.errs)
}

// ImportedKey is a key created elsewhere, known by ARN. Grants work through IAM; its key
// policy must already delegate to the account (the AWS default does).
type ImportedKey struct {
	constructs.Construct
	grants *granter
}

var _ IKey = (*ImportedKey)(nil)

// FromKeyArn references an existing key so other constructs can use and grant it.
func FromKeyArn(scope constructs.Construct, id, keyArn string) *ImportedKey {
	k := &ImportedKey{}
	constructs.NewConstruct_Override(k, scope, jsii.String(id))
	k.grants = newGranter(k, jsii.String(keyArn), awsenv.Of(k))
	validation.Register(k, func(e *validation.Errors) {
		if !keyArnPattern.MatchString(keyArn) {
			e.Addf("keyArn", "%q is not a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)", keyArn)
		}
		k.grants.validate(e)
	})
	return k
}

var keyArnPattern = regexp.MustCompile(`^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$`)

// KeyArn is the imported key's ARN.
func (k *ImportedKey) KeyArn() *string { return k.grants.keyArn }

// GrantEncrypt: see Key.GrantEncrypt.
func (k *ImportedKey) GrantEncrypt(role iampolicy.Role, via ...string) { k.grants.encrypt(role, via) }

// GrantDecrypt: see Key.GrantDecrypt.
func (k *ImportedKey) GrantDecrypt(role iampolicy.Role, via ...string) { k.grants.decrypt(role, via) }

// GrantEncryptDecrypt: see Key.GrantEncryptDecrypt.
func (k *ImportedKey) GrantEncryptDecrypt(role iampolicy.Role, via ...string) {
	k.grants.encryptDecrypt(role, via)
}
