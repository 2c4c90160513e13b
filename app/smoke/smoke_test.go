package smoke

import (
	"context"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/runtime/client"
	"github.com/acme/module-registry/runtime/client/clienttest"
)

// On the embedded backend every step up to the presigned URL runs; the lines are the
// ones make up prints.
func TestRunPrintsEachStep(t *testing.T) {
	reg := clienttest.StartValidating(t, nil)
	rep, err := Run(context.Background(), reg.URL, "admin", clienttest.AdminPassword)
	require.ErrorIs(t, err, client.ErrNotImplemented, "the embedded backend has no presigned URLs")
	require.Len(t, rep.Steps, 7)
	assert.Equal(t, "GET /health: 200", rep.Steps[0])
	assert.Equal(t, "PUT /authenticate as admin: token issued", rep.Steps[1])
	assert.Regexp(t, regexp.MustCompile(`^PUT /packages/smoke-test/1\.0\.\d+: 201, sha256 `+rep.SHA256+` \(262144 bytes\)$`), rep.Steps[2])
	assert.Equal(t, "GET /packages?name=smoke-test: listed with its hash", rep.Steps[3])
	assert.Equal(t, "GET /packages/"+rep.Package+"?expected_hash=...: 200, content verified", rep.Steps[4])
	assert.Equal(t, "PUT /packages/"+rep.Package+"/validator (allows only admin), GET: 200, content verified", rep.Steps[5])
	assert.Equal(t, `PUT /packages/`+rep.Package+`/validator (denies admin), GET: 403 "the package's validator denied the download: admin is blocked from smoke-test"`, rep.Steps[6])

	_, err = Run(context.Background(), reg.URL, "admin", "wrong-password-1")
	assert.ErrorIs(t, err, client.ErrUnauthorized)
}

// A registry that does not run validators fails the sequence at the validator step.
func TestRunFailsWithoutValidators(t *testing.T) {
	reg := clienttest.Start(t, nil)
	rep, err := Run(context.Background(), reg.URL, "admin", clienttest.AdminPassword)
	require.ErrorIs(t, err, client.ErrNotImplemented)
	assert.Contains(t, err.Error(), "/validator")
	assert.Len(t, rep.Steps, 5, "every step before the validators passed")
}

func TestValidatorsDecideByName(t *testing.T) {
	assert.Contains(t, AllowOnly(`a"b`), `input.user.name === "a\"b"`, "the name is a JSON string literal")
	assert.Contains(t, DenyOnly("ci"), `input.user.name === "ci") return {allow: false`)
}
