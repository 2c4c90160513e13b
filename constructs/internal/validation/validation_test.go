package validation

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/acme/module-registry/constructs/removal"
)

func TestPascalCase(t *testing.T) {
	assert.Equal(t, "AcmeAuditTrail", PascalCase("acme-audit-trail"))
	assert.Equal(t, "EcrApi", PascalCase("ecr.api"))
	assert.Equal(t, "Team2Trail", PascalCase("--team2_trail"))
}

func TestChecks(t *testing.T) {
	var e Errors
	e.CheckLogRetention("LogRetentionDays", 90)
	e.CheckRemovalPolicy(removal.Destroy)
	assert.Empty(t, e.List())
	e.CheckLogRetention("LogRetentionDays", 2)
	e.CheckRemovalPolicy(removal.Policy(3))
	assert.Equal(t, []string{
		"LogRetentionDays: 2 is not a retention CloudWatch Logs accepts; use one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653",
		"RemovalPolicy: Policy(3) is not removal.Retain or removal.Destroy",
	}, e.List())
	assert.True(t, IsEnvVarName("JWT_SECRET"))
	assert.False(t, IsEnvVarName("1X"))
}
