package awsstore_test

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/runtime/storage"
	"github.com/acme/module-registry/runtime/storage/awsstore"
)

// countingTransport counts the DynamoDB operations sent through it, by name.
type countingTransport struct {
	mu  sync.Mutex
	ops map[string]int
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if target := r.Header.Get("X-Amz-Target"); target != "" {
		c.mu.Lock()
		if c.ops == nil {
			c.ops = map[string]int{}
		}
		c.ops[target]++
		c.mu.Unlock()
	}
	return http.DefaultTransport.RoundTrip(r)
}

func (c *countingTransport) count(op string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ops["DynamoDB_20120810."+op]
}

// twoProcesses is two Stores on the same tables, as two registry tasks have.
func twoProcesses(t *testing.T) (a, b *awsstore.Store, ta *countingTransport) {
	t.Helper()
	_, cfg := env.NewStore(t, nil)
	ta = &countingTransport{}
	awsCfg := env.AWS.Copy()
	awsCfg.HTTPClient = &http.Client{Transport: ta}
	a, err := awsstore.New(awsCfg, cfg)
	require.NoError(t, err)
	b, err = awsstore.New(env.AWS, cfg)
	require.NoError(t, err)
	return a, b, ta
}

// A lease is one conditional UpdateItem, whatever its size; the partial last block
// costs one refused condition more.
func TestLeaseIsOneConditionalUpdate(t *testing.T) {
	ctx := context.Background()
	a, _, calls := twoProcesses(t)
	now := time.Now().UTC()
	require.NoError(t, a.CreateToken(ctx, storage.Token{ID: "one", User: "u", IssuedAt: now, ExpiresAt: now.Add(time.Hour), MaxUses: 50}))
	for range 3 {
		_, n, err := a.LeaseTokenUses(ctx, "one", 16, now)
		require.NoError(t, err)
		require.Equal(t, 16, n)
	}
	assert.Equal(t, 3, calls.count("UpdateItem"), "one write per lease of 16")
	assert.Equal(t, 0, calls.count("GetItem"), "max_uses is known from the token's creation")
	tok, n, err := a.LeaseTokenUses(ctx, "one", 16, now)
	require.NoError(t, err)
	assert.Equal(t, 2, n, "the partial last block")
	assert.Equal(t, 50, tok.Uses)
	assert.Equal(t, 5, calls.count("UpdateItem"), "a refused condition, then the rest")
	_, _, err = a.LeaseTokenUses(ctx, "one", 16, now)
	require.ErrorIs(t, err, storage.ErrTokenExhausted)
}

// Two processes leasing blocks of every size at once from one token: the blocks add
// up to the limit exactly, and the item counts exactly that.
func TestConditionalLeasesAcrossStores(t *testing.T) {
	ctx := context.Background()
	a, b, _ := twoProcesses(t)
	now := time.Now().UTC()
	const limit = 500
	require.NoError(t, a.CreateToken(ctx, storage.Token{ID: "shared", User: "u", IssuedAt: now, ExpiresAt: now.Add(time.Hour), MaxUses: limit}))
	var granted [2]atomic.Int64
	var wg sync.WaitGroup
	for i := range 24 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := []*awsstore.Store{a, b}[i%2]
			for {
				want := 1 + (i*7)%32
				_, n, err := st.LeaseTokenUses(ctx, "shared", want, now)
				if err != nil {
					assert.ErrorIs(t, err, storage.ErrTokenExhausted)
					return
				}
				assert.True(t, n >= 1 && n <= want, "granted %d of %d", n, want)
				granted[i%2].Add(int64(n))
			}
		}()
	}
	wg.Wait()
	t.Logf("granted: %d to one store, %d to the other", granted[0].Load(), granted[1].Load())
	assert.EqualValues(t, limit, granted[0].Load()+granted[1].Load(), "over-use or lost uses")
	tok, err := b.GetToken(ctx, "shared")
	require.NoError(t, err)
	assert.Equal(t, limit, tok.Uses)
}

// Each store sees the other's lease mark, not its own; a return withdraws it; a
// refusal at the limit carries it.
func TestLeaseMarksOfOtherProcesses(t *testing.T) {
	ctx := context.Background()
	a, b, _ := twoProcesses(t)
	now := time.Now().UTC().Truncate(time.Millisecond)
	require.NoError(t, a.CreateToken(ctx, storage.Token{ID: "m", User: "u", IssuedAt: now, ExpiresAt: now.Add(time.Hour), MaxUses: 10}))

	own, _, err := a.LeaseTokenUses(ctx, "m", 6, now)
	require.NoError(t, err)
	assert.True(t, own.LeasedElsewhereAt.IsZero(), "a store's own lease is not elsewhere")
	seen, err := b.GetToken(ctx, "m")
	require.NoError(t, err)
	assert.True(t, now.Equal(seen.LeasedElsewhereAt), "b sees a's lease: %v", seen.LeasedElsewhereAt)

	later := now.Add(time.Second)
	_, n, err := b.LeaseTokenUses(ctx, "m", 8, later)
	require.NoError(t, err)
	assert.Equal(t, 4, n)
	refused, _, err := b.LeaseTokenUses(ctx, "m", 1, later)
	require.ErrorIs(t, err, storage.ErrTokenExhausted)
	assert.True(t, now.Equal(refused.LeasedElsewhereAt), "the refusal tells b that a may hold uses")
	assert.Equal(t, 10, refused.Uses)

	require.NoError(t, a.ReturnTokenUses(ctx, "m", 2))
	seen, err = b.GetToken(ctx, "m")
	require.NoError(t, err)
	assert.True(t, seen.LeasedElsewhereAt.IsZero(), "a's return withdrew its mark")
	assert.Equal(t, 8, seen.Uses)
	mine, err := a.GetToken(ctx, "m")
	require.NoError(t, err)
	assert.True(t, later.Equal(mine.LeasedElsewhereAt), "a sees b's mark")
}
