package smoke

import (
	"os"
	"testing"

	"github.com/acme/module-registry/runtime/validator"
)

// TestMain lets the test binary serve as the validator sandbox's child.
func TestMain(m *testing.M) {
	validator.ChildMain()
	os.Exit(m.Run())
}
