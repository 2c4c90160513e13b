package validator_test

import (
	"context"
	"fmt"
	"time"

	"github.com/acme/module-registry/runtime/validator"
)

// A validator that lets only one user download. The binary's main (here, the test
// binary's TestMain) calls validator.ChildMain first, so the pool can re-execute it
// as the sandbox.
func ExamplePool_Run() {
	pool, err := validator.New(validator.Config{Size: 2, Deadline: 2 * time.Second})
	if err != nil {
		fmt.Println(err)
		return
	}
	src := []byte(`
function validate(input) {
  if (input.user.name === "alice") return {allow: true, reason: "alice may"};
  return {allow: false, reason: input.user.name + " may not download " + input.package.name};
}`)
	for _, user := range []string{"alice", "bob"} {
		res, err := pool.Run(context.Background(), src, validator.Input{
			Package: validator.Package{Name: "hello", Version: "1.0.0"},
			User:    validator.User{Name: user},
			Request: validator.Request{Kind: validator.RequestDownload, Time: time.Now()},
		})
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%s: %s (%s)\n", user, res.Outcome, res.Reason)
	}
	// Output:
	// alice: allowed (alice may)
	// bob: denied (bob may not download hello)
}

func ExamplePool_Check() {
	pool, err := validator.New(validator.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(pool.Check(context.Background(), []byte(`function validate(input) { return {allow: true `)))
	fmt.Println(pool.Check(context.Background(), []byte(`function check(input) { return {allow: true} }`)))
	// Output:
	// SyntaxError: validator.js: Line 1:48 Unexpected end of input (and 3 more errors)
	// the validator must declare a top-level function validate(input)
}
