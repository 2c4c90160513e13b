package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/acme/module-registry/runtime/auth"
	"github.com/acme/module-registry/runtime/secrets"
	"github.com/acme/module-registry/runtime/storage"
	"github.com/acme/module-registry/runtime/storage/embedded"
	"github.com/acme/module-registry/runtime/throttle"
	"github.com/acme/module-registry/runtime/validator"
)

// benchRegistry serves a 4 KiB package "plain" and the same bytes as "gated", whose
// validator allows the caller by name (the README's first example).
func benchRegistry(b *testing.B) (base, token string) {
	b.Helper()
	st, err := embedded.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	svc, err := auth.New(st, secrets.Static{Current: testKey}, auth.Options{Argon2: fastArgon2, MaxUses: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	hash, _ := svc.HashPassword(adminPW)
	if err := st.CreateUser(context.Background(), storage.User{Name: "admin", PasswordHash: hash, Permissions: []string{storage.PermAdmin}}); err != nil {
		b.Fatal(err)
	}
	pool, err := validator.New(benchValidatorConfig())
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(New(Config{Backend: st.Backend(), Auth: svc, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Limits: Limits{TokenRate: throttle.Unlimited, AddressRate: throttle.Unlimited}, Validators: pool}).Handler())
	b.Cleanup(srv.Close)
	do := func(method, path string, body []byte) []byte {
		req, _ := http.NewRequest(method, srv.URL+path, bytes.NewReader(body))
		if token != "" {
			req.Header.Set("X-Authorization", token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		if resp.StatusCode >= 300 {
			b.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, out)
		}
		return out
	}
	login := do("PUT", "/authenticate", []byte(`{"user":{"name":"admin"},"secret":{"password":"`+adminPW+`"}}`))
	if err := json.Unmarshal(login, &token); err != nil {
		b.Fatal(err)
	}
	content := bytes.Repeat([]byte("x"), 4096)
	do("PUT", "/packages/plain/1.0.0", content)
	do("PUT", "/packages/gated/1.0.0", content)
	do("PUT", "/packages/gated/1.0.0/validator", []byte(strings.ReplaceAll(onlyAlice, `"alice"`, `"admin"`)))
	return srv.URL, token
}

// benchChildEnv names a registry binary to run as the sandbox's child instead of
// this test binary: runtime/bench/validators.sh measures the production child.
const benchChildEnv = "VALIDATOR_BENCH_CHILD"

func benchValidatorConfig() validator.Config {
	if exe := os.Getenv(benchChildEnv); exe != "" {
		return validator.Config{Executable: exe, Args: []string{validator.ChildFlag}}
	}
	return validator.Config{}
}

func download(b *testing.B, client *http.Client, base, token, path string) time.Duration {
	t0 := time.Now()
	req, _ := http.NewRequest("GET", base+path, nil)
	req.Header.Set("X-Authorization", token)
	resp, err := client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		b.Fatalf("GET %s: %d", path, resp.StatusCode)
	}
	return time.Since(t0)
}

// BenchmarkDownloadValidator compares one download at a time of a package without a
// validator and of the same package with a trivial one, in the same run, and then
// keeps the pool full (pool-size callers back to back) for throughput.
// runtime/bench/validators.sh runs it and prints the table.
//
//	go test -run '^$' -bench DownloadValidator -benchtime 300x ./runtime/api/
func BenchmarkDownloadValidator(b *testing.B) {
	base, token := benchRegistry(b)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	for _, c := range []struct{ name, path string }{{"no-validator", "/packages/plain/1.0.0"}, {"trivial-validator", "/packages/gated/1.0.0"}} {
		b.Run(c.name, func(b *testing.B) {
			lat := make([]time.Duration, 0, b.N)
			for b.Loop() {
				lat = append(lat, download(b, client, base, token, c.path))
			}
			reportQuantiles(b, lat)
		})
	}
	for _, c := range []struct{ name, path string }{{"no-validator-parallel", "/packages/plain/1.0.0"}, {"trivial-validator-parallel", "/packages/gated/1.0.0"}} {
		b.Run(c.name, func(b *testing.B) {
			var (
				mu   sync.Mutex
				lat  []time.Duration
				next atomic.Int64
				wg   sync.WaitGroup
			)
			start := time.Now()
			for range validator.DefaultSize {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for next.Add(1) <= int64(b.N) {
						d := download(b, client, base, token, c.path)
						mu.Lock()
						lat = append(lat, d)
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "downloads/s")
			b.ReportMetric(float64(validator.DefaultSize), "clients")
			reportQuantiles(b, lat)
		})
	}
}

func reportQuantiles(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	q := func(f float64) float64 {
		return float64(lat[min(len(lat)-1, int(f*float64(len(lat))))].Microseconds()) / 1000
	}
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(0, "ns/op")
}
