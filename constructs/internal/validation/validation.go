// Package validation registers prop checks on constructs so that synth fails listing every
// violation, each prefixed by cdktf with the construct path, instead of panicking on the first.
package validation

import (
	"fmt"

	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/hashicorp/terraform-cdk-go/cdktf"
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
