package test

import (
	"encoding/json"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"
)

// policyDoc is an IAM policy as AWS returns it; Action, Resource and condition values
// may each be a string or a list.
type policyDoc struct {
	Statement []policyStatement
}

type policyStatement struct {
	Sid       string
	Effect    string
	Principal any
	Action    stringList
	Resource  stringList
	Condition map[string]map[string]stringList
}

type stringList []string

func (s *stringList) UnmarshalJSON(b []byte) error {
	var one string
	if json.Unmarshal(b, &one) == nil {
		*s = []string{one}
		return nil
	}
	var many []string
	err := json.Unmarshal(b, &many)
	*s = many
	return err
}

// parsePolicy decodes a policy document, URL-decoding it first if needed (IAM returns
// inline role policies URL-encoded).
func parsePolicy(t *testing.T, raw string) map[string]policyStatement {
	t.Helper()
	if dec, err := url.QueryUnescape(raw); err == nil && json.Valid([]byte(dec)) {
		raw = dec
	}
	var doc policyDoc
	require.NoError(t, json.Unmarshal([]byte(raw), &doc), raw)
	out := map[string]policyStatement{}
	for _, s := range doc.Statement {
		out[s.Sid] = s
	}
	return out
}
