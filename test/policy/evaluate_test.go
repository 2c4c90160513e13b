package policy_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/test/policy"
)

const (
	account = "111122223333"
	role    = "arn:aws:iam::111122223333:role/task"
	key     = "arn:aws:kms:us-east-1:111122223333:key/k"
	group   = "arn:aws:logs:us-east-1:111122223333:log-group:/ecs/registry"
)

func doc(t *testing.T, v any) policy.Document {
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

// The evaluator decides identity and resource policies with their conditions, names the
// statement that decided, and honours encryption-context conditions (which the library's
// own context check drops).
func TestEvaluateDecidesWithConditionsAndNamesTheStatement(t *testing.T) {
	keyPolicy := doc(t, map[string]any{"Version": "2012-10-17", "Statement": []any{
		map[string]any{"Sid": "Root", "Effect": "Allow", "Principal": map[string]any{"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"},
		map[string]any{"Sid": "Logs", "Effect": "Allow", "Principal": map[string]any{"Service": "logs.us-east-1.amazonaws.com"}, "Action": "kms:Decrypt", "Resource": "*",
			"Condition": map[string]any{"ArnEquals": map[string]any{"kms:EncryptionContext:aws:logs:arn": group}}},
	}})
	bucketPolicy := doc(t, map[string]any{"Version": "2012-10-17", "Statement": []any{
		map[string]any{"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::b/*",
			"Condition": map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}}},
	}})
	p := policy.Policies{
		Identity: map[string][]policy.NamedPolicy{role: {{Name: "task", Policy: doc(t, map[string]any{"Version": "2012-10-17", "Statement": []any{
			map[string]any{"Sid": "UseKeyDecrypt", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": key,
				"Condition": map[string]any{"StringEquals": map[string]any{"kms:ViaService": "s3.us-east-1.amazonaws.com"}}},
			map[string]any{"Sid": "ObjectsRead", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/packages/*"},
		}})}}},
		Resource: func(r string) policy.Document {
			if r == key {
				return keyPolicy
			}
			return bucketPolicy
		},
	}
	via := func(service string) map[string][]string {
		return map[string][]string{"kms:ViaService": {service + ".us-east-1.amazonaws.com"}}
	}
	calls := []policy.Call{
		{Principal: role, Action: "kms:Decrypt", Resource: key, Context: via("s3")},
		{Principal: role, Action: "kms:Decrypt", Resource: key, Context: via("dynamodb")},
		{Principal: role, Action: "s3:GetObject", Resource: "arn:aws:s3:::b/packages/x", Context: map[string][]string{"aws:SecureTransport": {"true"}}},
		{Principal: role, Action: "s3:GetObject", Resource: "arn:aws:s3:::b/packages/x", Context: map[string][]string{"aws:SecureTransport": {"false"}}},
		{Principal: "logs.us-east-1.amazonaws.com", Action: "kms:Decrypt", Resource: key, Context: map[string][]string{"kms:EncryptionContext:aws:logs:arn": {group}}},
		{Principal: "logs.us-east-1.amazonaws.com", Action: "kms:Decrypt", Resource: key, Context: map[string][]string{"kms:EncryptionContext:aws:logs:arn": {group + "-other"}}},
	}
	d, err := policy.Evaluate(p, account, calls)
	require.NoError(t, err)
	var got []string
	for _, x := range d {
		got = append(got, x.Result+": "+x.Decided())
	}
	assert.Equal(t, []string{
		"Allowed: identity policy task statement UseKeyDecrypt; resource policy statement Root",
		"ImplicitlyDenied: no statement of the identity policy allows it",
		"Allowed: identity policy task statement ObjectsRead",
		"ExplicitlyDenied: resource policy statement DenyInsecureTransport",
		"Allowed: resource policy statement Logs",
		"ImplicitlyDenied: no statement of the identity policy allows it; no statement of the resource policy allows it",
	}, got)
}

func TestEvaluateRefusesAnUnknownAction(t *testing.T) {
	_, err := policy.Evaluate(policy.Policies{}, account, []policy.Call{{Principal: role, Action: "s3:NoSuchAction", Resource: "arn:aws:s3:::b/k"}})
	assert.ErrorContains(t, err, "the evaluator refused")
}
