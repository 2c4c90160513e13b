package auth

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/acme/module-registry/runtime/storage"
)

// Token uses are counted in leases. A process asks the store for a block of K uses
// of a token in one durable write (storage.MetadataStore.LeaseTokenUses), serves
// requests from it in memory and asks again when it runs out. The store never
// grants more than a token's limit in total, across processes; a crash forfeits
// what the process had leased and not served (at most K-1 per token, as a lease is
// taken for a request that uses one at once). Unused uses go back to the store
// when a lease sits idle for a while and on ReleaseLeases (shutdown), so other
// processes can serve them; a process refused at the limit while another still
// holds uses on lease waits for them (leaseOrAwait), so that across processes
// exactly the limit is served.
//
// K follows the token's request rate in this process: about LeaseWindow's worth of
// its requests, at most doubling from one lease to the next, at least the number of
// requests waiting for it, capped by MaxLease. A token used once an hour leases one
// use at a time, exactly as if every use were written.

// Lease defaults.
const (
	// DefaultLeaseWindow: a lease holds about one second of a token's requests.
	DefaultLeaseWindow = time.Second
	// DefaultMaxLease caps a lease, and so what a crash can forfeit per token and
	// process (31 of 1000 uses).
	DefaultMaxLease = 32
)

// Lease bookkeeping that is not worth an option.
const (
	// forgetAfter drops the rate history of a token idle this long; it starts again
	// at one use.
	forgetAfter = time.Minute
	// maxLeaseEntries bounds the tokens tracked at once; beyond it a token is served
	// with a lease of one use, not remembered.
	maxLeaseEntries = 1 << 16
	// returnTimeout bounds the store call giving unused uses back.
	returnTimeout = 5 * time.Second
	// heldForWindows bounds, in lease windows, how long after its lease another
	// process may still hold uses it has not served: a lease lasts about a window
	// at the rate it was sized for, and unused uses go back after a window idle
	// (checked every half window). A crashed holder's uses are forfeited; waiting
	// for them ends here.
	heldForWindows = 3
)

// LeaseStats counts what the leases of a Service did since it was created.
type LeaseStats struct {
	Leases   int64 // durable leases taken (store writes)
	Leased   int64 // uses granted by them
	Served   int64 // uses served (requests admitted)
	Returned int64 // unused uses given back
	// Forfeited counts uses dropped unserved because giving them back failed.
	Forfeited int64
	// Largest is the largest lease granted.
	Largest int64
	// Awaited counts the polls of a token's record while waiting, at the limit,
	// for uses another process held on lease.
	Awaited int64
}

type leases struct {
	store  storage.MetadataStore
	now    func() time.Time
	window time.Duration
	max    int

	mu       sync.Mutex
	m        map[string]*lease
	sweeping bool // the sweep goroutine runs

	leasesN, leased, served, returned, forfeited, largest, awaited atomic.Int64
}

// lease is one token's lease in this process.
type lease struct {
	// sem is held while serving from or refilling the lease; a channel so a waiter
	// can give up with its context.
	sem     chan struct{}
	waiting atomic.Int32 // requests waiting for sem

	// Under sem:
	dead     bool          // forgotten: take a fresh entry
	refill   chan struct{} // a prefetched lease is on its way; closed when applied
	tok      storage.Token // the record as of the last lease
	left     int           // leased and not served
	size     int           // uses granted by the last lease; 0 before the first
	leasedAt time.Time
	served   int // uses served since leasedAt
	lastUse  time.Time
}

func newLeases(store storage.MetadataStore, now func() time.Time, window time.Duration, maxLease int) *leases {
	return &leases{store: store, now: now, window: window, max: maxLease, m: make(map[string]*lease)}
}

// entry returns the token's lease, creating it; nil when too many tokens are tracked.
func (ls *leases) entry(id string) *lease {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if l := ls.m[id]; l != nil {
		return l
	}
	if len(ls.m) >= maxLeaseEntries {
		return nil
	}
	l := &lease{sem: make(chan struct{}, 1)}
	ls.m[id] = l
	if !ls.sweeping {
		ls.sweeping = true
		go ls.sweep()
	}
	return l
}

