package githuboidc_test

import (
	"fmt"

	"github.com/acme/module-registry/constructs/githuboidc"
	"github.com/acme/module-registry/constructs/internal/synthtest"
)

// CI without long-lived keys: the deploy job of the prod environment and the plan job of
// pull requests each assume their role with GitHub's OIDC token.
func ExampleNew() {
	stack := synthtest.ExampleStack("governance")
	oidc := githuboidc.New(stack, "GitHub", &githuboidc.Props{
		Repository: "acme/module-registry", DeployEnvironment: "prod",
	})

	synthtest.Print(stack, "aws_iam_openid_connect_provider", "url", "client_id_list")
	synthtest.Print(stack, "aws_iam_role", "name", "max_session_duration")
	fmt.Println("deploy:", oidc.DeploySubject())
	fmt.Println("plan:", oidc.PlanSubject())
	// Output:
	// aws_iam_openid_connect_provider url: "https://token.actions.githubusercontent.com"
	// aws_iam_openid_connect_provider client_id_list: ["sts.amazonaws.com"]
	// aws_iam_role name: "acme-github-deploy"
	// aws_iam_role max_session_duration: 3600
	// aws_iam_role name: "acme-github-plan"
	// aws_iam_role max_session_duration: 3600
	// deploy: repo:acme/module-registry:environment:prod
	// plan: repo:acme/module-registry:pull_request
}
