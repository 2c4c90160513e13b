package throttle

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func retryAfter(t *testing.T, err error, sentinel error) time.Duration {
	t.Helper()
	require.ErrorIs(t, err, sentinel)
	var re *RetryError
	require.ErrorAs(t, err, &re)
	return re.After
}

func TestLimiterBurstThenRate(t *testing.T) {
	clk := &clock{t: time.Unix(1000, 0)}
	l := NewLimiter(Rate{PerSecond: 2, Burst: 3}, "token", clk.Now, 0)
	for i := range 3 {
		require.NoError(t, l.Allow("a"), "burst request %d", i)
	}
	after := retryAfter(t, l.Allow("a"), ErrLimited)
	assert.Equal(t, 500*time.Millisecond, after, "one request per 500 ms")
	require.ErrorContains(t, l.Allow("a"), "request rate of this token exceeds 2/s, burst 3")
	require.NoError(t, l.Allow("b"), "keys are independent")

	clk.Advance(500 * time.Millisecond)
	require.NoError(t, l.Allow("a"), "refused requests took nothing from the bucket")
	require.Error(t, l.Allow("a"))
	clk.Advance(10 * time.Second)
	for range 3 {
		require.NoError(t, l.Allow("a"), "refilled up to the burst, not beyond")
	}
	require.Error(t, l.Allow("a"))
}

func TestUnlimitedNeverRefuses(t *testing.T) {
	l := NewLimiter(Unlimited, "token", nil, 1)
	for i := range 1000 {
		require.NoError(t, l.Allow(fmt.Sprint(i)))
	}
	assert.Zero(t, l.Keys(), "nothing is tracked")
	assert.Equal(t, "unlimited", Unlimited.String())
}

// A full table forgets refilled buckets and lets untrackable keys through; keys that
// are still limited stay limited.
func TestLimiterTableIsBounded(t *testing.T) {
	clk := &clock{t: time.Unix(1000, 0)}
	l := NewLimiter(Rate{PerSecond: 1, Burst: 1}, "client address", clk.Now, 2)
	require.NoError(t, l.Allow("a"))
	require.NoError(t, l.Allow("b"))
	require.NoError(t, l.Allow("c"), "untracked while the table is full of active keys")
	require.NoError(t, l.Allow("c"))
	assert.Equal(t, 2, l.Keys())
	require.Error(t, l.Allow("a"), "a tracked key keeps its state")

	clk.Advance(2 * time.Second)
	require.NoError(t, l.Allow("c"), "refilled buckets are dropped to make room")
	require.Error(t, l.Allow("c"))
	assert.Equal(t, 1, l.Keys())
}

func TestBackoffGrowsAndIsCapped(t *testing.T) {
	clk := &clock{t: time.Unix(1000, 0)}
	b := NewBackoff(BackoffPolicy{Free: 3, Base: time.Second, Max: 5 * time.Second}, "user name", clk.Now, 0)
	for range 3 {
		require.NoError(t, b.Check("admin"))
		b.Fail("admin")
	}
	require.NoError(t, b.Check("admin"), "the free failures impose no delay")
	var delays []time.Duration
	for range 5 {
		b.Fail("admin")
		d := retryAfter(t, b.Check("admin"), ErrLimited)
		delays = append(delays, d)
		clk.Advance(d)
		require.NoError(t, b.Check("admin"), "the delay ends")
	}
	assert.Equal(t, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}, delays)
	require.NoError(t, b.Check("other"))

	b.Fail("admin")
	require.ErrorContains(t, b.Check("admin"), "too many failed attempts for this user name; retry after 5s")
	b.Reset("admin")
	require.NoError(t, b.Check("admin"), "success clears the key")
}

func TestBackoffForgetsQuietKeys(t *testing.T) {
	clk := &clock{t: time.Unix(1000, 0)}
	b := NewBackoff(BackoffPolicy{Free: 1, Max: time.Minute, Forget: 10 * time.Minute}, "client address", clk.Now, 1)
	b.Fail("a")
	b.Fail("a")
	require.Error(t, b.Check("a"))
	b.Fail("b") // table full of an active key: b is not tracked
	b.Fail("b")
	require.NoError(t, b.Check("b"))

	clk.Advance(10 * time.Minute)
	b.Fail("a")
	require.NoError(t, b.Check("a"), "a quiet key starts afresh: this is its first, free failure")
	clk.Advance(10 * time.Minute)
	b.Fail("b")
	b.Fail("b")
	require.Error(t, b.Check("b"), "the quiet key made room")
	assert.Equal(t, 1, b.Keys())
}

func TestGateBoundsConcurrency(t *testing.T) {
	const n = 3
	g := NewGate(n, 2, time.Hour, "password checks")
	var running, peak atomic.Int32
	var wg sync.WaitGroup
	var busy atomic.Int32
	start := make(chan struct{})
	hold := make(chan struct{})
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			release, err := g.Acquire(context.Background())
			if err != nil {
				if retryAfter(t, err, ErrBusy) != time.Second {
					t.Error("busy gates ask for a retry in a second")
				}
				busy.Add(1)
				return
			}
			defer release()
			r := running.Add(1)
			for p := peak.Load(); r > p && !peak.CompareAndSwap(p, r); p = peak.Load() {
			}
			<-hold
			running.Add(-1)
		}()
	}
	close(start)
	require.Eventually(t, func() bool { return busy.Load() == 20-n-2 }, 5*time.Second, time.Millisecond,
		"all but the running and the queued are refused at once")
	close(hold)
	wg.Wait()
	assert.EqualValues(t, n, peak.Load())
	assert.Zero(t, g.InUse())
}

func TestGateWaitIsBounded(t *testing.T) {
	g := NewGate(1, 1, 50*time.Millisecond, "password checks")
	release, err := g.Acquire(context.Background())
	require.NoError(t, err)
	t0 := time.Now()
	_, err = g.Acquire(context.Background())
	assert.ErrorIs(t, err, ErrBusy)
	assert.GreaterOrEqual(t, time.Since(t0), 50*time.Millisecond, "a queued caller waits, but not longer than the gate's wait")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = g.Acquire(ctx)
	assert.ErrorIs(t, err, context.Canceled)
	release()
	release()
	assert.Zero(t, g.InUse(), "a release called twice gives one slot back")

	g = NewGate(1, 1, time.Minute, "password checks")
	release, err = g.Acquire(context.Background())
	require.NoError(t, err)
	go func() { time.Sleep(10 * time.Millisecond); release() }()
	release2, err := g.Acquire(context.Background())
	require.NoError(t, err, "a queued caller gets the released slot")
	release2()
}

func TestRetryAfterSeconds(t *testing.T) {
	assert.Equal(t, "1", RetryAfterSeconds(0))
	assert.Equal(t, "1", RetryAfterSeconds(300*time.Millisecond))
	assert.Equal(t, "2", RetryAfterSeconds(1001*time.Millisecond))
	assert.Equal(t, time.Second, (&RetryError{After: time.Millisecond}).RetryAfter())
}
