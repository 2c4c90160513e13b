package throttle

import (
	"time"
)

// BackoffPolicy says how a key that keeps failing is slowed down.
type BackoffPolicy struct {
	// Free is how many failures are allowed before delays start.
	Free int
	// Base is the delay after the first failure beyond Free; it doubles with every
	// further failure.
	Base time.Duration
	// Max caps the delay: the longest a key is refused after its last failure.
	Max time.Duration
	// Forget: a key with no failure for this long starts afresh.
	Forget time.Duration
}

// Default backoff timings.
const (
	DefaultBackoffBase   = time.Second
	DefaultBackoffForget = 15 * time.Minute
)

// Backoff counts failures per key and refuses a key for a delay that grows with each
// failure beyond the free ones. Success (Reset) clears a key.
type Backoff struct {
	p    BackoffPolicy
	what string
	now  func() time.Time
	t    *table[*backoffEntry]
}

type backoffEntry struct {
	failures int
	last     time.Time // last failure
	until    time.Time // refused before this time
}

// NewBackoff returns a Backoff; what names the key in refusals ("user name"). A zero
// Base or Forget takes its default; now is the clock (nil: time.Now); maxKeys bounds
// the keys tracked (<= 0: DefaultMaxKeys).
func NewBackoff(p BackoffPolicy, what string, now func() time.Time, maxKeys int) *Backoff {
	if p.Base <= 0 {
		p.Base = DefaultBackoffBase
	}
	if p.Forget <= 0 {
		p.Forget = DefaultBackoffForget
	}
	if p.Max < p.Base {
		p.Max = p.Base
	}
	if now == nil {
		now = time.Now
	}
	b := &Backoff{p: p, what: what, now: now}
	b.t = newTable(maxKeys, func(e *backoffEntry, now time.Time) bool {
		return now.Sub(e.last) >= p.Forget && !now.Before(e.until)
	})
	return b
}

// Policy is the backoff's policy with defaults applied.
func (b *Backoff) Policy() BackoffPolicy { return b.p }

// Check returns a *RetryError wrapping ErrLimited while key is in a delay.
func (b *Backoff) Check(key string) error {
	now := b.now()
	b.t.mu.Lock()
	defer b.t.mu.Unlock()
	e, ok := b.t.entries[key]
	if !ok || !now.Before(e.until) {
		return nil
	}
	wait := e.until.Sub(now)
	return &RetryError{Err: ErrLimited, After: wait,
		Msg: "too many failed attempts for this " + b.what + "; retry after " + RetryAfterSeconds(wait) + "s"}
}

// Fail records a failure of key and starts its delay once the free failures are
// used up.
func (b *Backoff) Fail(key string) {
	now := b.now()
	b.t.mu.Lock()
	defer b.t.mu.Unlock()
	e, ok := b.t.get(key, now, func() *backoffEntry { return &backoffEntry{} })
	if !ok {
		return
	}
	if e.failures > 0 && now.Sub(e.last) >= b.p.Forget {
		e.failures = 0
	}
	e.failures++
	e.last = now
	if over := e.failures - b.p.Free; over > 0 {
		e.until = now.Add(b.delay(over))
	}
}

// delay is the wait after the over-th failure beyond the free ones.
func (b *Backoff) delay(over int) time.Duration {
	d := b.p.Base
	for i := 1; i < over && d < b.p.Max; i++ {
		d *= 2
	}
	return min(d, b.p.Max)
}

// Reset forgets key's failures.
func (b *Backoff) Reset(key string) {
	b.t.mu.Lock()
	defer b.t.mu.Unlock()
	delete(b.t.entries, key)
}

// Keys is the number of keys tracked.
func (b *Backoff) Keys() int { return b.t.Len() }
