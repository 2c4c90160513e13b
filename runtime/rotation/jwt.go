package rotation

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"

	"github.com/acme/module-registry/runtime/contract"
)

// JWTSecretField is the field of the JWT signing secret that rotates; every other field
// (algorithm, expiry, use limit) is kept as it is.
const JWTSecretField = contract.JWTFieldSecret

// MinJWTSecretLength is the shortest signing secret written: 64 characters drawn
// uniformly from 62 letters and digits carry about 381 bits, above the 256 bits required.
const MinJWTSecretLength = 64

// NextJWTValue returns current (the JSON value of the JWT signing secret) with a freshly
// generated jwt_secret of length characters (0: the current length, at least
// MinJWTSecretLength) and every other field unchanged, with its JSON type.
func NextJWTValue(current string, length int) (string, int, error) {
	fields, old, err := jwtFields(current)
	if err != nil {
		return "", 0, err
	}
	if length == 0 {
		length = max(len(old), MinJWTSecretLength)
	}
	if length < MinJWTSecretLength {
		return "", 0, fmt.Errorf("length must be at least %d, got %d", MinJWTSecretLength, length)
	}
	secret, err := Generate(length)
	if err != nil {
		return "", 0, err
	}
	if fields[JWTSecretField], err = json.Marshal(secret); err != nil {
		return "", 0, err
	}
	value, err := json.Marshal(fields)
	return string(value), length, err
}

// jwtFields parses a JWT secret value into its raw fields and the signing secret.
func jwtFields(value string) (map[string]json.RawMessage, string, error) {
	fields := map[string]json.RawMessage{}
	if json.Unmarshal([]byte(value), &fields) != nil {
		return nil, "", fmt.Errorf("the value is not a JSON object")
	}
	var secret string
	if raw, ok := fields[JWTSecretField]; !ok || json.Unmarshal(raw, &secret) != nil {
		return nil, "", fmt.Errorf("the value has no string field %q", JWTSecretField)
	}
	return fields, secret, nil
}

// JWT rotates the JWT signing secret. Nothing needs applying: the runtime signs with
// AWSCURRENT and verifies against AWSCURRENT and AWSPREVIOUS, so tokens signed before a
// rotation stay valid until they expire.
type JWT struct{}

var _ Strategy = JWT{}

// Next generates a new jwt_secret of the current length and keeps the other fields.
func (JWT) Next(current string) (string, error) {
	v, _, err := NextJWTValue(current, 0)
	return v, err
}

// Apply does nothing: consumers read the secret from Secrets Manager.
func (JWT) Apply(context.Context, string) error { return nil }

// Test checks that the pending value is a signing secret the runtime accepts: a long
// enough jwt_secret, different from the current one, and the other fields unchanged.
func (JWT) Test(_ context.Context, current, pending string) error {
	cur, curSecret, err := jwtFields(current)
	if err != nil {
		return fmt.Errorf("rotation: current version: %w", err)
	}
	next, nextSecret, err := jwtFields(pending)
	if err != nil {
		return fmt.Errorf("rotation: pending version: %w", err)
	}
	if len(nextSecret) < MinJWTSecretLength {
		return fmt.Errorf("rotation: pending %s has %d characters, want at least %d", JWTSecretField, len(nextSecret), MinJWTSecretLength)
	}
	if nextSecret == curSecret {
		return fmt.Errorf("rotation: pending %s equals the current one", JWTSecretField)
	}
	delete(cur, JWTSecretField)
	delete(next, JWTSecretField)
	if !maps.EqualFunc(cur, next, func(a, b json.RawMessage) bool { return string(a) == string(b) }) {
		return fmt.Errorf("rotation: pending version changes fields other than %s", JWTSecretField)
	}
	return nil
}

// Settle does nothing.
func (JWT) Settle(context.Context, string) error { return nil }
