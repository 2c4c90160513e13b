package grant_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/constructs/encryptionkey"
	"github.com/acme/module-registry/constructs/iampolicy"
	"github.com/acme/module-registry/constructs/internal/grant"
	"github.com/acme/module-registry/constructs/internal/synthtest"
	"github.com/acme/module-registry/constructs/internal/validation"
)

const keyArn = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"

func TestGrantNumbersPoliciesAndExtendsToTheKey(t *testing.T) {
	stack := synthtest.NewStack(t)
	key := encryptionkey.FromKeyArn(stack, "Key", keyArn)
	role := synthtest.Role(stack, "Reader")
	g := grant.New(stack)
	read := iampolicy.Statement{Sid: "ReadThings", Actions: []string{"s3:GetObject"}, Resources: []string{"arn:aws:s3:::b/*"}}
	require.True(t, g.Grant(grant.Request{Kind: "Read", Role: role, Statements: []iampolicy.Statement{read}, Key: key, KeyUse: grant.Decrypt, Via: "s3"}))
	require.True(t, g.Grant(grant.Request{Kind: "Read", Role: role, Statements: []iampolicy.Statement{read}}))
	validation.Register(stack, g.Validate)

	r := synthtest.Synth(t, stack)
	policies := r.Resources("aws_iam_role_policy")
	var prefixes []string
	for _, p := range policies {
		prefixes = append(prefixes, p["name_prefix"].(string))
	}
	assert.ElementsMatch(t, []string{"GrantReadReader1-", "GrantReadReader2-", "GrantDecryptReader1-"}, prefixes,
		"two numbered grants and the key's own")
	var kms []map[string]any
	for _, p := range policies {
		for _, st := range r.PolicyStatements(t, p["policy"]) {
			if st["sid"] == "UseKeyDecrypt" {
				kms = append(kms, st)
			}
		}
	}
	require.Len(t, kms, 1, "the key grant is made once, for the grant that asked")
	via := synthtest.Conditions(kms[0])["StringEquals kms:ViaService"]
	require.Len(t, via, 1)
	assert.True(t, strings.HasPrefix(via[0], "s3."), "only through S3: %s", via[0])
}

func TestNilRoleIsASynthError(t *testing.T) {
	stack := synthtest.NewStack(t)
	g := grant.New(stack)
	assert.False(t, g.Grant(grant.Request{Kind: "Read"}))
	assert.False(t, g.Grant(grant.Request{Kind: "Read", Prop: "Users().GrantRead"}))
	validation.Register(stack, g.Validate)
	errs := strings.Join(synthtest.ValidationErrors(t, stack), "\n")
	assert.Contains(t, errs, "GrantRead: role is nil")
	assert.Contains(t, errs, "Users().GrantRead: role is nil")
}
