// Package adminaccess provides the account's administrators group, whose members can do
// nothing but set up their own MFA device until they sign in with MFA: AWS's documented
// policy "IAM: Allows IAM users to self-manage an MFA device" (IAM User Guide,
// reference_policies_examples_iam_mfa-selfmanage), whose
// BlockMostAccessUnlessSignedInWithMFA statement denies every other action while
// aws:MultiFactorAuthPresent is false or absent (BoolIfExists, so long-term access keys,
// which carry no MFA context, are denied too). The group's administrator rights are
// managed policies (AdministratorAccess by default), so an administrator action without
// MFA is denied and the same action with MFA is allowed.
//
// The group holds no users: people are added where the organization manages identities,
// and the compliance aspect refuses IAM users in these stacks. PolicyStatements returns
// the MFA policy as typed statements, for policy evaluation.
//
//	admins := adminaccess.New(stack, "Administrators", nil)
//	_ = admins.GroupName()
package adminaccess

import (
	"fmt"
	"regexp"

	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/iamgroup"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/iamgrouppolicy"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/iamgrouppolicyattachment"

	"github.com/acme/module-registry/constructs/iampolicy"
	"github.com/acme/module-registry/constructs/internal/awsenv"
	"github.com/acme/module-registry/constructs/internal/defaults"
	"github.com/acme/module-registry/constructs/internal/validation"
)

// Defaults.
const (
	DefaultGroupName = "acme-administrators"
	// AdministratorAccess is AWS's managed administrator policy.
	AdministratorAccess = "arn:aws:iam::aws:policy/AdministratorAccess"
)

// MFAPresentKey is the condition key AWS sets when a request was signed with credentials
// obtained with MFA.
const MFAPresentKey = "aws:MultiFactorAuthPresent"

// Statement ids of the MFA policy, as AWS's documented example names them.
const (
	ListOwnMFASid              = "AllowIndividualUserToListOnlyTheirOwnMFA"
	ManageOwnMFASid            = "AllowIndividualUserToManageTheirOwnMFA"
	DeactivateOwnMFAWithMFASid = "AllowIndividualUserToDeactivateOnlyTheirOwnMFAOnlyWhenUsingMFA"
	BlockUnlessSignedInWithMFA = "BlockMostAccessUnlessSignedInWithMFA"
)

// SelfServiceActions are the only actions the policy leaves to a member without MFA:
// enough to enrol an MFA device, nothing else.
var SelfServiceActions = []string{
	"iam:CreateVirtualMFADevice", "iam:EnableMFADevice", "iam:ListMFADevices",
	"iam:ListUsers", "iam:ListVirtualMFADevices", "iam:ResyncMFADevice",
}

// Props configures Administrators. The zero value is the secure default.
type Props struct {
	// GroupName names the group. Default: "acme-administrators".
	GroupName string
	// ManagedPolicyArns are the administrator rights members have once signed in with
	// MFA. Default: AdministratorAccess.
	ManagedPolicyArns []string
}

// Administrators is the group and its policies.
type Administrators struct {
	constructs.Construct
	props      Props
	group      iamgroup.IamGroup
	statements []iampolicy.Statement
	policy     iamgrouppolicy.IamGroupPolicy
}

// New creates the group, its MFA policy and its managed policy attachments under scope.
func New(scope constructs.Construct, id string, props *Props) *Administrators {
	p := defaults.Copy(props)
	defaults.Set(&p.GroupName, DefaultGroupName)
	if p.ManagedPolicyArns == nil {
		p.ManagedPolicyArns = []string{AdministratorAccess}
	}
	a := &Administrators{props: p}
	constructs.NewConstruct_Override(a, scope, jsii.String(id))
	validation.Register(a, a.validate)
	env := awsenv.Of(a)

	a.group = iamgroup.NewIamGroup(a, jsii.String("Group"), &iamgroup.IamGroupConfig{Name: jsii.String(p.GroupName)})
	a.statements = Statements(*env.Partition, *env.AccountID)
	doc := iampolicy.NewDocument(a, "MfaPolicy", a.statements...)
	a.policy = iamgrouppolicy.NewIamGroupPolicy(a, jsii.String("RequireMfa"), &iamgrouppolicy.IamGroupPolicyConfig{
		Group:      a.group.Name(),
		NamePrefix: jsii.String("RequireMfa-"),
		Policy:     doc.JSON(),
	})
	for i, arn := range p.ManagedPolicyArns {
		iamgrouppolicyattachment.NewIamGroupPolicyAttachment(a, jsii.String(fmt.Sprintf("Managed%d", i)), &iamgrouppolicyattachment.IamGroupPolicyAttachmentConfig{
			Group: a.group.Name(), PolicyArn: jsii.String(arn),
		})
	}
	return a
}

