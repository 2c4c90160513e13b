// Package validation registers prop checks on constructs so that synth fails listing every
// violation, each prefixed by cdktf with the construct path, instead of panicking on the first.
package validation

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/hashicorp/terraform-cdk-go/cdktf"

	"github.com/acme/module-registry/constructs/removal"
)

// Errors collects violations, each naming the prop it concerns.
type Errors struct{ list []string }

// Addf records a violation of prop.
func (e *Errors) Addf(prop, format string, args ...any) {
	e.list = append(e.list, fmt.Sprintf("%s: %s", prop, fmt.Sprintf(format, args...)))
}

// Merge appends other's violations.
func (e *Errors) Merge(other *Errors) { e.list = append(e.list, other.list...) }

// List returns the violations recorded so far.
func (e *Errors) List() []string { return e.list }

// IsToken reports whether s is an unresolved cdktf token (a reference known only at
// deploy time), which validation must leave alone.
func IsToken(s string) bool { return *cdktf.Token_IsUnresolved(jsii.String(s)) }

type check struct{ run func(*Errors) }

// Validate implements constructs.IValidation.
func (c check) Validate() *[]*string {
	var e Errors
	c.run(&e)
	return jsii.Strings(e.list...)
}

// Register runs fn during synth validation of c. fn runs late, so it sees everything
// added to the construct after New returned.
func Register(c constructs.Construct, fn func(*Errors)) {
	c.Node().AddValidation(&check{run: fn})
}

// PascalCase turns a resource name into letters and digits for statement and construct
// ids, so two copies of a construct add distinct ones: "acme-audit-trail" ->
// "AcmeAuditTrail", "ecr.api" -> "EcrApi".
func PascalCase(name string) string {
	var b strings.Builder
	for _, part := range nonAlnum.Split(name, -1) {
		if part != "" {
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String()
}

var nonAlnum = regexp.MustCompile(`[^A-Za-z0-9]+`)

// LogRetentionDays are the values CloudWatch Logs accepts for a log group's retention.
var LogRetentionDays = []int{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}

// CheckLogRetention records a violation of prop unless days is one of LogRetentionDays.
func (e *Errors) CheckLogRetention(prop string, days int) {
	if !slices.Contains(LogRetentionDays, days) {
		e.Addf(prop, "%d is not a retention CloudWatch Logs accepts; use one of %s", days, joinInts(LogRetentionDays))
	}
}

var managedPolicyArn = regexp.MustCompile(`^arn:aws[a-z-]*:iam::(aws|[0-9]{12}):policy/[A-Za-z0-9+=,.@_/-]+$`)

// ManagedPolicyArn reports arn unless it names a managed policy, AWS's
// (arn:aws:iam::aws:policy/...) or an account's.
func ManagedPolicyArn(arn string) error {
	if !managedPolicyArn.MatchString(arn) {
		return fmt.Errorf("%q is not a managed policy ARN (arn:aws:iam::aws:policy/<name> or arn:aws:iam::<account>:policy/<name>)", arn)
	}
	return nil
}

// CheckManagedPolicyArn records a violation of prop unless arn names a managed policy.
func (e *Errors) CheckManagedPolicyArn(prop, arn string) {
	if err := ManagedPolicyArn(arn); err != nil {
		e.Addf(prop, "%v", err)
	}
}

var envVarName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// IsEnvVarName reports whether name can name an environment variable.
func IsEnvVarName(name string) bool { return envVarName.MatchString(name) }

// CheckRemovalPolicy records a violation of the RemovalPolicy prop unless p is
// removal.Retain or removal.Destroy.
func (e *Errors) CheckRemovalPolicy(p removal.Policy) {
	if err := p.Validate(); err != nil {
		e.Addf("RemovalPolicy", "%v", err)
	}
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ", ")
}
