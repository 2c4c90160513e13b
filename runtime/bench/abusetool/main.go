// Command abusetool plays hostile clients against a running registry for
// runtime/bench/abuse.sh and prints what the registry did, one line per run of
// "<key> <value>" pairs.
//
//	abusetool logins   -url URL -password P -c 1000 -duration 10s [-spread]
//	abusetool trickle  -url URL -c 200 -interval 2s -limit 2m [-upload -password P]
//	abusetool throttle -url URL -password P -c 8 -duration 5s
//
// Each hostile connection comes from its own loopback address (127.x.y.z) when
// -spread is given (and always for trickle), so per-address throttles see many
// clients, as from a botnet; without it they all come from 127.0.0.1.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: abusetool logins|trickle|throttle [flags]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	base := fs.String("url", "http://127.0.0.1:8080", "registry base URL")
	user := fs.String("user", "admin", "the legitimate user")
	password := fs.String("password", "", "the legitimate user's password")
	conc := fs.Int("c", 1000, "hostile connections")
	duration := fs.Duration("duration", 10*time.Second, "how long the attack lasts")
	spread := fs.Bool("spread", false, "logins: every attacker from its own address, guessing its own user names")
	interval := fs.Duration("interval", 2*time.Second, "trickle: time between two bytes")
	limit := fs.Duration("limit", 2*time.Minute, "trickle: give up waiting for the server after this long")
	upload := fs.Bool("upload", false, "trickle: package uploads instead of logins")
	_ = fs.Parse(os.Args[2:])
	var err error
	switch os.Args[1] {
	case "logins":
		err = logins(*base, *user, *password, *conc, *duration, *spread)
	case "trickle":
		err = trickle(*base, *user, *password, *conc, *interval, *limit, *upload)
	case "throttle":
		err = throttled(*base, *user, *password, *conc, *duration)
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "abusetool:", err)
		os.Exit(1)
	}
}

// sourceAddr is the i-th loopback address after 127.0.0.1.
func sourceAddr(i int) net.IP {
	n := i + 2
	return net.IPv4(127, byte(n>>16), byte(n>>8), byte(n))
}

// clientFrom is an HTTP client whose connections come from ip (nil: any).
func clientFrom(ip net.IP, conns int) *http.Client {
	d := &net.Dialer{Timeout: 10 * time.Second}
	if ip != nil {
		d.LocalAddr = &net.TCPAddr{IP: ip}
	}
	return &http.Client{Timeout: time.Minute, Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns}}
}

func loginBody(user, pw string) []byte {
	b, _ := json.Marshal(map[string]any{"user": map[string]string{"name": user}, "secret": map[string]string{"password": pw}})
	return b
}

func login(c *http.Client, base, user, pw string) (string, int, error) {
	req, _ := http.NewRequest("PUT", base+"/authenticate", bytes.NewReader(loginBody(user, pw)))
	resp, err := c.Do(req)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return "", resp.StatusCode, nil
	}
	var tok string
	return tok, 200, json.Unmarshal(body, &tok)
}

// counts tallies response statuses (0: transport error).
type counts struct {
	mu sync.Mutex
	m  map[int]int
}

func (c *counts) add(status int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[int]int{}
	}
	c.m[status]++
}

func (c *counts) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var parts []string
	for _, k := range slices.Sorted(func(yield func(int) bool) {
		for k := range c.m {
			if !yield(k) {
				return
			}
		}
	}) {
		name := fmt.Sprint(k)
		if k == 0 {
			name = "error"
		}
		parts = append(parts, fmt.Sprintf("status_%s %d", name, c.m[k]))
	}
	return strings.Join(parts, " ")
}

func quantile(d []time.Duration, q float64) float64 {
	if len(d) == 0 {
		return 0
	}
	return float64(d[int(q*float64(len(d)-1))].Microseconds()) / 1000
}

