// Package githuboidc lets GitHub Actions deploy without long-lived keys: the account's
// OpenID Connect provider for token.actions.githubusercontent.com (audience
// sts.amazonaws.com) and two roles a workflow assumes with its OIDC token
// (aws-actions/configure-aws-credentials with role-to-assume and id-token: write):
//
//   - the deploy role, trusted only for one repository and one ref or one GitHub
//     environment: the token's sub must equal "repo:<owner>/<name>:ref:<ref>" or
//     "repo:<owner>/<name>:environment:<environment>" exactly (StringEquals; New refuses
//     any wildcard or a subject without a repository);
//   - the plan role, read-only, trusted only for pull requests of that repository
//     ("repo:<owner>/<name>:pull_request").
//
// Both sessions last at most one hour, both roles carry a permissions boundary, and both
// get a guardrail policy that denies, whatever else they are allowed, creating IAM users
// or long-lived credentials, changing these roles, their trust or the OIDC provider, and
// stopping the audit trail or AWS Config. The Terraform state is granted through
// securebucket: the deploy role reads and writes the state object and its lock file; the
// plan role reads the state and may write and remove only the lock file (Terraform locks
// during a plan too).
//
//	oidc := githuboidc.New(stack, "GitHub", &githuboidc.Props{
//		Repository: "acme/module-registry", DeployEnvironment: "prod",
//		State: &githuboidc.State{Bucket: stateBucket, Key: "prod/registry.tfstate", EncryptionKey: stateKey},
//	})
//	_ = oidc.DeployRole().Arn() // role-to-assume of the deploy job
package githuboidc

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/iamopenidconnectprovider"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/iamrole"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/iamrolepolicyattachment"

	"github.com/acme/module-registry/constructs/encryptionkey"
	"github.com/acme/module-registry/constructs/iampolicy"
	"github.com/acme/module-registry/constructs/internal/awsenv"
	"github.com/acme/module-registry/constructs/internal/defaults"
	"github.com/acme/module-registry/constructs/internal/validation"
	"github.com/acme/module-registry/constructs/securebucket"
)

// GitHub's OIDC issuer and the audience configure-aws-credentials requests.
const (
	IssuerHost = "token.actions.githubusercontent.com"
	IssuerURL  = "https://" + IssuerHost
	Audience   = "sts.amazonaws.com"
	// LockSuffix ends the name of Terraform's S3 lock file next to a state object.
	LockSuffix = ".tflock"
	// AudienceKey and SubjectKey are the condition keys IAM derives from the token.
	AudienceKey = IssuerHost + ":aud"
	SubjectKey  = IssuerHost + ":sub"
)

// Thumbprints are the certificate thumbprints GitHub publishes for its issuer. IAM no
// longer checks them for this issuer (it trusts its own root store), but the API still
// requires the list.
var Thumbprints = []string{"6938fd4d98bab03faadb97b34396831e3780aea1", "1c58a3a8518e8759bf075b76b750d4f2df264fcd"}

// Defaults.
const (
	DefaultDeployRef      = "refs/heads/main"
	DefaultDeployRoleName = "acme-github-deploy"
	DefaultPlanRoleName   = "acme-github-plan"
	// DefaultMaxSessionSeconds is one hour, also the longest allowed.
	DefaultMaxSessionSeconds = 3600
)

// Managed policies the roles get by default: deploying the stacks takes the usual
// administrator rights (see README.md), a plan reads everything it diffs.
const (
	AdministratorAccess = "arn:aws:iam::aws:policy/AdministratorAccess"
	ReadOnlyAccess      = "arn:aws:iam::aws:policy/ReadOnlyAccess"
)

// Statement ids of the trust and guardrail policies.
const (
	TrustSid                   = "GitHubActionsOIDC"
	DenyLongLivedCredentialSid = "DenyLongLivedCredentials"
	DenyChangingCISid          = "DenyChangingTheCIIdentity"
	DenyBlindingWatchersSid    = "DenyStoppingAuditAndConfig"
)