// use admits one request of the token: from this process's lease, or from a new
// lease when it has none left. It returns the token's record as of the last lease.
func (ls *leases) use(ctx context.Context, id string) (storage.Token, error) {
	for {
		l := ls.entry(id)
		if l == nil {
			tok, _, err := ls.leaseOrAwait(ctx, id, 1)
			if err == nil {
				ls.served.Add(1)
			}
			return tok, err
		}
		l.waiting.Add(1)
		select {
		case l.sem <- struct{}{}:
			l.waiting.Add(-1)
		case <-ctx.Done():
			l.waiting.Add(-1)
			return storage.Token{}, ctx.Err()
		}
		if l.dead {
			<-l.sem
			continue
		}
		now := ls.now()
		if l.left > 0 {
			if !now.Before(l.tok.ExpiresAt) {
				<-l.sem
				return storage.Token{}, storage.ErrTokenExpired
			}
			l.left--
			l.served++
			l.lastUse = now
			ls.served.Add(1)
			ls.prefetch(id, l, now)
			tok := l.tok
			<-l.sem
			return tok, nil
		}
		if ch := l.refill; ch != nil {
			// A lease is on its way: wait for it rather than write another.
			<-l.sem
			l.waiting.Add(1)
			select {
			case <-ch:
				l.waiting.Add(-1)
			case <-ctx.Done():
				l.waiting.Add(-1)
				return storage.Token{}, ctx.Err()
			}
			continue
		}
		// Nothing left and nothing coming: lease now. The other requests of this
		// token wait for this one write and then share what it granted.
		tok, got, err := ls.leaseOrAwait(ctx, id, ls.nextSize(l, now))
		if err != nil {
			<-l.sem
			return storage.Token{}, err
		}
		l.tok, l.size, l.leasedAt, l.lastUse = tok, got, now, now
		l.left, l.served = got-1, 1
		ls.served.Add(1)
		<-l.sem
		return tok, nil
	}
}

// prefetch starts the next lease of l in the background once a quarter of the
// current one is left, so a token in steady use rarely waits for a write. The new
// lease is sized so that what the process holds unserved stays below MaxLease: a
// crash forfeits at most MaxLease-1 uses of the token. Called with l.sem held.
func (ls *leases) prefetch(id string, l *lease, now time.Time) {
	if l.refill != nil || l.size < 4 || l.left > l.size/4 {
		return
	}
	k := min(ls.nextSize(l, now), ls.max-1-l.left)
	if k < 1 {
		return
	}
	ch := make(chan struct{})
	l.refill = ch
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), returnTimeout)
		defer cancel()
		tok, got, err := ls.lease(ctx, id, k)
		l.sem <- struct{}{}
		dead := l.dead
		if err == nil && !dead {
			at := ls.now()
			l.tok, l.size, l.leasedAt = tok, got, at
			l.left += got
			l.served = 0
		}
		<-l.sem
		if err == nil && dead {
			// Released or forgotten meanwhile: nobody will serve these.
			_ = ls.give(ctx, id, got)
		}
		l.sem <- struct{}{}
		l.refill = nil
		close(ch)
		<-l.sem
	}()
}

// lease takes a lease of up to want uses. With storage.ErrTokenExhausted it returns
// the record the store read.
func (ls *leases) lease(ctx context.Context, id string, want int) (storage.Token, int, error) {
	tok, got, err := ls.store.LeaseTokenUses(ctx, id, want, ls.now())
	if errors.Is(err, storage.ErrTokenExhausted) {
		return tok, 0, err
	}
	if err != nil {
		return storage.Token{}, 0, err
	}
	if got < 1 || got > want {
		// A store granting nothing, or more than asked, would break the accounting.
		return storage.Token{}, 0, fmt.Errorf("token store granted %d uses for a lease of %d", got, want)
	}
	ls.leasesN.Add(1)
	ls.leased.Add(int64(got))
	for {
		cur := ls.largest.Load()
		if int64(got) <= cur || ls.largest.CompareAndSwap(cur, int64(got)) {
			break
		}
	}
	return tok, got, nil
}

// leaseOrAwait is lease, except that a refusal at the limit while another process
// holds uses of the token on lease (Token.LeasedElsewhereAt) waits for them: that
// process serves them or, once they sit idle for a window, gives them back (its
// sweep), so a request here is refused only when they are gone or the wait is
// over. It polls the record every quarter window until heldFor after the other
// lease, and leases again as soon as a use is free. The token's other requests in
// this process queue behind the one waiting.
func (ls *leases) leaseOrAwait(ctx context.Context, id string, want int) (storage.Token, int, error) {
	tok, got, err := ls.lease(ctx, id, want)
	// Bounded in polls too, should the clock stand still (a test's).
	for polls := 0; errors.Is(err, storage.ErrTokenExhausted) && polls < heldForWindows*4+1; polls++ {
		if tok.LeasedElsewhereAt.IsZero() || !ls.now().Before(tok.LeasedElsewhereAt.Add(heldForWindows*ls.window)) {
			break
		}
		t := time.NewTimer(max(ls.window/4, time.Millisecond))
		select {
		case <-ctx.Done():
			t.Stop()
			return storage.Token{}, 0, ctx.Err()
		case <-t.C:
		}
		ls.awaited.Add(1)
		cur, gerr := ls.store.GetToken(ctx, id)
		if gerr != nil {
			return storage.Token{}, 0, gerr
		}
		if cur.Uses < cur.MaxUses {
			tok, got, err = ls.lease(ctx, id, want)
		} else {
			tok = cur
		}
	}
	if err != nil {
		return storage.Token{}, 0, err
	}
	return tok, got, nil
}

