package auth

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/runtime/secrets"
	"github.com/acme/module-registry/runtime/storage"
	"github.com/acme/module-registry/runtime/storage/embedded"
)

// holders shares one store among several Services as the AWS backend shares its
// tables among processes: every lease marks the token with its holder, a return
// withdraws the mark, and each holder reads the others' latest mark as
// Token.LeasedElsewhereAt. A holder can be made to crash: from then on its store
// calls fail, as those of a killed process never arrive.
type holders struct {
	storage.MetadataStore
	mu    sync.Mutex
	marks map[string]map[string]time.Time // token -> holder -> lease time
}

type holder struct {
	*holders
	name    string
	crashed atomic.Bool
	leases  atomic.Int64 // LeaseTokenUses calls
}

var errCrashed = errors.New("the process is gone")

func (h *holders) holder(name string) *holder { return &holder{holders: h, name: name} }

func (h *holder) elsewhere(t storage.Token) storage.Token {
	h.mu.Lock()
	defer h.mu.Unlock()
	for who, at := range h.marks[t.ID] {
		if who != h.name && at.After(t.LeasedElsewhereAt) {
			t.LeasedElsewhereAt = at
		}
	}
	return t
}

func (h *holder) LeaseTokenUses(ctx context.Context, id string, want int, now time.Time) (storage.Token, int, error) {
	if h.crashed.Load() {
		return storage.Token{}, 0, errCrashed
	}
	h.leases.Add(1)
	t, n, err := h.MetadataStore.LeaseTokenUses(ctx, id, want, now)
	if err == nil {
		h.mu.Lock()
		if h.marks[id] == nil {
			h.marks[id] = map[string]time.Time{}
		}
		h.marks[id][h.name] = now
		h.mu.Unlock()
	}
	return h.elsewhere(t), n, err
}

func (h *holder) ReturnTokenUses(ctx context.Context, id string, n int) error {
	if h.crashed.Load() {
		return errCrashed
	}
	err := h.MetadataStore.ReturnTokenUses(ctx, id, n)
	if err == nil {
		h.mu.Lock()
		delete(h.marks[id], h.name)
		h.mu.Unlock()
	}
	return err
}

func (h *holder) GetToken(ctx context.Context, id string) (storage.Token, error) {
	if h.crashed.Load() {
		return storage.Token{}, errCrashed
	}
	t, err := h.MetadataStore.GetToken(ctx, id)
	return h.elsewhere(t), err
}

// leaseRig is one store, an account and a token of maxUses uses.
type leaseRig struct {
	st    *embedded.Store
	hs    *holders
	user  storage.User
	token string // "bearer ..."
	id    string // the token's id
}

func newLeaseRig(t *testing.T, maxUses int) *leaseRig {
	t.Helper()
	ctx := context.Background()
	st, err := embedded.Open(t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	require.NoError(t, st.CreateUser(ctx, storage.User{Name: "alice", Permissions: []string{storage.PermDownload}}))
	u, err := st.GetUser(ctx, "alice")
	require.NoError(t, err)
	r := &leaseRig{st: st, hs: &holders{MetadataStore: st, marks: map[string]map[string]time.Time{}}, user: u}
	issuer, err := New(st, secrets.Static{Current: keyA}, Options{Argon2: fastArgon2, MaxUses: maxUses})
	require.NoError(t, err)
	r.token, err = issuer.Issue(ctx, u)
	require.NoError(t, err)
	claims, err := issuer.Parse(ctx, r.token)
	require.NoError(t, err)
	r.id = claims.ID
	return r
}

// process is a Service on the rig's store, as one registry process.
func (r *leaseRig) process(t *testing.T, name string, opts Options) (*Service, *holder) {
	t.Helper()
	h := r.hs.holder(name)
	opts.Argon2 = fastArgon2
	s, err := New(h, secrets.Static{Current: keyA}, opts)
	require.NoError(t, err)
	return s, h
}

func (r *leaseRig) uses(t *testing.T) int {
	t.Helper()
	tok, err := r.st.GetToken(context.Background(), r.id)
	require.NoError(t, err)
	return tok.Uses
}

// burst sends n concurrent requests through s and counts those admitted; every
// refusal must be the use limit.
func burst(t *testing.T, s *Service, token string, n int) int {
	t.Helper()
	var ok atomic.Int64
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.Authenticate(context.Background(), token)
			switch {
			case err == nil:
				ok.Add(1)
			case !errors.Is(err, ErrUnauthenticated):
				t.Errorf("refused for another reason than the limit: %v", err)
			}
		}()
	}
	wg.Wait()
	return int(ok.Load())
}