// Props configures the provider and the roles. Repository is required; every other zero
// value is the secure default.
type Props struct {
	// Repository is the GitHub repository, "<owner>/<name>", exactly (no wildcards).
	// Required.
	Repository string
	// DeployRef is the one git ref the deploy role trusts, e.g. "refs/heads/main" or
	// "refs/tags/v1.2.0"; not with DeployEnvironment. Default: "refs/heads/main".
	DeployRef string
	// DeployEnvironment, when set, makes the deploy role trust jobs of that GitHub
	// environment instead of a ref (GitHub then puts the environment in the token's sub;
	// protect it with required reviewers and a branch rule). Default: "" (trust DeployRef).
	DeployEnvironment string
	// DeployRoleName names the deploy role. Default: "acme-github-deploy".
	DeployRoleName string
	// PlanRoleName names the read-only plan role. Default: "acme-github-plan".
	PlanRoleName string
	// MaxSessionSeconds is the longest session of either role, 900-3600.
	// Default: 3600 (one hour).
	MaxSessionSeconds int
	// PermissionsBoundaryArn is the managed policy capping both roles, e.g. the
	// organization's CI boundary. Default: AWS's AdministratorAccess (no cap beyond the
	// guardrail policy; name your own to narrow it).
	PermissionsBoundaryArn string
	// DeployPolicyArns are the managed policies of the deploy role.
	// Default: AdministratorAccess.
	DeployPolicyArns []string
	// PlanPolicyArns are the managed policies of the plan role. Default: ReadOnlyAccess.
	PlanPolicyArns []string
	// ProviderArn is an existing GitHub OIDC provider of the account (there can be only
	// one per issuer). Default: "" (the provider is created here).
	ProviderArn string
	// State is the Terraform state the roles use. Default: nil (no state grants, e.g. a
	// local backend).
	State *State
}

// State names the S3 backend of the stacks the roles deploy.
type State struct {
	// Bucket holds the state (securebucket.FromBucketAttributes for the bootstrap's).
	Bucket securebucket.IBucket
	// Key is the state object CI deploys, e.g. "prod/registry.tfstate"; its lock file is
	// Key + ".tflock".
	Key string
	// EncryptionKey is the state bucket's key; the plan role encrypts its lock file.
	// Default: none (the bucket's grants cover it when imported with its key).
	EncryptionKey encryptionkey.IKey
}

// GitHubOIDC is the provider and the two roles.
type GitHubOIDC struct {
	constructs.Construct
	props       Props
	providerArn *string
	deploy      iamrole.IamRole
	plan        iamrole.IamRole
	trusts      map[string][]iampolicy.Statement
	guardrails  []iampolicy.Statement
}

