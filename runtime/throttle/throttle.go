// Package throttle holds the registry's in-memory defences against clients that ask
// for too much: a Gate bounding how many costly operations run at once, a Limiter
// giving each key (a token, a client address) a request rate, and a Backoff making a
// key that keeps failing (a user name, an address guessing passwords) wait longer
// after each failure.
//
// Every refusal is a *RetryError wrapping ErrLimited (the caller asked too often:
// HTTP 429) or ErrBusy (the service is at capacity: HTTP 503), and says when to retry.
// State lives in one process: with several processes each keeps its own counts.
// The number of keys tracked is bounded; a key that cannot be tracked because the
// table is full of active keys is let through rather than refused, so filling the
// table with throw-away keys never locks anybody out.
package throttle

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"time"
)

var (
	// ErrLimited: this caller has made too many requests or failed too often.
	ErrLimited = errors.New("too many requests")
	// ErrBusy: the service is at capacity for this kind of work.
	ErrBusy = errors.New("service busy")
)

// RetryError is a refusal that says when the request may succeed.
type RetryError struct {
	// Err is ErrLimited or ErrBusy.
	Err error
	// Msg says what was refused and why.
	Msg string
	// After is how long the caller should wait before retrying.
	After time.Duration
}

func (e *RetryError) Error() string { return e.Msg }
func (e *RetryError) Unwrap() error { return e.Err }

// RetryAfter is the wait before a retry may succeed, at least one second (the
// granularity of HTTP's Retry-After).
func (e *RetryError) RetryAfter() time.Duration { return max(e.After, time.Second) }

// RetryAfterSeconds renders d as an HTTP Retry-After value: whole seconds, rounded up,
// at least 1.
func RetryAfterSeconds(d time.Duration) string {
	return fmt.Sprint(max(1, int64(math.Ceil(d.Seconds()))))
}

// DefaultMaxKeys bounds the keys a Limiter or Backoff tracks.
const DefaultMaxKeys = 50_000

// table is a bounded map of per-key state. When it is full, entries idle reports as
// forgettable (indistinguishable from a fresh entry) are dropped; if none can be, new
// keys are not tracked.
type table[V any] struct {
	mu      sync.Mutex
	entries map[string]V
	max     int
	idle    func(v V, now time.Time) bool
}

func newTable[V any](max int, idle func(V, time.Time) bool) *table[V] {
	if max <= 0 {
		max = DefaultMaxKeys
	}
	return &table[V]{entries: map[string]V{}, max: max, idle: idle}
}

// get returns key's entry, creating it with fresh when absent; ok is false when the
// table is full of active entries and key is not tracked. The caller holds t.mu.
func (t *table[V]) get(key string, now time.Time, fresh func() V) (v V, ok bool) {
	if v, ok := t.entries[key]; ok {
		return v, true
	}
	if len(t.entries) >= t.max {
		for k, e := range t.entries {
			if t.idle(e, now) {
				delete(t.entries, k)
			}
		}
		if len(t.entries) >= t.max {
			return v, false
		}
	}
	v = fresh()
	t.entries[key] = v
	return v, true
}

// Len is the number of keys tracked.
func (t *table[V]) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.entries)
}
