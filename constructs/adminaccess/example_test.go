package adminaccess_test

import (
	"fmt"

	"github.com/acme/module-registry/constructs/adminaccess"
	"github.com/acme/module-registry/constructs/internal/synthtest"
)

// The administrators group: AdministratorAccess, but nothing except enrolling an MFA
// device until a member signs in with MFA.
func ExampleNew() {
	stack := synthtest.ExampleStack("governance")
	admins := adminaccess.New(stack, "Administrators", nil)

	synthtest.Print(stack, "aws_iam_group", "name")
	synthtest.Print(stack, "aws_iam_group_policy_attachment", "policy_arn")
	for _, s := range admins.PolicyStatements() {
		if s.Sid == adminaccess.BlockUnlessSignedInWithMFA {
			fmt.Println(s.Effect, "everything but", len(s.NotActions), "MFA self-service actions when", s.Conditions[0].Test, s.Conditions[0].Variable, "=", s.Conditions[0].Values[0])
		}
	}
	// Output:
	// aws_iam_group name: "acme-administrators"
	// aws_iam_group_policy_attachment policy_arn: "arn:aws:iam::aws:policy/AdministratorAccess"
	// Deny everything but 6 MFA self-service actions when BoolIfExists aws:MultiFactorAuthPresent = false
}