// New creates the provider (unless ProviderArn names one) and the roles under scope.
func New(scope constructs.Construct, id string, props *Props) *GitHubOIDC {
	p := defaults.Copy(props)
	if p.DeployEnvironment == "" {
		defaults.Set(&p.DeployRef, DefaultDeployRef)
	}
	defaults.Set(&p.DeployRoleName, DefaultDeployRoleName)
	defaults.Set(&p.PlanRoleName, DefaultPlanRoleName)
	defaults.Set(&p.MaxSessionSeconds, DefaultMaxSessionSeconds)
	defaults.Set(&p.PermissionsBoundaryArn, AdministratorAccess)
	if p.DeployPolicyArns == nil {
		p.DeployPolicyArns = []string{AdministratorAccess}
	}
	if p.PlanPolicyArns == nil {
		p.PlanPolicyArns = []string{ReadOnlyAccess}
	}
	g := &GitHubOIDC{props: p, trusts: map[string][]iampolicy.Statement{}}
	constructs.NewConstruct_Override(g, scope, jsii.String(id))
	validation.Register(g, g.validate)
	env := awsenv.Of(g)

	if p.ProviderArn != "" {
		g.providerArn = jsii.String(p.ProviderArn)
	} else {
		provider := iamopenidconnectprovider.NewIamOpenidConnectProvider(g, jsii.String("Provider"), &iamopenidconnectprovider.IamOpenidConnectProviderConfig{
			Url:            jsii.String(IssuerURL),
			ClientIdList:   jsii.Strings(Audience),
			ThumbprintList: jsii.Strings(Thumbprints...),
		})
		g.providerArn = provider.Arn()
	}

	roleArn := func(name string) string { return "arn:" + *env.Partition + ":iam::" + *env.AccountID + ":role/" + name }
	g.guardrails = guardrails(*g.providerArn, roleArn(p.DeployRoleName), roleArn(p.PlanRoleName))
	g.deploy = g.role("Deploy", p.DeployRoleName, "Deploys the registry from GitHub Actions ("+g.DeploySubject()+")", g.DeploySubject(), p.DeployPolicyArns)
	g.plan = g.role("Plan", p.PlanRoleName, "Plans the registry from GitHub Actions pull requests (read-only)", g.PlanSubject(), p.PlanPolicyArns)

	if s := p.State; s != nil && s.Bucket != nil {
		// The grants' prefix is the key itself: the object and its lock file, nothing else.
		lock := *s.Bucket.BucketArn() + "/" + s.Key + LockSuffix
		s.Bucket.GrantReadWrite(g.deploy, s.Key)
		s.Bucket.GrantRead(g.plan, s.Key)
		// securebucket's grants never include deletes; Terraform removes its lock file
		// when it unlocks, and a plan writes one, so both roles get exactly that.
		iampolicy.Grant(g, "DeployStateLock", g.deploy, iampolicy.Statement{
			Sid: "ReleaseStateLock", Actions: []string{"s3:DeleteObject"}, Resources: []string{lock},
		})
		iampolicy.Grant(g, "PlanStateLock", g.plan, iampolicy.Statement{
			Sid: "TakeAndReleaseStateLock", Actions: []string{"s3:PutObject", "s3:DeleteObject"}, Resources: []string{lock},
		})
		if s.EncryptionKey != nil {
			s.EncryptionKey.GrantEncrypt(g.plan, "s3")
		}
	}
	return g
}

// role creates one OIDC role with its trust, boundary, guardrails and managed policies.
func (g *GitHubOIDC) role(id, name, description, subject string, managed []string) iamrole.IamRole {
	trust := []iampolicy.Statement{{
		Sid:        TrustSid,
		Principals: []iampolicy.Principal{iampolicy.FederatedPrincipal(*g.providerArn)},
		Actions:    []string{"sts:AssumeRoleWithWebIdentity"},
		Conditions: []iampolicy.Condition{
			iampolicy.StringEquals(AudienceKey, Audience),
			iampolicy.StringEquals(SubjectKey, subject),
		},
	}}
	g.trusts[name] = trust
	doc := iampolicy.NewDocument(g, id+"Trust", trust...)
	role := iamrole.NewIamRole(g, jsii.String(id), &iamrole.IamRoleConfig{
		Name:                jsii.String(name),
		Description:         jsii.String(description),
		AssumeRolePolicy:    doc.JSON(),
		MaxSessionDuration:  jsii.Number(float64(g.props.MaxSessionSeconds)),
		PermissionsBoundary: jsii.String(g.props.PermissionsBoundaryArn),
	})
	iampolicy.Grant(g, id+"Guardrails", role, g.guardrails...)
	for i, arn := range managed {
		iamrolepolicyattachment.NewIamRolePolicyAttachment(g, jsii.String(fmt.Sprintf("%sManaged%d", id, i)), &iamrolepolicyattachment.IamRolePolicyAttachmentConfig{
			Role: role.Name(), PolicyArn: jsii.String(arn),
		})
	}
	return role
}

