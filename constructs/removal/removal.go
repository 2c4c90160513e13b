// Package removal is the one teardown setting of every construct in this module that
// holds data, in the style of aws-cdk's RemovalPolicy: what `terraform destroy` may do to
// a bucket with objects, a table, a secret, an image repository or a load balancer.
//
// The zero value, Retain, keeps every protection; Destroy is for local and test stacks
// that must tear down completely and be redeployable under the same names at once:
//
//	securebucket.New(stack, "Scratch", &securebucket.Props{EncryptionKey: key, RemovalPolicy: removal.Destroy})
package removal

import "fmt"

// Policy says whether destroying a stack may delete a resource's data.
type Policy int

const (
	// Retain keeps every protection (the default): destroy fails on a bucket that still
	// holds objects, an image repository that still holds images, a table or a load
	// balancer with deletion protection; a deleted secret stays recoverable for its
	// recovery window.
	Retain Policy = iota
	// Destroy lifts those protections: destroy empties and deletes buckets and
	// repositories, deletes tables and load balancers, and deletes secrets without a
	// recovery window.
	Destroy
)

// Destroys reports whether p lets destroy delete data.
func (p Policy) Destroys() bool { return p == Destroy }

// String is "Retain" or "Destroy".
func (p Policy) String() string {
	switch p {
	case Retain:
		return "Retain"
	case Destroy:
		return "Destroy"
	}
	return fmt.Sprintf("Policy(%d)", int(p))
}

// Validate reports a value that is neither Retain nor Destroy.
func (p Policy) Validate() error {
	if p != Retain && p != Destroy {
		return fmt.Errorf("%v is not removal.Retain or removal.Destroy", p)
	}
	return nil
}
