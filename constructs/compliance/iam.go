// Package compliance checks synthesized stacks against the project's security invariants.
// It reads the Terraform JSON that cdktf writes, so it judges exactly what will deploy.
package compliance

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// Violation is one broken invariant at one place in a stack.
type Violation struct {
	// Address is the Terraform address, e.g. data.aws_iam_policy_document.X.
	Address string
	// Rule names the invariant.
	Rule string
	// Detail says what is wrong.
	Detail string
}

func (v Violation) String() string { return fmt.Sprintf("%s: %s: %s", v.Address, v.Rule, v.Detail) }

// Rules checked by CheckIAMWildcards.
const (
	RuleWildcardAction   = "iam-no-wildcard-action"
	RuleWildcardResource = "iam-no-wildcard-resource"
	RuleNotAction        = "iam-no-allow-notaction"
)

// Exception is a named, documented exception to an IAM rule.
type Exception struct {
	Rule string
	Why  string
}

// KeyPolicyResource is the only exception: inside a KMS key policy, Resource "*" means
// "this key" and AWS accepts no other form.
var KeyPolicyResource = Exception{
	Rule: RuleWildcardResource,
	Why:  `a KMS key policy's Resource "*" refers to the key itself; AWS requires that form`,
}

// UnscopedActions is the second exception: actions that AWS only authorizes on Resource
// "*" because they act on no resource (ECR's registry-wide login token). An Allow of only
// these actions may use "*".
var UnscopedActions = Exception{
	Rule: RuleWildcardResource,
	Why:  `ecr:GetAuthorizationToken has no resource-level permissions; AWS requires Resource "*"`,
}

// KeyPolicyRootAdministration is the one exception to naming actions: a key policy's
// statement for the account root grants "kms:*", AWS's default key policy, which lets IAM
// policies (the narrow Grant statements) delegate use of the key at all.
var KeyPolicyRootAdministration = Exception{
	Rule: RuleWildcardAction,
	Why:  `a key policy's root statement grants "kms:*" so that IAM policies can delegate use of the key`,
}

// unscopedActions lists the actions covered by UnscopedActions.
var unscopedActions = []string{"ecr:GetAuthorizationToken"}

var docRef = regexp.MustCompile(`\$\{data\.aws_iam_policy_document\.([^.}]+)\.json\}`)

// policyAttributes lists, per resource type, attributes holding a policy document.
var policyAttributes = map[string][]string{
	"aws_kms_key":                        {"policy"},
	"aws_iam_role_policy":                {"policy"},
	"aws_iam_policy":                     {"policy"},
	"aws_iam_role":                       {"assume_role_policy"},
	"aws_s3_bucket_policy":               {"policy"},
	"aws_secretsmanager_secret":          {"policy"},
	"aws_secretsmanager_secret_policy":   {"policy"},
	"aws_ecr_repository_policy":          {"policy"},
	"aws_cloudwatch_log_resource_policy": {"policy_document"},
}

type statement struct {
	Effect    string
	Actions   []string
	NotAction []string
	Resources []string
}

// CheckIAMWildcards reports every Allow statement in a synthesized stack (cdk.tf.json)
// whose Action is "*", that uses NotAction, or whose Resource is "*" outside a key policy.
func CheckIAMWildcards(stackJSON []byte) ([]Violation, error) {
	var tree struct {
		Resource map[string]map[string]map[string]any `json:"resource"`
		Data     map[string]map[string]map[string]any `json:"data"`
	}
	if err := json.Unmarshal(stackJSON, &tree); err != nil {
		return nil, fmt.Errorf("compliance: stack is not valid JSON: %w", err)
	}
	keyPolicies := map[string]bool{}
	var out []Violation
	for _, typ := range sortedKeys(tree.Resource) {
		attrs := policyAttributes[typ]
		for _, name := range sortedKeys(tree.Resource[typ]) {
			for _, attr := range attrs {
				raw, _ := tree.Resource[typ][name][attr].(string)
				if m := docRef.FindStringSubmatch(raw); m != nil {
					if typ == "aws_kms_key" {
						keyPolicies[m[1]] = true
					}
					continue // judged below, as a data source
				}
				// Literal JSON (or a template we cannot read) in the attribute itself.
				sts, ok := parseLiteral(raw)
				if !ok {
					continue
				}
				out = append(out, check(fmt.Sprintf("%s.%s.%s", typ, name, attr), sts, typ == "aws_kms_key")...)
			}
		}
	}
	docs := tree.Data["aws_iam_policy_document"]
	for _, name := range sortedKeys(docs) {
		out = append(out, check("data.aws_iam_policy_document."+name, dataStatements(docs[name]), keyPolicies[name])...)
	}
	return out, nil
}

func check(addr string, sts []statement, keyPolicy bool) []Violation {
	var out []Violation
	for i, s := range sts {
		if s.Effect != "" && s.Effect != "Allow" {
			continue // Deny statements only take access away
		}
		where := fmt.Sprintf("%s statement %d", addr, i)
		for _, a := range s.Actions {
			if !strings.ContainsAny(a, "*?") || (keyPolicy && a == "kms:*") {
				continue
			}
			out = append(out, Violation{where, RuleWildcardAction, fmt.Sprintf("Allow with Action %q; name each action exactly (partial wildcards grant actions nobody uses)", a)})
		}
		if len(s.NotAction) > 0 {
			out = append(out, Violation{where, RuleNotAction, "Allow with NotAction grants everything else; name the actions"})
		}
		if slices.Contains(s.Resources, "*") && !keyPolicy && !onlyUnscoped(s.Actions) {
			out = append(out, Violation{where, RuleWildcardResource, `Allow with Resource "*"; name the resources`})
		}
	}
	return out
}

func onlyUnscoped(actions []string) bool {
	if len(actions) == 0 {
		return false
	}
	for _, a := range actions {
		if !slices.Contains(unscopedActions, a) {
			return false
		}
	}
	return true
}

func dataStatements(doc map[string]any) []statement {
	list, _ := doc["statement"].([]any)
	out := make([]statement, 0, len(list))
	for _, x := range list {
		m, _ := x.(map[string]any)
		effect, _ := m["effect"].(string)
		out = append(out, statement{
			Effect: effect, Actions: strs(m["actions"]), NotAction: strs(m["not_actions"]), Resources: strs(m["resources"]),
		})
	}
	return out
}

func parseLiteral(raw string) ([]statement, bool) {
	var doc struct {
		Statement json.RawMessage
	}
	if raw == "" || json.Unmarshal([]byte(raw), &doc) != nil || doc.Statement == nil {
		return nil, false
	}
	var list []map[string]any
	if json.Unmarshal(doc.Statement, &list) != nil {
		var one map[string]any
		if json.Unmarshal(doc.Statement, &one) != nil {
			return nil, false
		}
		list = []map[string]any{one}
	}
	out := make([]statement, 0, len(list))
	for _, m := range list {
		effect, _ := m["Effect"].(string)
		out = append(out, statement{
			Effect: effect, Actions: oneOrMany(m["Action"]), NotAction: oneOrMany(m["NotAction"]), Resources: oneOrMany(m["Resource"]),
		})
	}
	return out, true
}

func oneOrMany(v any) []string {
	if s, ok := v.(string); ok {
		return []string{s}
	}
	return strs(v)
}

func strs(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
