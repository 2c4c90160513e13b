package throttle

import (
	"math"
	"strconv"
	"time"

	"golang.org/x/time/rate"
)

// Rate is a sustained request rate with a burst allowance.
type Rate struct {
	// PerSecond is the sustained rate; +Inf (Unlimited) lets everything through.
	PerSecond float64
	// Burst is how many requests may arrive at once after a quiet period (>= 1).
	Burst int
}

// Unlimited is a Rate that never refuses.
var Unlimited = Rate{PerSecond: math.Inf(1)}

// IsUnlimited reports whether r never refuses.
func (r Rate) IsUnlimited() bool { return math.IsInf(r.PerSecond, 1) }

func (r Rate) String() string {
	if r.IsUnlimited() {
		return "unlimited"
	}
	return strconv.FormatFloat(r.PerSecond, 'g', -1, 64) + "/s, burst " + strconv.Itoa(r.Burst)
}

// Limiter gives every key its own token bucket of the same Rate.
type Limiter struct {
	rate Rate
	what string
	now  func() time.Time
	t    *table[*rate.Limiter]
}

// NewLimiter returns a Limiter of r per key; what names the key in refusals ("token",
// "client address"). now is the clock (nil: time.Now); maxKeys bounds the keys tracked
// (<= 0: DefaultMaxKeys).
func NewLimiter(r Rate, what string, now func() time.Time, maxKeys int) *Limiter {
	if now == nil {
		now = time.Now
	}
	if r.Burst < 1 {
		r.Burst = 1
	}
	l := &Limiter{rate: r, what: what, now: now}
	// A bucket that has refilled completely behaves exactly like a new one.
	l.t = newTable(maxKeys, func(b *rate.Limiter, now time.Time) bool { return b.TokensAt(now) >= float64(b.Burst()) })
	return l
}

// Rate is the limiter's rate per key.
func (l *Limiter) Rate() Rate { return l.rate }

// Allow takes one request from key's bucket, or returns a *RetryError wrapping
// ErrLimited saying when the next one would be allowed. A refused request takes
// nothing.
func (l *Limiter) Allow(key string) error {
	if l.rate.IsUnlimited() {
		return nil
	}
	now := l.now()
	l.t.mu.Lock()
	b, ok := l.t.get(key, now, func() *rate.Limiter { return rate.NewLimiter(rate.Limit(l.rate.PerSecond), l.rate.Burst) })
	l.t.mu.Unlock()
	if !ok {
		return nil
	}
	res := b.ReserveN(now, 1)
	if delay := res.DelayFrom(now); delay > 0 {
		res.CancelAt(now)
		return &RetryError{Err: ErrLimited, After: delay,
			Msg: "request rate of this " + l.what + " exceeds " + l.rate.String() + "; retry after " + RetryAfterSeconds(delay) + "s"}
	}
	return nil
}

// Keys is the number of keys tracked.
func (l *Limiter) Keys() int { return l.t.Len() }