// Statements is AWS's MFA self-service policy (see the package doc) for one account.
// Users' own resources are named with the policy variable ${aws:username}, written
// &{aws:username} for Terraform's policy document, which renders it back. AWS's example
// also allows iam:ListUsers and iam:ListVirtualMFADevices on Resource "*"; they are left
// out (members with MFA have them from their managed policies), so no Allow here names
// "*".
func Statements(partition, account string) []iampolicy.Statement {
	iam := "arn:" + partition + ":iam::" + account + ":"
	ownUser, ownMFA := iam+"user/&{aws:username}", iam+"mfa/&{aws:username}"
	return []iampolicy.Statement{{
		Sid:       ListOwnMFASid,
		Actions:   []string{"iam:ListMFADevices"},
		Resources: []string{iam + "mfa/*", ownUser},
	}, {
		Sid:       ManageOwnMFASid,
		Actions:   []string{"iam:CreateVirtualMFADevice", "iam:DeleteVirtualMFADevice", "iam:EnableMFADevice", "iam:ResyncMFADevice"},
		Resources: []string{ownMFA, ownUser},
	}, {
		Sid:        DeactivateOwnMFAWithMFASid,
		Actions:    []string{"iam:DeactivateMFADevice"},
		Resources:  []string{ownMFA, ownUser},
		Conditions: []iampolicy.Condition{{Test: "Bool", Variable: MFAPresentKey, Values: []string{"true"}}},
	}, {
		Sid:        BlockUnlessSignedInWithMFA,
		Effect:     iampolicy.Deny,
		NotActions: SelfServiceActions,
		Resources:  []string{"*"}, // a Deny: "*" takes everything away, it grants nothing
		Conditions: []iampolicy.Condition{{Test: "BoolIfExists", Variable: MFAPresentKey, Values: []string{"false"}}},
	}}
}

// GroupName is the group's name.
func (a *Administrators) GroupName() *string { return a.group.Name() }

// GroupArn is the group's ARN.
func (a *Administrators) GroupArn() *string { return a.group.Arn() }

// PolicyStatements returns the MFA policy's statements, for policy evaluation and tests.
func (a *Administrators) PolicyStatements() []iampolicy.Statement {
	return append([]iampolicy.Statement{}, a.statements...)
}

// ManagedPolicyArns are the administrator rights of members signed in with MFA.
func (a *Administrators) ManagedPolicyArns() []string {
	return append([]string{}, a.props.ManagedPolicyArns...)
}

// Resource exposes the underlying iam_group for escape hatches.
func (a *Administrators) Resource() iamgroup.IamGroup { return a.group }

var groupNamePattern = regexp.MustCompile(`^[A-Za-z0-9+=,.@_-]{1,128}$`)

func (a *Administrators) validate(e *validation.Errors) {
	p := a.props
	if !groupNamePattern.MatchString(p.GroupName) {
		e.Addf("GroupName", "%q is not an IAM group name", p.GroupName)
	}
	if len(p.ManagedPolicyArns) == 0 {
		e.Addf("ManagedPolicyArns", "names no policy: administrators would have only the MFA self-service rights")
	}
	for _, arn := range p.ManagedPolicyArns {
		e.CheckManagedPolicyArn("ManagedPolicyArns", arn)
	}
}
