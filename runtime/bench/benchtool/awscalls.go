package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/acme/module-registry/runtime/api"
	"github.com/acme/module-registry/runtime/auth"
	"github.com/acme/module-registry/runtime/client"
	"github.com/acme/module-registry/runtime/contract"
	"github.com/acme/module-registry/runtime/secrets"
	"github.com/acme/module-registry/runtime/storage"
	"github.com/acme/module-registry/runtime/storage/awsstore"
	"github.com/acme/module-registry/runtime/storage/awsstore/awsstoretest"
	"github.com/acme/module-registry/runtime/throttle"
	"github.com/acme/module-registry/test/emulator"
)

// callCounter is an HTTP transport in front of the AWS SDK's that counts the calls
// the store makes: DynamoDB by operation and table kind, S3 by operation.
type callCounter struct {
	tables map[string]string // table name -> kind
	mu     sync.Mutex
	calls  map[string]int
}

func (c *callCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	name := c.classify(r)
	c.mu.Lock()
	c.calls[name]++
	c.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

// classify names the call "dynamodb <Operation> <table kind>" or "s3 <operation>".
func (c *callCounter) classify(r *http.Request) string {
	if target := r.Header.Get("X-Amz-Target"); target != "" {
		op := target[strings.LastIndexByte(target, '.')+1:]
		var body struct{ TableName string }
		if r.Body != nil {
			b, _ := io.ReadAll(r.Body)
			r.Body.Close()
			r.Body = io.NopCloser(bytes.NewReader(b))
			_ = json.Unmarshal(b, &body)
		}
		if strings.HasPrefix(target, "DynamoDB") {
			return "dynamodb " + op + " " + c.tables[body.TableName]
		}
		return target
	}
	q := r.URL.Query()
	switch {
	case r.Method == "PUT" && q.Has("partNumber"):
		return "s3 UploadPart"
	case r.Method == "POST" && q.Has("uploads"):
		return "s3 CreateMultipartUpload"
	case r.Method == "POST" && q.Has("uploadId"):
		return "s3 CompleteMultipartUpload"
	case r.Method == "DELETE" && q.Has("uploadId"):
		return "s3 AbortMultipartUpload"
	case r.Method == "PUT":
		return "s3 PutObject"
	case r.Method == "GET" && q.Has("list-type"):
		return "s3 ListObjectsV2"
	case r.Method == "GET":
		return "s3 GetObject"
	case r.Method == "HEAD":
		return "s3 HeadObject"
	case r.Method == "DELETE":
		return "s3 DeleteObject"
	}
	return "s3 " + r.Method
}

// take returns the calls counted since the last take, once the audit records
// written after an answer have landed.
func (c *callCounter) take() map[string]int {
	time.Sleep(300 * time.Millisecond)
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.calls
	c.calls = map[string]int{}
	return out
}

// awsCalls runs the registry's handler on the AWS backend against a local emulator
// and prints, per request of each kind, the DynamoDB and S3 calls the store made:
// a markdown table.
func awsCalls(ctx context.Context, gets, clients int) error {
	emu, err := emulator.Launch(ctx, emulator.Options{})
	if err != nil {
		return err
	}
	defer emu.Stop()
	env, err := awsstoretest.NewEnv(ctx, emu)
	if err != nil {
		return err
	}
	cfg, err := env.Resources(ctx)
	if err != nil {
		return err
	}
	counter := &callCounter{tables: map[string]string{}, calls: map[string]int{}}
	for _, t := range contract.Tables() {
		counter.tables[cfg.Tables.Get(t.Kind)] = string(t.Kind)
	}
	awsCfg := env.AWS.Copy()
	awsCfg.HTTPClient = &http.Client{Transport: counter}
	st, err := awsstore.New(awsCfg, cfg)
	if err != nil {
		return err
	}
	type row struct {
		label    string
		requests int
		calls    map[string]int
		leases   auth.LeaseStats
	}
	var rows []row
	for _, maxLease := range []int{1, auth.DefaultMaxLease} {
		svc, err := auth.New(st, secrets.Static{Current: bytes.Repeat([]byte("k"), 32)}, auth.Options{MaxLease: maxLease, MaxUses: 1 << 20,
			Argon2: auth.Argon2Params{Time: 1, MemKiB: 64, Threads: 1}})
		if err != nil {
			return err
		}
		hash, err := svc.HashPassword("bench-password")
		if err != nil {
			return err
		}
		if err := st.PutUser(ctx, storage.User{Name: "bench", PasswordHash: hash, Permissions: []string{storage.PermAdmin}}); err != nil {
			return err
		}
		srv := httptest.NewServer(api.New(api.Config{Backend: st.Backend(), Auth: svc, Logger: slog.New(slog.DiscardHandler),
			Limits: api.Limits{TokenRate: throttle.Unlimited, AddressRate: throttle.Unlimited}}).Handler())
		hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
		cs := make([]*client.Client, clients)
		for i := range cs {
			cs[i] = login(ctx, srv.URL, "bench", "bench-password", hc)
		}
		tag := fmt.Sprintf("MaxLease %d", maxLease)
		counter.take()
		const uploads, size = 5, 1 << 20
		for i := range uploads {
			body := bytes.Repeat([]byte{byte(i)}, size)
			if _, err := cs[0].Push(ctx, "calls", fmt.Sprintf("%d.%d", maxLease, i), bytes.NewReader(body), size, nil); err != nil {
				return fmt.Errorf("upload: %w", err)
			}
		}
		rows = append(rows, row{label: "upload 1 MiB (" + tag + ")", requests: uploads, calls: counter.take()})
		for i := range uploads {
			v, err := cs[0].Open(ctx, "calls", fmt.Sprintf("%d.%d", maxLease, i), nil)
			if err != nil {
				return fmt.Errorf("download: %w", err)
			}
			_, err = io.Copy(io.Discard, v)
			v.Close()
			if err != nil {
				return fmt.Errorf("download: %w", err)
			}
		}
		rows = append(rows, row{label: "download, verified (" + tag + ")", requests: uploads, calls: counter.take()})
		// GETs from clients with a token each, then from clients sharing one token: a
		// token's lease size follows its own request rate.
		shared, err := client.New(srv.URL, &client.Options{HTTPClient: hc, MaxRetries: -1})
		if err != nil {
			return err
		}
		tok, err := shared.Login(ctx, "bench", "bench-password")
		if err != nil {
			return err
		}
		same := make([]*client.Client, clients)
		for i := range same {
			if same[i], err = client.New(srv.URL, &client.Options{HTTPClient: hc, MaxRetries: -1, Token: tok}); err != nil {
				return err
			}
		}
		counter.take()
		for _, set := range []struct {
			label string
			cs    []*client.Client
		}{{"a token each", cs}, {"one token", same}} {
			before := svc.LeaseStats()
			var wg sync.WaitGroup
			errs := make(chan error, clients)
			start := time.Now()
			for i := range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range gets / clients {
						if _, err := set.cs[i].List(ctx, client.ListOptions{Name: "calls", Limit: 10}); err != nil {
							errs <- err
							return
						}
					}
				}()
			}
			wg.Wait()
			el := time.Since(start)
			close(errs)
			if err := <-errs; err != nil {
				return err
			}
			after := svc.LeaseStats()
			n := gets / clients * clients
			rows = append(rows, row{label: fmt.Sprintf("GET /packages, %d clients with %s, %.0f req/s (%s)", clients, set.label, float64(n)/el.Seconds(), tag), requests: n, calls: counter.take(),
				leases: auth.LeaseStats{Leases: after.Leases - before.Leases, Served: after.Served - before.Served}})
		}
		srv.Close()
		if err := svc.ReleaseLeases(ctx); err != nil {
			return err
		}
	}

	fmt.Println("| Request (AWS backend, emulator) | DynamoDB calls / request | S3 calls / request | token writes / request | uses per lease | calls |")
	fmt.Println("|---|---|---|---|---|---|")
	for _, r := range rows {
		var ddb, s3n, tokenWrites int
		var names []string
		for k, v := range r.calls {
			switch {
			case strings.HasPrefix(k, "dynamodb "):
				ddb += v
				if strings.HasSuffix(k, " "+string(contract.Tokens)) && strings.Contains(k, "UpdateItem") {
					tokenWrites += v
				}
			case strings.HasPrefix(k, "s3 "):
				s3n += v
			}
			names = append(names, fmt.Sprintf("%s %.2f", k, float64(v)/float64(r.requests)))
		}
		sort.Strings(names)
		perLease := "-"
		if r.leases.Leases > 0 {
			perLease = fmt.Sprintf("%.1f", float64(r.leases.Served)/float64(r.leases.Leases))
		}
		fmt.Printf("| %s | %.2f | %.2f | %.3f | %s | %s |\n", r.label, float64(ddb)/float64(r.requests), float64(s3n)/float64(r.requests),
			float64(tokenWrites)/float64(r.requests), perLease, strings.Join(names, "; "))
	}
	return nil
}
