// Package synthtest synthesizes constructs in a throwaway stack and gives tests the
// resulting Terraform JSON to assert on, plus the validation errors synth reports.
package synthtest

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/aws/jsii-runtime-go"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/iamrole"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/provider"
	"github.com/hashicorp/terraform-cdk-go/cdktf"
)

// NewStack returns an empty stack with an AWS provider, ready for one construct.
func NewStack(t testing.TB) cdktf.TerraformStack {
	t.Helper()
	app := cdktf.Testing_App(&cdktf.TestingAppConfig{Outdir: jsii.String(t.TempDir()), StackTraces: jsii.Bool(false)})
	stack := cdktf.NewTerraformStack(app, jsii.String("test"))
	provider.NewAwsProvider(stack, jsii.String("aws"), &provider.AwsProviderConfig{Region: jsii.String("us-east-1")})
	return stack
}

// Result is a synthesized stack.
type Result struct {
	Raw  string
	Tree map[string]any
}

// Synth synthesizes stack with validations and fails the test if any fail.
func Synth(t testing.TB, stack cdktf.TerraformStack) *Result {
	t.Helper()
	raw, err := synth(stack)
	if err != nil {
		t.Fatalf("synth failed: %v", err)
	}
	r := &Result{Raw: raw}
	if err := json.Unmarshal([]byte(raw), &r.Tree); err != nil {
		t.Fatalf("synth produced invalid JSON: %v", err)
	}
	return r
}

// ValidationErrors synthesizes stack expecting validation to fail and returns each
// reported violation ("[construct/path] Prop: message"). It fails the test if synth passes.
func ValidationErrors(t testing.TB, stack cdktf.TerraformStack) []string {
	t.Helper()
	_, err := synth(stack)
	if err == nil {
		t.Fatalf("synth passed, expected validation errors")
	}
	var out []string
	for _, line := range strings.Split(err.Error(), "\n") {
		if line = strings.TrimSpace(line); strings.HasPrefix(line, "[") {
			out = append(out, line)
		}
	}
	if len(out) == 0 {
		t.Fatalf("synth failed without validation messages: %v", err)
	}
	return out
}

func synth(stack cdktf.TerraformStack) (raw string, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	return *cdktf.Testing_Synth(stack, jsii.Bool(true)), nil
}

func (r *Result) section(kind, typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	sec, _ := r.Tree[kind].(map[string]any)
	byType, _ := sec[typ].(map[string]any)
	for name, v := range byType {
		if m, ok := v.(map[string]any); ok {
			out[name] = m
		}
	}
	return out
}

// Resources returns every resource of typ by logical name.
func (r *Result) Resources(typ string) map[string]map[string]any { return r.section("resource", typ) }

// DataSources returns every data source of typ by logical name.
func (r *Result) DataSources(typ string) map[string]map[string]any { return r.section("data", typ) }

// Resource returns the only resource of typ, failing the test if there is not exactly one.
func (r *Result) Resource(t testing.TB, typ string) map[string]any {
	t.Helper()
	all := r.Resources(typ)
	if len(all) != 1 {
		t.Fatalf("want exactly one %s, got %d: %v", typ, len(all), keys(all))
	}
	for _, v := range all {
		return v
	}
	return nil
}

// ResourceOf returns the only resource of typ that the construct with id constructID,
// a child of the stack, created (cdktf starts its logical name with the id), failing
// the test if there is not exactly one: what a test needs once other constructs (a
// stack's access-log bucket, say) add resources of the same type.
func (r *Result) ResourceOf(t testing.TB, typ, constructID string) map[string]any {
	t.Helper()
	var found []map[string]any
	var names []string
	for name, body := range r.Resources(typ) {
		if strings.HasPrefix(name, constructID+"_") {
			found = append(found, body)
			names = append(names, name)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want exactly one %s of construct %s, got %d: %v (all: %v)", typ, constructID, len(found), names, keys(r.Resources(typ)))
	}
	return found[0]
}

var docRef = regexp.MustCompile(`^\$\{data\.aws_iam_policy_document\.([^.]+)\.json\}$`)

// PolicyStatements resolves a reference like "${data.aws_iam_policy_document.X.json}" to
// that document's statements.
func (r *Result) PolicyStatements(t testing.TB, ref any) []map[string]any {
	t.Helper()
	s, _ := ref.(string)
	m := docRef.FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("%v is not a reference to an aws_iam_policy_document", ref)
	}
	doc, ok := r.DataSources("aws_iam_policy_document")[m[1]]
	if !ok {
		t.Fatalf("policy document %s not found", m[1])
	}
	return Statements(doc)
}

// Statements returns the statements of an aws_iam_policy_document data source.
func Statements(doc map[string]any) []map[string]any {
	list, _ := doc["statement"].([]any)
	out := make([]map[string]any, 0, len(list))
	for _, s := range list {
		if m, ok := s.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// BySid indexes statements by Sid.
func BySid(statements []map[string]any) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, s := range statements {
		sid, _ := s["sid"].(string)
		out[sid] = s
	}
	return out
}

// Conditions flattens a statement's conditions to "Test Variable" -> values.
func Conditions(statement map[string]any) map[string][]string {
	out := map[string][]string{}
	list, _ := statement["condition"].([]any)
	for _, c := range list {
		m, _ := c.(map[string]any)
		k := fmt.Sprintf("%v %v", m["test"], m["variable"])
		out[k] = append(out[k], Strings(m["values"])...)
	}
	return out
}

// Strings converts a JSON list to strings.
func Strings(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		out = append(out, fmt.Sprint(x))
	}
	return out
}

func keys(m map[string]map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Print synthesizes stack (running its validations) and prints, for every resource of typ
// in logical-name order, "typ attr: value" for each of attrs, so Examples can show what a
// construct deploys. A failed synth prints its error instead.
func Print(stack cdktf.TerraformStack, typ string, attrs ...string) {
	raw, err := synth(stack)
	if err != nil {
		fmt.Println("synth failed:", err)
		return
	}
	r := &Result{Raw: raw}
	if err := json.Unmarshal([]byte(raw), &r.Tree); err != nil {
		fmt.Println("synth produced invalid JSON:", err)
		return
	}
	all := r.Resources(typ)
	for _, name := range keys(all) {
		for _, a := range attrs {
			v, _ := json.Marshal(all[name][a])
			fmt.Printf("%s %s: %s\n", typ, a, v)
		}
	}
}

// ExampleStack is a stack of a new app with the AWS provider in us-east-1, what every
// Example builds on.
func ExampleStack(id string) cdktf.TerraformStack {
	stack := cdktf.NewTerraformStack(cdktf.NewApp(nil), jsii.String(id))
	provider.NewAwsProvider(stack, jsii.String("aws"), &provider.AwsProviderConfig{Region: jsii.String("us-east-1")})
	return stack
}

// Role is an IAM role to hand grants to, as the role of a service would be.
func Role(stack cdktf.TerraformStack, id string) iamrole.IamRole {
	return iamrole.NewIamRole(stack, jsii.String(id), &iamrole.IamRoleConfig{AssumeRolePolicy: jsii.String("{}")})
}
