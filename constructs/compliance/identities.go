package compliance

// RuleNoLongLivedCredentials: no IAM users, access keys or other long-lived
// credentials in any stack. People sign in through federation and CI through OIDC
// (constructs/githuboidc), so every credential is temporary. Having none meets Security
// Hub FSBP IAM.3 (access keys rotated) and IAM.2 (no policies on users) by construction.
const RuleNoLongLivedCredentials = "iam-no-users-or-access-keys"

// longLivedCredentials are the resource types that create an IAM user, a credential of
// one, or attach one to anything.
var longLivedCredentials = []string{
	"aws_iam_user",
	"aws_iam_access_key",
	"aws_iam_user_login_profile",
	"aws_iam_user_ssh_key",
	"aws_iam_service_specific_credential",
	"aws_iam_signing_certificate",
	"aws_iam_user_policy",
	"aws_iam_user_policy_attachment",
	"aws_iam_user_group_membership",
	"aws_iam_group_membership",
}

// identities reports every resource creating a long-lived credential.
func (c *checker) identities() {
	for _, typ := range longLivedCredentials {
		for _, name := range c.resources(typ) {
			c.add(typ+"."+name, RuleNoLongLivedCredentials, "long-lived IAM credentials are not allowed: use federation for people and OIDC roles for CI")
		}
	}
}
