package moduleaddr

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPackageName(t *testing.T) {
	a, err := Parse("Acme/VPC/AWS")
	require.NoError(t, err)
	assert.Equal(t, Address{"acme", "vpc", "aws"}, a)
	assert.Equal(t, "acme/vpc/aws", a.String())
	assert.Equal(t, "tfmodule.acme.vpc.aws", a.PackageName())
	a, err = New("my_team", "eks-cluster", "azurerm")
	require.NoError(t, err)
	assert.Equal(t, "tfmodule.my_team.eks-cluster.azurerm", a.PackageName())
}

func TestInvalidAddresses(t *testing.T) {
	long := strings.Repeat("a", 64)
	for _, s := range []string{"", "acme/vpc", "registry.acme.internal/acme/vpc/aws", "a.b/vpc/aws", "-acme/vpc/aws",
		"acme/vpc-/aws", "acme/vpc/a-b", "acme/vpc/a_b", "acme/v pc/aws", "acme//aws", strings.Repeat("a", 65) + "/vpc/aws",
		long + "/" + long + "/aws"} {
		_, err := Parse(s)
		assert.Error(t, err, "%q", s)
	}
	_, err := New("-x", "y.", "a-b")
	require.Error(t, err)
	for _, part := range []string{"namespace", "module name", "target system"} {
		assert.Contains(t, err.Error(), part, "every bad part is named")
	}
}

func TestVersions(t *testing.T) {
	for _, v := range []string{"0.0.0", "1.2.3", "10.20.30", "1.0.0-rc.1", "1.0.0-alpha-beta", "1.0.0+build.5", "2.0.0-rc.1+sha.abc"} {
		assert.True(t, ValidVersion(v), v)
	}
	for _, v := range []string{"", "1", "1.2", "v1.2.3", "01.2.3", "1.2.3-", "1.2.3-01", "1.2.3+", "latest", "1.2.3.4", strings.Repeat("1", 70) + ".0.0"} {
		assert.False(t, ValidVersion(v), v)
		assert.Error(t, CheckVersion(v), v)
	}
}
