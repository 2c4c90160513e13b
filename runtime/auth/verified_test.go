package auth

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/runtime/secrets"
	"github.com/acme/module-registry/runtime/storage"
)

// switchableKeys is a key provider whose keys a test changes (a rotation).
type switchableKeys struct{ keys secrets.Keys }

func (k *switchableKeys) Keys(context.Context) (secrets.Keys, error) { return k.keys, nil }

func issueRaw(t *testing.T, s *Service, st storage.MetadataStore) string {
	t.Helper()
	u, err := st.GetUser(context.Background(), "alice")
	require.NoError(t, err)
	bearer, err := s.Issue(context.Background(), u)
	require.NoError(t, err)
	raw, err := ParseBearer(bearer)
	require.NoError(t, err)
	return raw
}

// A token checked once is not decoded nor its HMAC recomputed when presented again:
// the second Verify allocates a fraction of what the first does.
func TestVerifiedTokenIsRemembered(t *testing.T) {
	s, st := newService(t, secrets.Static{Current: keyA}, Options{})
	raw := issueRaw(t, s, st)
	ctx := context.Background()
	full := testing.AllocsPerRun(20, func() {
		s.verified = verifiedTokens{}
		_, err := s.Verify(ctx, raw)
		require.NoError(t, err)
	})
	first, err := s.Verify(ctx, raw)
	require.NoError(t, err)
	remembered := testing.AllocsPerRun(100, func() {
		c, err := s.Verify(ctx, raw)
		require.NoError(t, err)
		require.Equal(t, first.ID, c.ID)
	})
	t.Logf("allocations per Verify: %.0f checked in full, %.0f remembered", full, remembered)
	assert.LessOrEqual(t, remembered, 5.0)
	assert.Greater(t, full, 10*remembered)
	assert.Equal(t, 1, s.verified.len())
}

// A remembered token is refused once it expires, like any other, and dropped: its
// entry, made 30 s before the expiry, is younger than verifiedFor when it expires.
func TestRememberedTokenExpires(t *testing.T) {
	clk := &atomicClock{}
	clk.set(time.Now())
	s, st := newService(t, secrets.Static{Current: keyA}, Options{Now: clk.Now})
	raw := issueRaw(t, s, st)
	clk.add(DefaultTTL + ClockSkew - 30*time.Second)
	_, err := s.Verify(context.Background(), raw)
	require.NoError(t, err)
	require.Equal(t, 1, s.verified.len())
	clk.add(29 * time.Second)
	_, err = s.Verify(context.Background(), raw)
	require.NoError(t, err, "valid until exp + the clock skew")
	clk.add(2 * time.Second)
	_, err = s.Verify(context.Background(), raw)
	require.ErrorIs(t, err, ErrUnauthenticated)
	assert.Contains(t, err.Error(), "expired")
	assert.Zero(t, s.verified.len(), "the expired entry is dropped")
	_, err = s.Verify(context.Background(), raw)
	require.ErrorIs(t, err, ErrUnauthenticated, "and not remembered from the failed check")
}

// A token is remembered only for the keys it was checked with: after a rotation
// that keeps its key as the previous one it still verifies; once that key is
// retired it is refused, remembered or not.
func TestRememberedTokenFollowsKeyRotation(t *testing.T) {
	keys := &switchableKeys{keys: secrets.Keys{Current: keyA}}
	s, st := newService(t, keys, Options{})
	raw := issueRaw(t, s, st)
	_, err := s.Verify(context.Background(), raw)
	require.NoError(t, err)

	keys.keys = secrets.Keys{Current: keyB, Previous: keyA}
	_, err = s.Verify(context.Background(), raw)
	require.NoError(t, err, "the previous key still verifies")

	keys.keys = secrets.Keys{Current: keyB}
	_, err = s.Verify(context.Background(), raw)
	require.ErrorIs(t, err, ErrUnauthenticated, "the token's key is retired")
	_, err = s.Authenticate(context.Background(), "bearer "+raw)
	require.ErrorIs(t, err, ErrUnauthenticated)
}

// An entry answers for verifiedFor; after that the token is checked in full again.
func TestRememberedTokenIsCheckedAgainLater(t *testing.T) {
	clk := &atomicClock{}
	clk.set(time.Now())
	s, st := newService(t, secrets.Static{Current: keyA}, Options{Now: clk.Now})
	raw := issueRaw(t, s, st)
	_, err := s.Verify(context.Background(), raw)
	require.NoError(t, err)
	at := s.verified.m[raw].at
	clk.add(verifiedFor - time.Second)
	_, err = s.Verify(context.Background(), raw)
	require.NoError(t, err)
	assert.Equal(t, at, s.verified.m[raw].at, "still the first check's entry")
	clk.add(2 * time.Second)
	_, err = s.Verify(context.Background(), raw)
	require.NoError(t, err)
	assert.Equal(t, clk.Now(), s.verified.m[raw].at, "checked in full again and remembered anew")
}

// The memo holds at most maxVerifiedTokens tokens.
func TestVerifiedTokensAreBounded(t *testing.T) {
	var v verifiedTokens
	keys := secrets.Keys{Current: keyA}
	c := &Claims{}
	for i := range maxVerifiedTokens + 100 {
		v.put(fmt.Sprint("token-", i), keys, c, time.Now())
	}
	assert.Equal(t, maxVerifiedTokens, v.len())
}

// A remembered token of a deleted account is refused: the account is read on every
// use, not remembered.
func TestRememberedTokenOfDeletedAccount(t *testing.T) {
	s, st := newService(t, secrets.Static{Current: keyA}, Options{})
	raw := issueRaw(t, s, st)
	_, err := s.Authenticate(context.Background(), "bearer "+raw)
	require.NoError(t, err)
	require.NoError(t, st.DeleteUser(context.Background(), "alice"))
	_, err = s.Verify(context.Background(), raw)
	require.NoError(t, err, "the token itself is still well signed")
	_, err = s.Authenticate(context.Background(), "bearer "+raw)
	require.ErrorIs(t, err, ErrUnauthenticated)
}
