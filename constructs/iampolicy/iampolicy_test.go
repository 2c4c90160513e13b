package iampolicy_test

import (
	"testing"

	"github.com/hashicorp/terraform-cdk-go/cdktf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/constructs/iampolicy"
	"github.com/acme/module-registry/constructs/internal/synthtest"
)

// document synthesizes stack and returns the statements of its policy document id.
func document(t *testing.T, stack cdktf.TerraformStack, id string) []map[string]any {
	t.Helper()
	docs := synthtest.Synth(t, stack).DataSources("aws_iam_policy_document")
	doc, ok := docs[id]
	require.True(t, ok, "no aws_iam_policy_document %s in %v", id, docs)
	return synthtest.Statements(doc)
}

func TestNewDocumentRendersTypedStatements(t *testing.T) {
	stack := synthtest.NewStack(t)
	iampolicy.NewDocument(stack, "Doc", iampolicy.Statement{
		Sid:        "DenyPlainHTTP",
		Effect:     iampolicy.Deny,
		Principals: []iampolicy.Principal{iampolicy.Everyone()},
		Actions:    []string{"s3:*"},
		Resources:  []string{"arn:aws:s3:::b", "arn:aws:s3:::b/*"},
		Conditions: []iampolicy.Condition{{Test: "Bool", Variable: "aws:SecureTransport", Values: []string{"false"}}},
	}, iampolicy.Statement{
		Actions:    []string{"kms:Decrypt"},
		Principals: []iampolicy.Principal{iampolicy.ServicePrincipal("logs.amazonaws.com"), iampolicy.AWSPrincipal("arn:aws:iam::111122223333:root")},
		Conditions: []iampolicy.Condition{
			iampolicy.StringEquals("kms:ViaService", "s3.us-east-1.amazonaws.com"),
			iampolicy.ArnLike("aws:SourceArn", "arn:aws:logs:us-east-1:111122223333:*"),
		},
	})

	sts := document(t, stack, "Doc")
	require.Len(t, sts, 2)
	assert.Equal(t, map[string]any{
		"sid":        "DenyPlainHTTP",
		"effect":     "Deny",
		"actions":    []any{"s3:*"},
		"resources":  []any{"arn:aws:s3:::b", "arn:aws:s3:::b/*"},
		"principals": []any{map[string]any{"type": "*", "identifiers": []any{"*"}}},
		"condition":  []any{map[string]any{"test": "Bool", "variable": "aws:SecureTransport", "values": []any{"false"}}},
	}, sts[0])

	second := sts[1]
	assert.Equal(t, "Allow", second["effect"], "Effect defaults to Allow")
	assert.NotContains(t, second, "sid", "no Sid, no sid")
	assert.NotContains(t, second, "resources", "no Resources, no resources (a key policy's statements may omit them)")
	assert.Equal(t, []any{
		map[string]any{"type": "Service", "identifiers": []any{"logs.amazonaws.com"}},
		map[string]any{"type": "AWS", "identifiers": []any{"arn:aws:iam::111122223333:root"}},
	}, second["principals"])
	assert.Equal(t, map[string][]string{
		"StringEquals kms:ViaService": {"s3.us-east-1.amazonaws.com"},
		"ArnLike aws:SourceArn":       {"arn:aws:logs:us-east-1:111122223333:*"},
	}, synthtest.Conditions(second))
}

func TestAddAppendsAndReplacesBySid(t *testing.T) {
	stack := synthtest.NewStack(t)
	doc := iampolicy.NewDocument(stack, "Doc",
		iampolicy.Statement{Sid: "Read", Actions: []string{"s3:GetObject"}},
		iampolicy.Statement{Actions: []string{"s3:ListBucket"}})
	doc.Add(iampolicy.Statement{Sid: "Write", Actions: []string{"s3:PutObject"}})
	doc.Add(iampolicy.Statement{Sid: "Read", Actions: []string{"s3:GetObject", "s3:GetObjectVersion"}})
	doc.Add(iampolicy.Statement{Actions: []string{"s3:ListBucketVersions"}})

	sts := document(t, stack, "Doc")
	var got [][]string
	for _, s := range sts {
		sid, _ := s["sid"].(string)
		got = append(got, append([]string{sid}, synthtest.Strings(s["actions"])...))
	}
	assert.Equal(t, [][]string{
		{"Read", "s3:GetObject", "s3:GetObjectVersion"}, // replaced in place
		{"", "s3:ListBucket"},
		{"Write", "s3:PutObject"},
		{"", "s3:ListBucketVersions"}, // statements without a Sid never replace each other
	}, got)
	assert.Len(t, doc.Statements(), 4)
}

func TestStatementsReturnsACopy(t *testing.T) {
	stack := synthtest.NewStack(t)
	doc := iampolicy.NewDocument(stack, "Doc", iampolicy.Statement{Sid: "Read", Actions: []string{"s3:GetObject"}})

	got := doc.Statements()
	got[0] = iampolicy.Statement{Sid: "Changed", Actions: []string{"s3:*"}}
	_ = append(got, iampolicy.Statement{Sid: "Extra"})

	assert.Equal(t, []iampolicy.Statement{{Sid: "Read", Actions: []string{"s3:GetObject"}}}, doc.Statements())
	assert.Equal(t, "Read", document(t, stack, "Doc")[0]["sid"])
}

func TestGrantIDNamesKindRoleAndCount(t *testing.T) {
	stack := synthtest.NewStack(t)
	assert.Equal(t, "GrantReadTaskRole1", iampolicy.GrantID("Read", synthtest.Role(stack, "TaskRole"), 1))
	assert.Equal(t, "GrantReadWriteexecutionrole12", iampolicy.GrantID("ReadWrite", synthtest.Role(stack, "execution-role_1"), 2),
		"characters a construct id allows but a Terraform name does not are dropped")
}

func TestGrantAttachesTheDocumentToTheRole(t *testing.T) {
	stack := synthtest.NewStack(t)
	role := synthtest.Role(stack, "Reader")
	statement := iampolicy.Statement{Sid: "ReadArtifacts", Actions: []string{"s3:GetObject"}, Resources: []string{"arn:aws:s3:::pkg-artifacts/packages/*"}}
	iampolicy.Grant(stack, "GrantReadReader1", role, statement)

	r := synthtest.Synth(t, stack)
	policy := r.Resource(t, "aws_iam_role_policy")
	assert.Equal(t, "${aws_iam_role.Reader.name}", policy["role"])
	assert.Equal(t, "GrantReadReader1-", policy["name_prefix"], "named after the id, so grants never collide")
	assert.Equal(t, "${data.aws_iam_policy_document.GrantReadReader1Document.json}", policy["policy"])
	assert.Equal(t, []map[string]any{{
		"sid":       "ReadArtifacts",
		"effect":    "Allow",
		"actions":   []any{"s3:GetObject"},
		"resources": []any{"arn:aws:s3:::pkg-artifacts/packages/*"},
	}}, r.PolicyStatements(t, policy["policy"]))
}

func TestGrantWithoutARolePanicsNamingTheGrant(t *testing.T) {
	stack := synthtest.NewStack(t)
	assert.PanicsWithValue(t, "iampolicy.Grant(GrantReadTask1): role is nil", func() {
		iampolicy.Grant(stack, "GrantReadTask1", nil, iampolicy.Statement{Actions: []string{"s3:GetObject"}})
	})
}
