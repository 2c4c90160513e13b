package removal_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/acme/module-registry/constructs/removal"
)

func TestZeroValueRetains(t *testing.T) {
	var p removal.Policy
	assert.Equal(t, removal.Retain, p)
	assert.False(t, p.Destroys())
	assert.True(t, removal.Destroy.Destroys())
	assert.NoError(t, removal.Retain.Validate())
	assert.NoError(t, removal.Destroy.Validate())
	assert.EqualError(t, removal.Policy(7).Validate(), "Policy(7) is not removal.Retain or removal.Destroy")
}

func ExamplePolicy() {
	for _, p := range []removal.Policy{removal.Retain, removal.Destroy} {
		fmt.Printf("%v: destroy deletes data: %t\n", p, p.Destroys())
	}
	// Output:
	// Retain: destroy deletes data: false
	// Destroy: destroy deletes data: true
}