// A token used now and then leases one use at a time: every request is a write,
// exactly as without leases.
func TestRareTokenLeasesOneUseAtATime(t *testing.T) {
	r := newLeaseRig(t, 1000)
	clk := &atomicClock{}
	clk.set(time.Now())
	s, h := r.process(t, "a", Options{Now: clk.Now})
	for i := range 10 {
		_, err := s.Authenticate(context.Background(), r.token)
		require.NoError(t, err)
		assert.Equal(t, i+1, r.uses(t), "the store counts each use as it is served")
		clk.add(time.Minute)
	}
	st := s.LeaseStats()
	assert.EqualValues(t, 10, st.Leases)
	assert.EqualValues(t, 1, st.Largest)
	assert.EqualValues(t, 10, h.leases.Load())
}

// Under load K grows, capped by MaxLease: far fewer writes than requests, never more
// than MaxLease-1 uses held unserved.
func TestBusyTokenLeasesGrowToTheCap(t *testing.T) {
	r := newLeaseRig(t, 5000)
	s, h := r.process(t, "a", Options{MaxLease: 32})
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 250 {
				_, err := s.Authenticate(context.Background(), r.token)
				assert.NoError(t, err)
				st := s.LeaseStats()
				// Leased and not served nor given back: what a crash would forfeit.
				assert.LessOrEqual(t, st.Leased-st.Served-st.Returned, int64(31+8), "held unserved (plus the requests in flight)")
			}
		}()
	}
	wg.Wait()
	st := s.LeaseStats()
	assert.EqualValues(t, 2000, st.Served)
	assert.GreaterOrEqual(t, st.Largest, int64(16), "leases grow under load")
	assert.LessOrEqual(t, st.Largest, int64(32), "up to MaxLease")
	assert.Less(t, h.leases.Load(), int64(2000/8), "at most one write per 8 requests; got %d", h.leases.Load())
	require.NoError(t, s.ReleaseLeases(context.Background()))
	assert.Equal(t, 2000, r.uses(t), "after the release the store counts exactly the uses served")
}

// MaxLease 1 writes every use through.
func TestMaxLeaseOneWritesEveryUse(t *testing.T) {
	r := newLeaseRig(t, 1000)
	s, h := r.process(t, "a", Options{MaxLease: 1})
	assert.Equal(t, 100, burst(t, s, r.token, 100))
	assert.EqualValues(t, 100, h.leases.Load())
	assert.Equal(t, 100, r.uses(t))
}

// Uses left on a lease go back to the store once it sits idle for a window.
func TestIdleLeaseIsGivenBack(t *testing.T) {
	r := newLeaseRig(t, 1000)
	s, _ := r.process(t, "a", Options{LeaseWindow: 50 * time.Millisecond})
	assert.Equal(t, 300, burst(t, s, r.token, 300))
	require.Eventually(t, func() bool { return r.uses(t) == 300 }, 5*time.Second, 10*time.Millisecond,
		"the unused rest of the lease is returned; stats %+v", s.LeaseStats())
}

// A lease in hand does not outlive the token: past its expiry it is refused.
func TestLeaseDoesNotOutliveTheToken(t *testing.T) {
	r := newLeaseRig(t, 1000)
	clk := &atomicClock{}
	clk.set(time.Now())
	s, _ := r.process(t, "a", Options{Now: clk.Now, LeaseWindow: time.Hour})
	for range 50 {
		_, err := s.Authenticate(context.Background(), r.token)
		require.NoError(t, err)
	}
	st := s.LeaseStats()
	require.Greater(t, st.Leased, st.Served, "a lease with uses left")
	clk.add(DefaultTTL)
	_, err := s.Authenticate(context.Background(), r.token)
	require.ErrorIs(t, err, ErrUnauthenticated)
	assert.Contains(t, err.Error(), "expired")
}

