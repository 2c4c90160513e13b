package stacks_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/aws/jsii-runtime-go"
	"github.com/hashicorp/terraform-cdk-go/cdktf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/runtime/contract"
	"github.com/acme/module-registry/runtime/lambdabuild"
	"github.com/acme/module-registry/stacks"
)

// rotationZip is a stand-in deployment package: synth reads only its hash.
func rotationZip(t *testing.T) string {
	t.Helper()
	path, err := lambdabuild.StandIn(t.TempDir())
	require.NoError(t, err)
	return path
}

// Both secrets rotate, each through its own function with its strategy; the
// administrator's rotation may write the users table and nothing else of the service's.
func TestBothSecretsRotate(t *testing.T) {
	out := synth(t, localProps(t))
	rotations := out.Resource["aws_secretsmanager_secret_rotation"]
	require.Len(t, rotations, 2)
	secrets := map[string]bool{}
	for _, r := range rotations {
		secrets[r["secret_id"].(string)] = true
		assert.EqualValues(t, 30, r["rotation_rules"].(map[string]any)["automatically_after_days"])
	}
	for name := range out.Resource["aws_secretsmanager_secret"] {
		assert.True(t, secrets["${aws_secretsmanager_secret."+name+".arn}"], "%s rotates", name)
	}
	strategies := map[string]map[string]any{}
	for _, fn := range out.Resource["aws_lambda_function"] {
		vars := fn["environment"].(map[string]any)["variables"].(map[string]any)
		strategies[vars[contract.EnvRotationStrategy].(string)] = vars
	}
	require.Contains(t, strategies, contract.RotationJWT)
	admin := strategies[contract.RotationAdminPassword]
	require.NotNil(t, admin)
	assert.Equal(t, contract.DefaultAdminUser, admin[contract.EnvAdminUser])
	assert.Regexp(t, `^\$\{aws_dynamodb_table\.[^.]+\.name\}$`, admin["REGISTRY_TABLE_USERS"])
	for k, v := range admin {
		assert.NotContains(t, strings.ToLower(k), "password", "names only: %s=%v", k, v)
	}
}

// The registry's task role cannot read the admin password; the admin rotation's role
// gets the users table only.
func TestOnlyTheRotationTouchesTheAdminPassword(t *testing.T) {
	out := synthTree(t, localProps(t))
	var adminArn string
	for name, s := range out.Resource["aws_secretsmanager_secret"] {
		if s["name"] == "acme-registry-admin" {
			adminArn = "${aws_secretsmanager_secret." + name + ".arn}"
		}
	}
	require.NotEmpty(t, adminArn)
	docs := out.documents(t)
	readers := map[string][]string{}
	for _, p := range out.Resource["aws_iam_role_policy"] {
		for _, st := range docs[p["policy"].(string)] {
			if slices.Contains(st.Resources, adminArn) {
				readers[p["role"].(string)] = append(readers[p["role"].(string)], st.Actions...)
			}
			if slices.ContainsFunc(st.Actions, func(a string) bool { return strings.HasPrefix(a, "dynamodb:") }) &&
				strings.Contains(p["role"].(string), "AdminPasswordRotation") {
				assert.Len(t, st.Resources, 1, "the users table only: %v", st.Resources)
				assert.Regexp(t, `^\$\{aws_dynamodb_table\.Tables_Users_[^.]+\.arn\}$`, st.Resources[0])
			}
		}
	}
	var who []string
	for role := range readers {
		parts := strings.Split(strings.TrimPrefix(role, "${aws_iam_role."), "_")
		who = append(who, parts[0]+"/"+parts[1])
	}
	// ECS injects the password at task start (execution role); the rotation rotates it.
	// The task role, which runs the registry's code, is not among them.
	assert.ElementsMatch(t, []string{"Service/ExecutionRole", "AdminPasswordRotation/Role"}, who)
}

type tree struct {
	Resource map[string]map[string]map[string]any `json:"resource"`
	Data     map[string]map[string]struct {
		Statement []struct {
			Actions   []string `json:"actions"`
			Resources []string `json:"resources"`
		} `json:"statement"`
	} `json:"data"`
}

type statement = struct {
	Actions   []string `json:"actions"`
	Resources []string `json:"resources"`
}

func synthTree(t *testing.T, p stacks.RegistryProps) tree {
	t.Helper()
	app := cdktf.Testing_App(&cdktf.TestingAppConfig{Outdir: jsii.String(t.TempDir()), StackTraces: jsii.Bool(false)})
	reg := stacks.NewRegistry(app, p)
	var out tree
	require.NoError(t, json.Unmarshal([]byte(*cdktf.Testing_Synth(reg.Stack, jsii.Bool(true))), &out))
	return out
}

// documents maps each "${data.aws_iam_policy_document.X.json}" reference to X's statements.
func (tr tree) documents(t *testing.T) map[string][]statement {
	t.Helper()
	out := map[string][]statement{}
	for name, d := range tr.Data["aws_iam_policy_document"] {
		out["${data.aws_iam_policy_document."+name+".json}"] = d.Statement
	}
	return out
}
