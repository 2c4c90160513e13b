package throttle

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Gate lets at most a fixed number of operations run at once. A few more callers may
// wait a short while for a slot; everyone beyond is refused at once, so a flood never
// builds an unbounded queue.
type Gate struct {
	slots   chan struct{}
	waiting atomic.Int64
	queue   int64
	wait    time.Duration
	what    string
}

// NewGate returns a Gate running at most n (>= 1) operations at once, with up to queue
// callers waiting at most wait each for a slot; what names the operation in refusals.
func NewGate(n, queue int, wait time.Duration, what string) *Gate {
	return &Gate{slots: make(chan struct{}, max(n, 1)), queue: int64(max(queue, 0)), wait: wait, what: what}
}

// Acquire takes a slot, waiting at most the gate's wait if the queue has room. It
// returns the function that gives the slot back, or a *RetryError wrapping ErrBusy,
// or ctx's error.
func (g *Gate) Acquire(ctx context.Context) (release func(), err error) {
	select {
	case g.slots <- struct{}{}:
		return g.releaser(), nil
	default:
	}
	if g.waiting.Add(1) > g.queue || g.wait <= 0 {
		g.waiting.Add(-1)
		return nil, g.busy()
	}
	defer g.waiting.Add(-1)
	t := time.NewTimer(g.wait)
	defer t.Stop()
	select {
	case g.slots <- struct{}{}:
		return g.releaser(), nil
	case <-t.C:
		return nil, g.busy()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// releaser gives the slot back once, however often it is called.
func (g *Gate) releaser() func() {
	var once sync.Once
	return func() { once.Do(func() { <-g.slots }) }
}

func (g *Gate) busy() error {
	return &RetryError{Err: ErrBusy, After: time.Second,
		Msg: "too many " + g.what + " in progress (at most " + strconv.Itoa(cap(g.slots)) + " at once); retry in a second"}
}

// Capacity is how many operations may run at once.
func (g *Gate) Capacity() int { return cap(g.slots) }

// InUse is how many operations are running.
func (g *Gate) InUse() int { return len(g.slots) }