// Several processes on one store, one of them holding uses on lease that it will not
// serve: a burst through the others is refused only once those uses came back, so
// exactly the limit is served in all.
func TestExactLimitAcrossProcesses(t *testing.T) {
	const maxUses = 300
	r := newLeaseRig(t, maxUses)
	// Long enough that a's unused uses come back after the burst has run out of
	// uses, not while it is still being served.
	window := time.Second
	a, _ := r.process(t, "a", Options{LeaseWindow: window})
	b, _ := r.process(t, "b", Options{LeaseWindow: window})
	c, _ := r.process(t, "c", Options{LeaseWindow: window})
	// a serves a busy stretch and stops, holding the rest of its last lease.
	var servedA int
	for servedA < 100 {
		servedA += burst(t, a, r.token, 20)
	}
	st := a.LeaseStats()
	held := st.Leased - st.Served - st.Returned
	require.Positive(t, held, "a holds leased uses it has not served: %+v", st)

	var wg sync.WaitGroup
	var servedB, servedC int
	start := time.Now()
	wg.Add(2)
	go func() { defer wg.Done(); servedB = burst(t, b, r.token, maxUses/2) }()
	go func() { defer wg.Done(); servedC = burst(t, c, r.token, maxUses/2) }()
	wg.Wait()
	t.Logf("a served %d (held %d when it stopped), b %d, c %d in %v; waits %d+%d", servedA, held, servedB, servedC, time.Since(start), b.LeaseStats().Awaited, c.LeaseStats().Awaited)
	assert.Equal(t, maxUses, servedA+servedB+servedC, "exactly the limit is served across the processes")
	assert.Equal(t, maxUses, r.uses(t))
	_, err := b.Authenticate(context.Background(), r.token)
	require.ErrorIs(t, err, ErrUnauthenticated, "and not one more")
}

// A process that dies holding a lease forfeits at most MaxLease-1 uses; the others
// never serve more than the limit, and wait for the dead one's uses only a bounded
// time.
func TestCrashForfeitsAtMostTheLease(t *testing.T) {
	const maxUses, maxLease = 400, 16
	r := newLeaseRig(t, maxUses)
	window := 100 * time.Millisecond
	a, ha := r.process(t, "a", Options{LeaseWindow: window, MaxLease: maxLease})
	b, _ := r.process(t, "b", Options{LeaseWindow: window, MaxLease: maxLease})
	servedA := 0
	for servedA < 150 {
		servedA += burst(t, a, r.token, 20)
	}
	ha.crashed.Store(true)

	start := time.Now()
	servedB := 0
	for range 4 {
		servedB += burst(t, b, r.token, maxUses/2)
	}
	waited := time.Since(start)
	// What a was granted and never served (a lease in flight at the crash included).
	st := a.LeaseStats()
	held := int(st.Leased - st.Served - st.Returned)
	forfeited := maxUses - servedA - servedB
	t.Logf("a served %d and died holding %d; b served %d; forfeited %d; b's bursts took %v", servedA, held, servedB, forfeited, waited)
	assert.Equal(t, held, forfeited, "exactly what the dead process held is forfeited")
	assert.LessOrEqual(t, forfeited, maxLease-1)
	assert.GreaterOrEqual(t, forfeited, 0, "over-use")
	assert.Equal(t, maxUses, r.uses(t), "the store counts every use granted")
	assert.Less(t, waited, 4*(heldForWindows+1)*window+5*time.Second, "waiting for a dead holder ends")
}

type atomicClock struct{ ns atomic.Int64 }

func (c *atomicClock) Now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *atomicClock) set(t time.Time)     { c.ns.Store(t.UnixNano()) }
func (c *atomicClock) add(d time.Duration) { c.ns.Add(int64(d)) }
func (c *atomicClock) String() string      { return fmt.Sprint(c.Now()) }
