package client

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// TokenClaims is what a token says about itself. It is read without checking the
// signature (only the registry can), so it serves to show a user when to log in
// again, never to trust the token.
type TokenClaims struct {
	Subject   string
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// ReadTokenClaims decodes the claims of a token ("bearer <jwt>" or the bare JWT).
func ReadTokenClaims(token string) (TokenClaims, error) {
	jwt := strings.TrimPrefix(NormalizeToken(token), "bearer ")
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return TokenClaims{}, errors.New("token is not a JWT")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return TokenClaims{}, errors.New("token payload is not base64url")
	}
	var c struct {
		Sub string `json:"sub"`
		Iat int64  `json:"iat"`
		Exp int64  `json:"exp"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return TokenClaims{}, errors.New("token payload is not JSON")
	}
	out := TokenClaims{Subject: c.Sub}
	if c.Iat > 0 {
		out.IssuedAt = time.Unix(c.Iat, 0).UTC()
	}
	if c.Exp > 0 {
		out.ExpiresAt = time.Unix(c.Exp, 0).UTC()
	}
	return out, nil
}
