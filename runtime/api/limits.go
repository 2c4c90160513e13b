package api

import (
	"errors"
	"net/netip"
	"time"

	"github.com/acme/module-registry/runtime/auth"
	"github.com/acme/module-registry/runtime/throttle"
)

// Limits bound what one client can make the server spend: time on bodies, requests
// per token and per address, and password checks after failed logins. Zero fields
// take the defaults below. Throttling state is kept in memory per process.
type Limits struct {
	// BodyTimeout: a request body other than a package upload must arrive within it.
	// Default DefaultBodyTimeout.
	BodyTimeout time.Duration
	// ResponseTimeout: a response other than a package download must be written
	// within it. Default DefaultResponseTimeout.
	ResponseTimeout time.Duration
	// TransferIdleTimeout: an upload or download read or write may wait at most this
	// long, and a transfer gets it as a grace before TransferMinRate counts. Default
	// DefaultTransferIdleTimeout.
	TransferIdleTimeout time.Duration
	// TransferMinRate is the average bytes per second a transfer must keep over the
	// time spent waiting on the client. Default DefaultTransferMinRate; negative: no
	// minimum (the idle timeout still applies).
	TransferMinRate int64
	// MaxJSONBytes caps a JSON request body. Default DefaultMaxJSONBytes.
	MaxJSONBytes int64
	// TokenRate limits the requests of one token, AddressRate those of one client
	// address (an IPv6 /64). Defaults DefaultTokenRate and DefaultAddressRate;
	// throttle.Unlimited switches one off.
	TokenRate, AddressRate throttle.Rate
	// NameLoginBackoff slows down failed logins per user name, AddressLoginBackoff
	// per client address. Defaults DefaultNameLoginBackoff and
	// DefaultAddressLoginBackoff.
	NameLoginBackoff, AddressLoginBackoff throttle.BackoffPolicy
	// TrustedProxies are the peers whose X-Forwarded-For names the client (the load
	// balancer). Default none: the peer is the client.
	TrustedProxies []netip.Prefix
	// MaxTrackedKeys bounds the tokens, addresses and names each throttle tracks.
	// Default throttle.DefaultMaxKeys.
	MaxTrackedKeys int
}

// Default throttling: generous for people and CI, tight enough that no single token
// or address can monopolise a task.
var (
	DefaultTokenRate   = throttle.Rate{PerSecond: 25, Burst: 50}
	DefaultAddressRate = throttle.Rate{PerSecond: 100, Burst: 200}
	// DefaultNameLoginBackoff: five free failures per user name, then 1 s doubling up
	// to 5 s - short, so a flood against a name locks its owner out for seconds only.
	DefaultNameLoginBackoff = throttle.BackoffPolicy{Free: 5, Base: time.Second, Max: 5 * time.Second}
	// DefaultAddressLoginBackoff: twenty free failures per address (addresses are
	// shared behind NAT), then 1 s doubling up to 30 s.
	DefaultAddressLoginBackoff = throttle.BackoffPolicy{Free: 20, Base: time.Second, Max: 30 * time.Second}
)

func (l Limits) withDefaults() Limits {
	set := func(d *time.Duration, def time.Duration) {
		if *d <= 0 {
			*d = def
		}
	}
	set(&l.BodyTimeout, DefaultBodyTimeout)
	set(&l.ResponseTimeout, DefaultResponseTimeout)
	set(&l.TransferIdleTimeout, DefaultTransferIdleTimeout)
	if l.TransferMinRate == 0 {
		l.TransferMinRate = DefaultTransferMinRate
	}
	if l.MaxJSONBytes <= 0 {
		l.MaxJSONBytes = DefaultMaxJSONBytes
	}
	if l.TokenRate == (throttle.Rate{}) {
		l.TokenRate = DefaultTokenRate
	}
	if l.AddressRate == (throttle.Rate{}) {
		l.AddressRate = DefaultAddressRate
	}
	if l.NameLoginBackoff == (throttle.BackoffPolicy{}) {
		l.NameLoginBackoff = DefaultNameLoginBackoff
	}
	if l.AddressLoginBackoff == (throttle.BackoffPolicy{}) {
		l.AddressLoginBackoff = DefaultAddressLoginBackoff
	}
	return l
}

// guards are a server's throttles.
type guards struct {
	tokens, addresses *throttle.Limiter
	// failed logins
	names, loginAddresses *throttle.Backoff
}

func newGuards(l Limits, now func() time.Time) *guards {
	return &guards{
		tokens:         throttle.NewLimiter(l.TokenRate, "token", now, l.MaxTrackedKeys),
		addresses:      throttle.NewLimiter(l.AddressRate, "client address", now, l.MaxTrackedKeys),
		names:          throttle.NewBackoff(l.NameLoginBackoff, "user name", now, l.MaxTrackedKeys),
		loginAddresses: throttle.NewBackoff(l.AddressLoginBackoff, "client address", now, l.MaxTrackedKeys),
	}
}

// admitLogin refuses a login while its name or its address is backing off.
func (g *guards) admitLogin(address, name string) error {
	if err := g.loginAddresses.Check(address); err != nil {
		return err
	}
	return g.names.Check(name)
}

// loginDone records a login's outcome: a wrong password counts against the name and
// the address; a success clears the name (its owner is back).
func (g *guards) loginDone(address, name string, err error) {
	switch {
	case errors.Is(err, auth.ErrBadCredentials):
		g.names.Fail(name)
		g.loginAddresses.Fail(address)
	case err == nil:
		g.names.Reset(name)
	}
}
