package defaults_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/acme/module-registry/constructs/internal/defaults"
)

type props struct {
	Name  string
	Days  int
	Ratio float64
}

func TestCopyAndSet(t *testing.T) {
	assert.Equal(t, props{}, defaults.Copy[props](nil))
	given := &props{Name: "mine"}
	p := defaults.Copy(given)
	defaults.Set(&p.Name, "default")
	defaults.Set(&p.Days, 7)
	defaults.Set(&p.Ratio, 0.5)
	assert.Equal(t, props{Name: "mine", Days: 7, Ratio: 0.5}, p, "only zero fields take the default")
	assert.Equal(t, props{Name: "mine"}, *given, "the caller's props are left alone")
}
