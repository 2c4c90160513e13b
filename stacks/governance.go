package stacks

import (
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/hashicorp/terraform-cdk-go/cdktf"

	"github.com/acme/module-registry/constructs/adminaccess"
	"github.com/acme/module-registry/constructs/configrecorder"
	"github.com/acme/module-registry/constructs/encryptionkey"
	"github.com/acme/module-registry/constructs/githuboidc"
	"github.com/acme/module-registry/constructs/removal"
	"github.com/acme/module-registry/constructs/securebucket"
)

// GovernanceStackName is the id of the stack holding account-level governance.
const GovernanceStackName = "governance"

// GovernanceKeyAlias names the key of the Config delivery bucket and topic.
const GovernanceKeyAlias = "alias/acme-governance-key"

// GovernanceProps configure the account's governance: how CI reaches AWS, AWS Config,
// and the administrators. It is deployed by an administrator (with MFA), like the
// bootstrap stack, never by CI: CI's roles are defined here and may not change
// themselves.
type GovernanceProps struct {
	// BaseProps is the provider and backend.
	BaseProps
	// GitHub is the repository whose workflows deploy (the deploy role) and plan (the
	// plan role). Required.
	GitHub GitHubProps
	// RemovalPolicy removal.Destroy lets destroy delete the Config delivery bucket with
	// its snapshots; for the emulator only. Default: removal.Retain.
	RemovalPolicy removal.Policy
}

// GitHubProps name what the CI roles trust and the state they use.
type GitHubProps struct {
	// Repository is "<owner>/<name>". Required.
	Repository string
	// DeployRef is the ref the deploy role trusts. Default: "refs/heads/main" unless
	// DeployEnvironment is set.
	DeployRef string
	// DeployEnvironment is the GitHub environment the deploy role trusts instead.
	// Default: "".
	DeployEnvironment string
	// ProviderArn is the account's existing GitHub OIDC provider. Default: "" (created).
	ProviderArn string
	// PermissionsBoundaryArn caps both roles. Default: githuboidc's.
	PermissionsBoundaryArn string
	// StateBucket and StateKey are the registry stack's S3 state, which CI plans and
	// deploys; StateKMSKeyArn is the state bucket's key ("" when unknown: the bucket's
	// grants then name no key). StateBucket and StateKey are required.
	StateBucket, StateKey, StateKMSKeyArn string
}

// Governance is the deployed governance.
type Governance struct {
	Stack          cdktf.TerraformStack
	Key            *encryptionkey.Key
	GitHub         *githuboidc.GitHubOIDC
	Config         *configrecorder.Recorder
	Administrators *adminaccess.Administrators
}

// NewGovernance composes the governance stack: the GitHub OIDC provider with the deploy
// and plan roles (granted the registry's state), AWS Config recording every resource with
// the managed rules that mirror the compliance aspect, delivering under the governance
// key, and the administrators group whose members must sign in with MFA.
func NewGovernance(scope constructs.Construct, p GovernanceProps) *Governance {
	stack := NewBase(scope, GovernanceStackName, p.BaseProps)
	key := encryptionkey.New(stack, "GovernanceKey", &encryptionkey.Props{
		Alias: GovernanceKeyAlias, Description: "Encrypts AWS Config's snapshots and notifications",
	})

	gh := p.GitHub
	stateAttrs := securebucket.Attributes{BucketName: gh.StateBucket}
	var stateKey encryptionkey.IKey
	if gh.StateKMSKeyArn != "" {
		stateKey = encryptionkey.FromKeyArn(stack, "StateKey", gh.StateKMSKeyArn)
		stateAttrs.EncryptionKey = stateKey
	}
	oidc := githuboidc.New(stack, "GitHub", &githuboidc.Props{
		Repository: gh.Repository, DeployRef: gh.DeployRef, DeployEnvironment: gh.DeployEnvironment,
		ProviderArn: gh.ProviderArn, PermissionsBoundaryArn: gh.PermissionsBoundaryArn,
		State: &githuboidc.State{
			Bucket: securebucket.FromBucketAttributes(stack, "StateBucket", stateAttrs), Key: gh.StateKey, EncryptionKey: stateKey,
		},
	})
	config := configrecorder.New(stack, "Config", &configrecorder.Props{EncryptionKey: key, RemovalPolicy: p.RemovalPolicy})
	admins := adminaccess.New(stack, "Administrators", nil)

	output(stack, "github_deploy_role_arn", oidc.DeployRole().Arn(), "role-to-assume of the deploy workflow job")
	output(stack, "github_plan_role_arn", oidc.PlanRole().Arn(), "role-to-assume of the pull-request plan job")
	output(stack, "github_deploy_subject", jsii.String(oidc.DeploySubject()), "The only OIDC subject the deploy role trusts")
	output(stack, "config_recorder", config.RecorderName(), "AWS Config recorder")
	output(stack, "config_bucket", config.Bucket().BucketName(), "Bucket AWS Config delivers to")
	output(stack, "administrators_group", admins.GroupName(), "IAM group of the administrators (MFA required)")
	return &Governance{Stack: stack, Key: key, GitHub: oidc, Config: config, Administrators: admins}
}
