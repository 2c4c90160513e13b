package compliance

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/hashicorp/terraform-cdk-go/cdktf"
)

// Aspect enforces Check at synth: every stack it visits gets a validation that reads the
// stack's own Terraform JSON, so synth fails listing every violation at once. Add it to
// each stack (cdktf runs aspects stack by stack, so one added to the App never runs):
//
//	compliance.Apply(stack, compliance.Options{})
type Aspect struct {
	opts Options
	mu   sync.Mutex
	seen map[string]bool
}

// NewAspect returns an aspect enforcing Check with opts.
func NewAspect(opts Options) *Aspect { return &Aspect{opts: opts, seen: map[string]bool{}} }

// Apply adds NewAspect(opts) to stack.
func Apply(stack cdktf.TerraformStack, opts Options) {
	cdktf.Aspects_Of(stack).Add(NewAspect(opts))
}

// Visit implements cdktf.IAspect.
func (a *Aspect) Visit(node constructs.IConstruct) {
	if !*cdktf.TerraformStack_IsStack(node) {
		return
	}
	stack := cdktf.TerraformStack_Of(node)
	path := *stack.Node().Path()
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.seen[path] { // aspects run on every synth; validate once
		return
	}
	a.seen[path] = true
	stack.Node().AddValidation(&stackCheck{stack: stack, opts: a.opts})
}

type stackCheck struct {
	stack cdktf.TerraformStack
	opts  Options
}

// Validate implements constructs.IValidation.
func (s *stackCheck) Validate() *[]*string {
	body, err := json.Marshal(s.stack.ToTerraform())
	if err != nil {
		return jsii.Strings(fmt.Sprintf("compliance: cannot read the stack: %v", err))
	}
	violations, err := Check(body, s.opts)
	if err != nil { // one message per line, as for violations (errors.Join puts one per line)
		return jsii.Strings(strings.Split(err.Error(), "\n")...)
	}
	out := make([]string, len(violations))
	for i, v := range violations {
		out[i] = "compliance: " + v.String()
	}
	return jsii.Strings(out...)
}