// guardrails deny, to either role, what CI must never do whatever it is allowed: mint
// long-lived credentials, widen or take over its own identity, or stop the watchers.
// Deny statements may name Resource "*": they only take access away.
func guardrails(providerArn string, roleArns ...string) []iampolicy.Statement {
	return []iampolicy.Statement{{
		Sid:    DenyLongLivedCredentialSid,
		Effect: iampolicy.Deny,
		Actions: []string{
			"iam:CreateUser", "iam:CreateAccessKey", "iam:CreateLoginProfile", "iam:UpdateLoginProfile",
			"iam:CreateServiceSpecificCredential", "iam:UploadSSHPublicKey", "iam:UploadSigningCertificate",
		},
		Resources: []string{"*"},
	}, {
		Sid:    DenyChangingCISid,
		Effect: iampolicy.Deny,
		Actions: []string{
			"iam:UpdateAssumeRolePolicy", "iam:PutRolePolicy", "iam:DeleteRolePolicy", "iam:AttachRolePolicy",
			"iam:DetachRolePolicy", "iam:PutRolePermissionsBoundary", "iam:DeleteRolePermissionsBoundary",
			"iam:UpdateRole", "iam:DeleteRole", "iam:DeleteOpenIDConnectProvider",
			"iam:UpdateOpenIDConnectProviderThumbprint", "iam:AddClientIDToOpenIDConnectProvider",
			"iam:RemoveClientIDFromOpenIDConnectProvider",
		},
		Resources: append([]string{providerArn}, roleArns...),
	}, {
		Sid:    DenyBlindingWatchersSid,
		Effect: iampolicy.Deny,
		Actions: []string{
			"cloudtrail:StopLogging", "cloudtrail:DeleteTrail", "config:StopConfigurationRecorder",
			"config:DeleteConfigurationRecorder", "config:DeleteDeliveryChannel",
		},
		Resources: []string{"*"},
	}}
}

// DeploySubject is the token subject the deploy role trusts.
func (g *GitHubOIDC) DeploySubject() string {
	if g.props.DeployEnvironment != "" {
		return "repo:" + g.props.Repository + ":environment:" + g.props.DeployEnvironment
	}
	return "repo:" + g.props.Repository + ":ref:" + g.props.DeployRef
}

// PlanSubject is the token subject the plan role trusts: the repository's pull requests.
func (g *GitHubOIDC) PlanSubject() string { return "repo:" + g.props.Repository + ":pull_request" }

// ProviderArn is the OIDC provider's ARN.
func (g *GitHubOIDC) ProviderArn() *string { return g.providerArn }

// DeployRole is the deploy role (role-to-assume of the deploy job).
func (g *GitHubOIDC) DeployRole() iamrole.IamRole { return g.deploy }

// PlanRole is the read-only plan role (role-to-assume of the pull-request job).
func (g *GitHubOIDC) PlanRole() iamrole.IamRole { return g.plan }

// TrustStatements returns the trust policy of the role named name, for evaluation and
// tests.
func (g *GitHubOIDC) TrustStatements(name string) []iampolicy.Statement { return g.trusts[name] }

// GuardrailStatements returns the guardrail policy both roles carry.
func (g *GitHubOIDC) GuardrailStatements() []iampolicy.Statement { return g.guardrails }

var (
	repositoryPattern  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$`)
	refPattern         = regexp.MustCompile(`^refs/(heads|tags)/[A-Za-z0-9._/-]+$`)
	environmentPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,255}$`)
	roleNamePattern    = regexp.MustCompile(`^[A-Za-z0-9+=,.@_-]{1,64}$`)
	providerArnPattern = regexp.MustCompile(`^arn:aws[a-z-]*:iam::[0-9]{12}:oidc-provider/` + regexp.QuoteMeta(IssuerHost) + `$`)
)

