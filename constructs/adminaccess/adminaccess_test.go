package adminaccess_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/constructs/adminaccess"
	"github.com/acme/module-registry/constructs/iampolicy"
	"github.com/acme/module-registry/constructs/internal/synthtest"
)

func TestDefaults(t *testing.T) {
	stack := synthtest.NewStack(t)
	a := adminaccess.New(stack, "Administrators", nil)
	out := synthtest.Synth(t, stack)
	assert.Equal(t, "acme-administrators", out.Resource(t, "aws_iam_group")["name"])
	assert.Equal(t, adminaccess.AdministratorAccess, out.Resource(t, "aws_iam_group_policy_attachment")["policy_arn"])
	policy := out.Resource(t, "aws_iam_group_policy")
	assert.Regexp(t, `^\$\{aws_iam_group\.[^.]+\.name\}$`, policy["group"])
	sts := synthtest.BySid(out.PolicyStatements(t, policy["policy"]))
	block := sts[adminaccess.BlockUnlessSignedInWithMFA]
	require.NotNil(t, block)
	assert.Equal(t, "Deny", block["effect"])
	assert.ElementsMatch(t, adminaccess.SelfServiceActions, synthtest.Strings(block["not_actions"]))
	assert.Equal(t, []string{"*"}, synthtest.Strings(block["resources"]))
	assert.Equal(t, map[string][]string{"BoolIfExists aws:MultiFactorAuthPresent": {"false"}}, synthtest.Conditions(block))
	manage := sts[adminaccess.ManageOwnMFASid]
	for _, r := range synthtest.Strings(manage["resources"]) {
		assert.Contains(t, r, "&{aws:username}", "members manage only their own device")
	}
	assert.Equal(t, map[string][]string{"Bool aws:MultiFactorAuthPresent": {"true"}}, synthtest.Conditions(sts[adminaccess.DeactivateOwnMFAWithMFASid]))
	assert.Len(t, a.PolicyStatements(), 4)
	assert.Equal(t, []string{adminaccess.AdministratorAccess}, a.ManagedPolicyArns())
}

// decide evaluates the group's policies as IAM does for one action on one of the
// member's own resources: an explicit Deny wins, then any Allow; AdministratorAccess is
// its one statement, Allow "*" on "*". A small evaluator of exactly the statement forms
// used here (Action/NotAction globs, Bool and BoolIfExists on one key); the policy layer
// runs a full one.
func decide(statements []iampolicy.Statement, action, resource string, mfa *bool) string {
	// IAM's * matches any characters, "/" included.
	matches := func(patterns []string, v string) bool {
		return slices.ContainsFunc(patterns, func(p string) bool {
			return regexp.MustCompile("^" + strings.ReplaceAll(regexp.QuoteMeta(p), `\*`, ".*") + "$").MatchString(v)
		})
	}
	holds := func(c iampolicy.Condition) bool {
		if mfa == nil {
			return c.Test == "BoolIfExists"
		}
		v := "false"
		if *mfa {
			v = "true"
		}
		return slices.Contains(c.Values, v)
	}
	admin := iampolicy.Statement{Actions: []string{"*"}, Resources: []string{"*"}}
	allowed := false
	for _, s := range append(slices.Clone(statements), admin) {
		applies := (len(s.Actions) > 0 && matches(s.Actions, action)) || (len(s.NotActions) > 0 && !matches(s.NotActions, action))
		applies = applies && matches(s.Resources, resource)
		for _, c := range s.Conditions {
			applies = applies && holds(c)
		}
		if !applies {
			continue
		}
		if s.Effect == iampolicy.Deny {
			return "Denied"
		}
		allowed = true
	}
	if allowed {
		return "Allowed"
	}
	return "ImplicitlyDenied"
}

// An administrator action without MFA is denied, with MFA allowed; enrolling a device
// works without MFA, removing one only with it.
func TestMFADecides(t *testing.T) {
	sts := adminaccess.Statements("aws", "111122223333")
	yes, no := true, false
	const own = "arn:aws:iam::111122223333:user/&{aws:username}"
	for _, tc := range []struct {
		action, resource string
		mfa              *bool
		want             string
	}{
		{"s3:DeleteBucket", "arn:aws:s3:::pkg-artifacts", &no, "Denied"},
		{"s3:DeleteBucket", "arn:aws:s3:::pkg-artifacts", nil, "Denied"},
		{"s3:DeleteBucket", "arn:aws:s3:::pkg-artifacts", &yes, "Allowed"},
		{"iam:CreateRole", "arn:aws:iam::111122223333:role/x", &no, "Denied"},
		{"iam:CreateRole", "arn:aws:iam::111122223333:role/x", &yes, "Allowed"},
		{"iam:EnableMFADevice", own, &no, "Allowed"},
		{"iam:DeactivateMFADevice", own, &no, "Denied"},
		{"iam:DeactivateMFADevice", own, &yes, "Allowed"},
	} {
		assert.Equal(t, tc.want, decide(sts, tc.action, tc.resource, tc.mfa), "%s mfa=%v", tc.action, tc.mfa)
	}
}

func TestInvalidProps(t *testing.T) {
	stack := synthtest.NewStack(t)
	adminaccess.New(stack, "Administrators", &adminaccess.Props{GroupName: "bad name!", ManagedPolicyArns: []string{"admin"}})
	assert.ElementsMatch(t, []string{
		`[test/Administrators] GroupName: "bad name!" is not an IAM group name`,
		`[test/Administrators] ManagedPolicyArns: "admin" is not a managed policy ARN (arn:aws:iam::aws:policy/<name> or arn:aws:iam::<account>:policy/<name>)`,
	}, synthtest.ValidationErrors(t, stack))
	stack = synthtest.NewStack(t)
	adminaccess.New(stack, "Administrators", &adminaccess.Props{ManagedPolicyArns: []string{}})
	assert.Equal(t, []string{"[test/Administrators] ManagedPolicyArns: names no policy: administrators would have only the MFA self-service rights"},
		synthtest.ValidationErrors(t, stack))
}