// nextSize is the size of the next lease of l at now (l.left is 0).
func (ls *leases) nextSize(l *lease, now time.Time) int {
	k := 1
	if l.size > 0 {
		// The rate over the last lease, scaled to the window; at most doubling, so a
		// short burst does not lease what a crash would then forfeit.
		k = 2 * l.size
		if elapsed := now.Sub(l.leasedAt); elapsed > 0 {
			k = min(k, int(math.Ceil(float64(l.served)*float64(ls.window)/float64(elapsed))))
		}
		k = max(k, 1)
	}
	k = max(k, 1+int(l.waiting.Load()))
	if l.size > 0 {
		// No more than the record said was left (the store grants a partial block
		// anyway; this saves it a refused condition).
		k = min(k, max(1, l.tok.MaxUses-l.tok.Uses))
	}
	return max(1, min(k, ls.max))
}

// sweep gives back the unused uses of leases idle for a window and forgets tokens
// idle for forgetAfter, until no token is tracked.
func (ls *leases) sweep() {
	tick := time.NewTicker(max(ls.window/2, 10*time.Millisecond))
	defer tick.Stop()
	for range tick.C {
		ls.mu.Lock()
		if len(ls.m) == 0 {
			ls.sweeping = false
			ls.mu.Unlock()
			return
		}
		snapshot := make(map[string]*lease, len(ls.m))
		for id, l := range ls.m {
			snapshot[id] = l
		}
		ls.mu.Unlock()
		now := ls.now()
		for id, l := range snapshot {
			ls.idle(id, l, now)
		}
	}
}

// idle handles one lease during a sweep; a lease in use is left alone.
func (ls *leases) idle(id string, l *lease, now time.Time) {
	select {
	case l.sem <- struct{}{}:
	default:
		return
	}
	if l.refill != nil {
		<-l.sem
		return
	}
	n := 0
	if l.left > 0 && now.Sub(l.lastUse) >= ls.window {
		n, l.left = l.left, 0
	}
	forget := l.left == 0 && now.Sub(l.lastUse) >= forgetAfter && l.waiting.Load() == 0
	if forget {
		l.dead = true
		ls.mu.Lock()
		delete(ls.m, id)
		ls.mu.Unlock()
	}
	<-l.sem
	if n > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), returnTimeout)
		_ = ls.give(ctx, id, n)
		cancel()
	}
}

// give returns n uses the caller has already dropped from its lease.
func (ls *leases) give(ctx context.Context, id string, n int) error {
	if err := ls.store.ReturnTokenUses(ctx, id, n); err != nil {
		ls.forfeited.Add(int64(n))
		return err
	}
	ls.returned.Add(int64(n))
	return nil
}

// release gives back every unused use and forgets every token (the sweep then
// ends); later requests lease afresh.
func (ls *leases) release(ctx context.Context) error {
	ls.mu.Lock()
	snapshot := ls.m
	ls.m = make(map[string]*lease)
	ls.mu.Unlock()
	var errs []error
	for id, l := range snapshot {
		select {
		case l.sem <- struct{}{}:
		case <-ctx.Done():
			return errors.Join(append(errs, ctx.Err())...)
		}
		n, ch := l.left, l.refill
		l.left, l.dead = 0, true
		<-l.sem
		if ch != nil {
			// The lease on its way is given back by its goroutine.
			select {
			case <-ch:
			case <-ctx.Done():
				return errors.Join(append(errs, ctx.Err())...)
			}
		}
		if n > 0 {
			if err := ls.give(ctx, id, n); err != nil {
				errs = append(errs, fmt.Errorf("return %d unused uses of a token: %w", n, err))
			}
		}
	}
	return errors.Join(errs...)
}

func (ls *leases) stats() LeaseStats {
	return LeaseStats{Leases: ls.leasesN.Load(), Leased: ls.leased.Load(), Served: ls.served.Load(), Returned: ls.returned.Load(),
		Forfeited: ls.forfeited.Load(), Largest: ls.largest.Load(), Awaited: ls.awaited.Load()}
}