// ValidateRepository checks that repo names exactly one repository, "<owner>/<name>".
func ValidateRepository(repo string) error {
	if !repositoryPattern.MatchString(repo) {
		return fmt.Errorf("%q must be exactly <owner>/<name>, without wildcards: a broader subject would trust other repositories", repo)
	}
	return nil
}

// ValidateRef checks that ref names exactly one branch or tag.
func ValidateRef(ref string) error {
	if !refPattern.MatchString(ref) || strings.Contains(ref, "..") {
		return fmt.Errorf("%q must be one branch or tag, refs/heads/<name> or refs/tags/<name>, without wildcards", ref)
	}
	return nil
}

// ValidateProviderArn checks that arn is an account's OIDC provider for GitHub's issuer.
func ValidateProviderArn(arn string) error {
	if !providerArnPattern.MatchString(arn) {
		return fmt.Errorf("%q is not the ARN of an account's OIDC provider for %s", arn, IssuerHost)
	}
	return nil
}

// ValidatePolicyArn checks that arn names a managed policy (a permissions boundary).
func ValidatePolicyArn(arn string) error { return validation.ManagedPolicyArn(arn) }

// ValidateEnvironment checks that env names exactly one GitHub environment.
func ValidateEnvironment(env string) error {
	if !environmentPattern.MatchString(env) {
		return fmt.Errorf("%q must be one environment name (letters, digits, . _ -), without wildcards", env)
	}
	return nil
}

func (g *GitHubOIDC) validate(e *validation.Errors) {
	p := g.props
	if err := ValidateRepository(p.Repository); err != nil {
		e.Addf("Repository", "%v", err)
	}
	if p.DeployEnvironment != "" && p.DeployRef != "" {
		e.Addf("DeployRef", "is %q but DeployEnvironment is %q; trust one or the other", p.DeployRef, p.DeployEnvironment)
	}
	if p.DeployRef != "" {
		if err := ValidateRef(p.DeployRef); err != nil {
			e.Addf("DeployRef", "%v", err)
		}
	}
	if p.DeployEnvironment != "" {
		if err := ValidateEnvironment(p.DeployEnvironment); err != nil {
			e.Addf("DeployEnvironment", "%v", err)
		}
	}
	for prop, name := range map[string]string{"DeployRoleName": p.DeployRoleName, "PlanRoleName": p.PlanRoleName} {
		if !roleNamePattern.MatchString(name) {
			e.Addf(prop, "%q is not an IAM role name", name)
		}
	}
	if p.DeployRoleName == p.PlanRoleName {
		e.Addf("PlanRoleName", "%q is the deploy role's name too", p.PlanRoleName)
	}
	if p.MaxSessionSeconds < 900 || p.MaxSessionSeconds > DefaultMaxSessionSeconds {
		e.Addf("MaxSessionSeconds", "must be between 900 and 3600 (one hour), got %d", p.MaxSessionSeconds)
	}
	e.CheckManagedPolicyArn("PermissionsBoundaryArn", p.PermissionsBoundaryArn)
	for _, a := range p.DeployPolicyArns {
		e.CheckManagedPolicyArn("DeployPolicyArns", a)
	}
	for _, a := range p.PlanPolicyArns {
		e.CheckManagedPolicyArn("PlanPolicyArns", a)
	}
	if p.ProviderArn != "" && !validation.IsToken(p.ProviderArn) {
		if err := ValidateProviderArn(p.ProviderArn); err != nil {
			e.Addf("ProviderArn", "%v", err)
		}
	}
	if s := p.State; s != nil {
		if s.Bucket == nil {
			e.Addf("State.Bucket", "is required with State")
		}
		if s.Key == "" || strings.ContainsAny(s.Key, "*?") || strings.HasPrefix(s.Key, "/") || strings.HasSuffix(s.Key, "/") {
			e.Addf("State.Key", "%q must be one object key without wildcards, e.g. prod/registry.tfstate", s.Key)
		}
	}
}
