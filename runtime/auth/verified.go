package auth

import (
	"bytes"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/acme/module-registry/runtime/secrets"
)

// Bounds of the memo of verified tokens.
const (
	// maxVerifiedTokens bounds the entries (a few hundred bytes each). Only tokens
	// that passed every check enter, so filling it takes logins.
	maxVerifiedTokens = 4096
	// verifiedFor is how long an entry answers before the token is checked in full
	// again.
	verifiedFor = time.Minute
)

// verifiedTokens remembers tokens whose signature and claims were checked, so a
// token presented again is not decoded and its HMAC not recomputed: the same string
// under the same keys has the same signature and claims. What can change is checked
// again on every use: the time claims against the clock, with the parser's own
// validator (an expired token is dropped and refused by the full check), and the
// keys - a rotation that retires the key a token was checked with makes its entry
// miss. Whether the token may still be used (its record, its account) is not the
// memo's business: Use asks the store on every request.
type verifiedTokens struct {
	mu sync.RWMutex
	m  map[string]verifiedToken
}

type verifiedToken struct {
	claims        Claims
	current, prev []byte // the verification keys it was checked with
	at            time.Time
}

// get returns a copy of the remembered claims of raw, for reading only (the copy
// shares the audience and the time claims with the entry).
func (v *verifiedTokens) get(raw string, keys secrets.Keys, validator *jwt.Validator, now time.Time) (*Claims, bool) {
	v.mu.RLock()
	e, ok := v.m[raw]
	v.mu.RUnlock()
	if !ok || !bytes.Equal(e.current, keys.Current) || !bytes.Equal(e.prev, keys.Previous) {
		return nil, false
	}
	c := e.claims
	if now.Sub(e.at) >= verifiedFor || now.Before(e.at) || validator.Validate(&c) != nil {
		// Stale, or expired (or not yet valid): the full check gives the caller its
		// answer and, if the token still passes, a fresh entry.
		v.mu.Lock()
		if cur, ok := v.m[raw]; ok && cur.at.Equal(e.at) {
			delete(v.m, raw)
		}
		v.mu.Unlock()
		return nil, false
	}
	return &c, true
}

func (v *verifiedTokens) put(raw string, keys secrets.Keys, c *Claims, now time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.m == nil {
		v.m = make(map[string]verifiedToken)
	}
	if _, ok := v.m[raw]; !ok && len(v.m) >= maxVerifiedTokens {
		for k := range v.m { // an arbitrary entry: map iteration order is random
			delete(v.m, k)
			break
		}
	}
	v.m[raw] = verifiedToken{claims: *c, current: bytes.Clone(keys.Current), prev: bytes.Clone(keys.Previous), at: now}
}

// len is the number of entries.
func (v *verifiedTokens) len() int {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return len(v.m)
}
