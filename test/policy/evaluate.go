package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// Document is an IAM policy document as AWS stores it.
type Document = json.RawMessage

// NamedPolicy is one identity policy attached to a principal.
type NamedPolicy struct {
	Name   string   `json:"name"`
	Policy Document `json:"policy"`
}

// Policies are the policies that decide a call: each principal's identity policies, and
// the resource policy of each resource (a bucket's for its objects, a key's, a role's
// trust policy for sts:AssumeRole).
type Policies struct {
	Identity map[string][]NamedPolicy
	// Resource returns the resource policy that applies to resource (nil for none).
	Resource func(resource string) Document
}

// Decision is the evaluator's answer for one call.
type Decision struct {
	Call   Call
	Result string // Allowed, ExplicitlyDenied or ImplicitlyDenied
	// Grants are the statements that allowed it, Denials the reasons it was refused.
	Grants  []Reason
	Denials []Reason
	// IgnoredContextKeys are context keys the evaluator dropped as not applying to the
	// action: a sign the call's context is wrong.
	IgnoredContextKeys []string
}

// Reason names the policy statement behind a decision.
type Reason struct {
	PolicyType       string `json:"policyType"`
	PolicyIdentifier string `json:"policyIdentifier"`
	StatementID      string `json:"statementId"`
	StatementIndex   int    `json:"statementIndex"`
	DenialType       string `json:"denialType"`
}

func (r Reason) String() string {
	where := r.PolicyType + " policy"
	if r.PolicyIdentifier != "" {
		where += " " + r.PolicyIdentifier
	}
	switch {
	case r.StatementID != "":
		return where + " statement " + r.StatementID
	case r.DenialType == "Implicit":
		return "no statement of the " + where + " allows it"
	default:
		return fmt.Sprintf("%s statement %d", where, r.StatementIndex)
	}
}

// Allowed reports whether the call is allowed.
func (d Decision) Allowed() bool { return d.Result == "Allowed" }

// Decided names what decided the call: the allowing statements, or the denial.
func (d Decision) Decided() string {
	reasons := d.Grants
	if !d.Allowed() {
		reasons = d.Denials
	}
	var out []string
	for _, r := range reasons {
		out = append(out, r.String())
	}
	return strings.Join(out, "; ")
}

// Evaluate decides every call with tools/iam-simulate.mjs, in one run of node.
func Evaluate(p Policies, account string, calls []Call) ([]Decision, error) {
	type simulation struct {
		Name             string              `json:"name"`
		Principal        string              `json:"principal"`
		Action           string              `json:"action"`
		Resource         string              `json:"resource"`
		Account          string              `json:"account"`
		Context          map[string][]string `json:"context"`
		IdentityPolicies []NamedPolicy       `json:"identityPolicies"`
		ResourcePolicy   Document            `json:"resourcePolicy,omitempty"`
	}
	sims := make([]simulation, len(calls))
	for i, c := range calls {
		sims[i] = simulation{
			Name: fmt.Sprint(i), Principal: c.Principal, Action: c.Action, Resource: c.Resource, Account: account,
			Context: c.Context, IdentityPolicies: p.Identity[c.Principal],
		}
		if sims[i].IdentityPolicies == nil {
			sims[i].IdentityPolicies = []NamedPolicy{}
		}
		if p.Resource != nil {
			sims[i].ResourcePolicy = p.Resource(c.Resource)
		}
	}
	in, err := json.Marshal(sims)
	if err != nil {
		return nil, err
	}
	script, err := evaluator()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("node", script)
	cmd.Dir = filepath.Dir(script)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("node %s: %v: %s", script, err, stderr.String())
	}
	var raw []struct {
		Result             string   `json:"result"`
		Error              string   `json:"error"`
		Grants             []Reason `json:"grants"`
		Denials            []Reason `json:"denials"`
		IgnoredContextKeys []string `json:"ignoredContextKeys"`
	}
	if err := json.Unmarshal(out, &raw); err != nil {
		return nil, fmt.Errorf("evaluator output: %v", err)
	}
	if len(raw) != len(calls) {
		return nil, fmt.Errorf("evaluator answered %d of %d calls", len(raw), len(calls))
	}
	decisions := make([]Decision, len(calls))
	var errs []string
	for i, r := range raw {
		if r.Error != "" {
			errs = append(errs, fmt.Sprintf("%s: %s", calls[i], r.Error))
		}
		decisions[i] = Decision{Call: calls[i], Result: r.Result, Grants: r.Grants, Denials: r.Denials, IgnoredContextKeys: r.IgnoredContextKeys}
	}
	if len(errs) > 0 {
		return decisions, fmt.Errorf("the evaluator refused these simulations:\n  %s", strings.Join(errs, "\n  "))
	}
	return decisions, nil
}

// evaluator finds tools/iam-simulate.mjs and checks its dependency is installed.
func evaluator() (string, error) {
	_, file, _, _ := runtime.Caller(0)
	tools := filepath.Join(filepath.Dir(file), "..", "..", "tools")
	script := filepath.Join(tools, "iam-simulate.mjs")
	if _, err := os.Stat(filepath.Join(tools, "node_modules", "@cloud-copilot", "iam-simulate")); err != nil {
		return "", fmt.Errorf("the IAM policy evaluator is not installed: run `make tools` (npm ci in tools/)")
	}
	if _, err := exec.LookPath("node"); err != nil {
		return "", fmt.Errorf("node is not on PATH: install Node.js 20 or newer")
	}
	return script, nil
}
