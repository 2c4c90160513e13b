// Command benchtool drives the registry benchmarks run by runtime/bench/run.sh,
// through the registry's Go client (runtime/client).
//
//	benchtool sha256 -size 1073741824
//	benchtool upload   -url URL -user U -password P -name N -version V -size BYTES
//	benchtool download -url URL -user U -password P -name N -version V
//	benchtool latency  -url URL -user U -password P -c 64 -n 300
//	benchtool latency  -url URL -bare -c 64 -n 300   # against benchtool bare: no login
//	benchtool bare     -addr 127.0.0.1:PORT -body FILE
//	benchtool awscalls -n 960 -c 16   # AWS calls per request, AWS backend on a local emulator
//
// Each measurement prints one line: "<metric> <value> <unit> [more pairs]".
package main

import (
	"context"
	"crypto/sha256"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/acme/module-registry/runtime/client"
)

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: benchtool sha256|upload|download|latency|bare|awscalls [flags]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	url := fs.String("url", "http://127.0.0.1:8080", "registry base URL")
	user := fs.String("user", "admin", "user")
	password := fs.String("password", "", "password")
	name := fs.String("name", "bench", "package name")
	version := fs.String("version", "1.0.0", "package version")
	size := fs.Int64("size", 1<<30, "bytes")
	conc := fs.Int("c", 64, "concurrent clients")
	per := fs.Int("n", 300, "requests per client")
	bareTarget := fs.Bool("bare", false, "latency: the target is benchtool bare (no login; a placeholder token is sent)")
	addr := fs.String("addr", "127.0.0.1:0", "bare: listen address")
	body := fs.String("body", "", "bare: file holding the JSON answer")
	_ = fs.Parse(os.Args[2:])
	ctx := context.Background()
	var err error
	switch os.Args[1] {
	case "sha256":
		err = benchSHA(*size)
	case "upload":
		err = upload(ctx, login(ctx, *url, *user, *password, nil), *name, *version, *size)
	case "download":
		err = download(ctx, login(ctx, *url, *user, *password, nil), *name, *version)
	case "latency":
		err = latency(ctx, *url, *user, *password, *name, *conc, *per, *bareTarget)
	case "bare":
		err = bare(*addr, *body)
	case "awscalls":
		err = awsCalls(ctx, *per, *conc)
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtool:", err)
		os.Exit(1)
	}
}

func benchSHA(size int64) error {
	runtime.GOMAXPROCS(1)
	buf := make([]byte, 1<<20)
	h := sha256.New()
	start := time.Now()
	for done := int64(0); done < size; done += int64(len(buf)) {
		h.Write(buf)
	}
	h.Sum(nil)
	el := time.Since(start)
	fmt.Printf("sha256_single_core %.1f MiB/s\n", float64(size)/el.Seconds()/(1<<20))
	return nil
}

// login returns a client logged in as user. Answers 429 are failures, not waits, so
// that they show in the figures.
func login(ctx context.Context, url, user, pw string, hc *http.Client) *client.Client {
	c, err := client.New(url, &client.Options{HTTPClient: hc, MaxRetries: -1})
	if err == nil {
		_, err = c.Login(ctx, user, pw)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "login:", err)
		os.Exit(1)
	}
	return c
}

// upload sends size zero bytes; their digest is computed before the clock starts and
// declared, so the figure is the registry's (which hashes them again), not ours.
func upload(ctx context.Context, c *client.Client, name, version string, size int64) error {
	sum, _, err := client.Digest(io.LimitReader(zeros{}, size))
	if err != nil {
		return err
	}
	start := time.Now()
	if _, err := c.Push(ctx, name, version, io.LimitReader(zeros{}, size), size, &client.PushOptions{SHA256: sum}); err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	el := time.Since(start)
	fmt.Printf("upload %.1f MiB/s seconds %.2f\n", float64(size)/el.Seconds()/(1<<20), el.Seconds())
	return nil
}

// download reads the package as every client does: verified while streaming (the
// registry verifies it too).
func download(ctx context.Context, c *client.Client, name, version string) error {
	start := time.Now()
	v, err := c.Open(ctx, name, version, nil)
	if err != nil {
		return fmt.Errorf("download: %w", err)
	}
	defer v.Close()
	n, err := io.Copy(io.Discard, v)
	if err != nil {
		return fmt.Errorf("download aborted after %d bytes: %w", n, err)
	}
	el := time.Since(start)
	fmt.Printf("download %.1f MiB/s seconds %.2f\n", float64(n)/el.Seconds()/(1<<20), el.Seconds())
	return nil
}

// placeholderToken is what latency -bare sends: a well-formed bearer token, so the
// request carries the same headers as an authenticated one; the bare handler ignores it.
const placeholderToken = "bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJiZW5jaCJ9.c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmUtc2ln"

func latency(ctx context.Context, url, user, pw, name string, conc, per int, bareTarget bool) error {
	if per > 900 {
		return fmt.Errorf("-n %d exceeds what one token allows", per)
	}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conc, MaxConnsPerHost: conc}}
	clients := make([]*client.Client, conc)
	for i := range clients {
		if !bareTarget {
			clients[i] = login(ctx, url, user, pw, hc)
			continue
		}
		c, err := client.New(url, &client.Options{HTTPClient: hc, MaxRetries: -1, Token: placeholderToken})
		if err != nil {
			return err
		}
		clients[i] = c
	}
	const warmup = 20
	var mu sync.Mutex
	var all []time.Duration
	var failures int
	var firstErr error
	var wg sync.WaitGroup
	start := time.Now()
	for i := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, per)
			fails := 0
			var failure error
			for j := range per + warmup {
				t0 := time.Now()
				_, err := clients[i].List(ctx, client.ListOptions{Name: name, Limit: 10})
				d := time.Since(t0)
				if err != nil {
					fails++
					failure = err
					continue
				}
				if j >= warmup {
					local = append(local, d)
				}
			}
			mu.Lock()
			all = append(all, local...)
			failures += fails
			if firstErr == nil {
				firstErr = failure
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	el := time.Since(start)
	if len(all) == 0 {
		return fmt.Errorf("every request failed: %w", firstErr)
	}
	sort.Slice(all, func(a, b int) bool { return all[a] < all[b] })
	q := func(p float64) float64 { return float64(all[int(p*float64(len(all)-1))].Microseconds()) / 1000 }
	fmt.Printf("latency p50_ms %.2f p99_ms %.2f requests %d failures %d rps %.0f\n", q(0.50), q(0.99), len(all), failures, float64(len(all)+conc*warmup)/el.Seconds())
	if failures > 0 {
		return fmt.Errorf("%d failed requests, such as: %w", failures, firstErr)
	}
	return nil
}

// bare serves the bytes of bodyFile as every answer, as the registry writes a JSON
// answer (status 200, Content-Type application/json), with no authentication and no
// storage: the ceiling the registry's GET path is measured against. It prints
// "listening <addr>" once it accepts connections and serves until killed.
func bare(addr, bodyFile string) error {
	body, err := os.ReadFile(bodyFile)
	if err != nil {
		return fmt.Errorf("bare: %w", err)
	}
	if len(body) == 0 {
		return fmt.Errorf("bare: %s is empty", bodyFile)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("bare: %w", err)
	}
	fmt.Printf("listening %s\n", ln.Addr())
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body)
	})
	return (&http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}).Serve(ln)
}