// logins floods the registry with wrong-password logins from conc connections for
// duration while one legitimate client lists packages 20 times a second; then it
// measures how soon the legitimate user's own login succeeds again.
func logins(base, user, pw string, conc int, duration time.Duration, spread bool) error {
	// The legitimate client has an address of its own: attackers sharing it would
	// throttle it along with them.
	legit := clientFrom(net.IPv4(127, 255, 255, 253), 4)
	tok, status, err := login(legit, base, user, pw)
	if err != nil || status != 200 {
		return fmt.Errorf("legitimate login: status %d, %v", status, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), duration)
	defer cancel()
	var attacks counts
	var wg sync.WaitGroup
	shared := clientFrom(nil, conc)
	for i := range conc {
		c, name := shared, user
		if spread {
			c, name = clientFrom(sourceAddr(i), 1), fmt.Sprintf("user%d", i)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ctx.Err() == nil; n++ {
				guess := name
				if spread {
					guess = fmt.Sprintf("%s-%d", name, n%50)
				}
				req, _ := http.NewRequestWithContext(ctx, "PUT", base+"/authenticate", bytes.NewReader(loginBody(guess, fmt.Sprintf("wrong-%d", rand.Int()))))
				resp, err := c.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						attacks.add(0)
						time.Sleep(10 * time.Millisecond)
					}
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				attacks.add(resp.StatusCode)
			}
		}()
	}

	var lat []time.Duration
	var legitFails int
	tick := time.NewTicker(50 * time.Millisecond)
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-tick.C:
			req, _ := http.NewRequest("GET", base+"/packages?limit=1", nil)
			req.Header.Set("X-Authorization", tok)
			t0 := time.Now()
			resp, err := legit.Do(req)
			if err != nil {
				legitFails++
				continue
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			lat = append(lat, time.Since(t0))
			if resp.StatusCode != 200 {
				legitFails++
			}
		}
	}
	tick.Stop()
	wg.Wait()
	ended := time.Now()

	// The legitimate user logs in from an address of its own, as soon as it can.
	var back time.Duration = -1
	owner := clientFrom(net.IPv4(127, 255, 255, 254), 1)
	for time.Since(ended) < time.Minute {
		if _, status, err := login(owner, base, user, pw); err == nil && status == 200 {
			back = time.Since(ended)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	slices.Sort(lat)
	fmt.Printf("logins attackers %d spread %t seconds %.0f %s legit_requests %d legit_failures %d legit_p50_ms %.1f legit_p99_ms %.1f legit_max_ms %.1f login_back_after_s %.2f\n",
		conc, spread, duration.Seconds(), attacks.String(), len(lat), legitFails, quantile(lat, 0.5), quantile(lat, 0.99), quantile(lat, 1), back.Seconds())
	return nil
}

// trickle opens conc connections, each from its own address, sends the headers of
// a request with a 4 KiB (login) or 1 MiB (upload) body and then one byte every
// interval, and reports how long the server kept each connection open.
func trickle(base, user, pw string, conc int, interval, limit time.Duration, upload bool) error {
	u, err := url.Parse(base)
	if err != nil {
		return err
	}
	var toks []string
	if upload {
		c := clientFrom(nil, 1)
		for range (conc + 39) / 40 { // a token takes a burst of 50 requests
			tok, status, err := login(c, base, user, pw)
			if err != nil || status != 200 {
				return fmt.Errorf("login: status %d, %v", status, err)
			}
			toks = append(toks, tok)
		}
	}
	type result struct {
		open   time.Duration
		status int
	}
	results := make(chan result, conc)
	for i := range conc {
		go func() {
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: sourceAddr(i)}, Timeout: 10 * time.Second}
			conn, err := d.Dial("tcp", u.Host)
			if err != nil {
				results <- result{status: -1}
				return
			}
			defer conn.Close()
			head := "PUT /authenticate HTTP/1.1\r\nHost: " + u.Host + "\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n"
			if upload {
				head = fmt.Sprintf("PUT /packages/trickle/%d HTTP/1.1\r\nHost: %s\r\nX-Authorization: %s\r\nContent-Length: 1048576\r\n\r\n", i, u.Host, toks[i/40])
			}
			start := time.Now()
			if _, err := io.WriteString(conn, head); err != nil {
				results <- result{status: -1}
				return
			}
			answered := make(chan int, 1)
			go func() {
				resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
				if err != nil {
					answered <- 0 // closed without an answer
					return
				}
				resp.Body.Close()
				answered <- resp.StatusCode
			}()
			tick := time.NewTicker(interval)
			defer tick.Stop()
			for {
				select {
				case st := <-answered:
					results <- result{open: time.Since(start), status: st}
					return
				case <-tick.C:
					if time.Since(start) > limit {
						results <- result{open: time.Since(start), status: -2}
						return
					}
					_, _ = conn.Write([]byte(" "))
				}
			}
		}()
	}
	var open []time.Duration
	var statuses counts
	stillOpen := 0
	for range conc {
		r := <-results
		switch r.status {
		case -1:
			statuses.add(0)
		case -2:
			stillOpen++
		default:
			statuses.add(r.status)
			open = append(open, r.open)
		}
	}
	slices.Sort(open)
	fmt.Printf("trickle conns %d upload %t interval_s %.0f %s still_open_after_limit %d open_min_s %.2f open_median_s %.2f open_max_s %.2f\n",
		conc, upload, interval.Seconds(), statuses.String(), stillOpen,
		quantile(open, 0)/1000, quantile(open, 0.5)/1000, quantile(open, 1)/1000)
	return nil
}

// throttled makes conc connections send requests with one token as fast as they can
// for duration, and reports the rate of answers of each status.
func throttled(base, user, pw string, conc int, duration time.Duration) error {
	c := clientFrom(nil, conc)
	tok, status, err := login(c, base, user, pw)
	if err != nil || status != 200 {
		return fmt.Errorf("login: status %d, %v", status, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), duration)
	defer cancel()
	var got counts
	var retryAfter atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, "GET", base+"/packages?limit=1", nil)
				req.Header.Set("X-Authorization", tok)
				resp, err := c.Do(req)
				if err != nil {
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				got.add(resp.StatusCode)
				if ra := resp.Header.Get("Retry-After"); ra != "" {
					retryAfter.Store(ra)
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start).Seconds()
	got.mu.Lock()
	ok, limited := got.m[200], got.m[429]
	got.mu.Unlock()
	fmt.Printf("throttle conns %d seconds %.1f %s ok_per_s %.1f throttled_per_s %.1f retry_after %v\n",
		conc, el, got.String(), float64(ok)/el, float64(limited)/el, retryAfter.Load())
	return nil
}
