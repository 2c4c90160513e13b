// Command benchtool drives the registry benchmarks run by runtime/bench/run.sh.
//
//	benchtool sha256 -size 1073741824
//	benchtool upload   -url URL -user U -password P -name N -version V -size BYTES
//	benchtool download -url URL -user U -password P -name N -version V
//	benchtool latency  -url URL -user U -password P -c 64 -n 300
//
// Each prints one line: "<metric> <value> <unit> [more pairs]".
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"sort"
	"sync"
	"time"
)

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: benchtool sha256|upload|download|latency [flags]")
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
	_ = fs.Parse(os.Args[2:])
	var err error
	switch os.Args[1] {
	case "sha256":
		err = benchSHA(*size)
	case "upload":
		err = upload(*url, login(*url, *user, *password), *name, *version, *size)
	case "download":
		err = download(*url, login(*url, *user, *password), *name, *version)
	case "latency":
		err = latency(*url, *user, *password, *name, *conc, *per)
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

func login(url, user, pw string) string {
	body, _ := json.Marshal(map[string]any{"user": map[string]any{"name": user}, "secret": map[string]string{"password": pw}})
	req, _ := http.NewRequest("PUT", url+"/authenticate", bytes.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintln(os.Stderr, "login:", err)
		os.Exit(1)
	}
	defer resp.Body.Close()
	var tok string
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&tok) != nil {
		fmt.Fprintln(os.Stderr, "login failed:", resp.Status)
		os.Exit(1)
	}
	return tok
}

func upload(url, tok, name, version string, size int64) error {
	req, _ := http.NewRequest("PUT", url+"/packages/"+name+"/"+version, io.LimitReader(zeros{}, size))
	req.ContentLength = size
	req.Header.Set("X-Authorization", tok)
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	el := time.Since(start)
	if resp.StatusCode != 201 {
		return fmt.Errorf("upload: %s %s", resp.Status, b)
	}
	fmt.Printf("upload %.1f MiB/s seconds %.2f\n", float64(size)/el.Seconds()/(1<<20), el.Seconds())
	return nil
}

func download(url, tok, name, version string) error {
	// The expected hash of the zero-filled upload is computed locally.
	req, _ := http.NewRequest("GET", url+"/packages/"+name+"/"+version, nil)
	req.Header.Set("X-Authorization", tok)
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("download: %s %s", resp.Status, b)
	}
	buf := make([]byte, 1<<20)
	var n int64
	for {
		k, rerr := resp.Body.Read(buf)
		n += int64(k)
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			err = rerr
			break
		}
	}
	if err != nil {
		return fmt.Errorf("download aborted after %d bytes: %w", n, err)
	}
	el := time.Since(start)
	want := resp.Header.Get("X-Checksum-SHA256")
	h := sha256.New()
	io.Copy(h, io.LimitReader(zeros{}, n))
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return fmt.Errorf("digest header %s does not match content %s", want, got)
	}
	fmt.Printf("download %.1f MiB/s seconds %.2f\n", float64(n)/el.Seconds()/(1<<20), el.Seconds())
	return nil
}

func latency(url, user, pw, name string, conc, per int) error {
	if per > 900 {
		return fmt.Errorf("-n %d exceeds what one token allows", per)
	}
	tr := &http.Transport{MaxIdleConnsPerHost: conc, MaxConnsPerHost: conc}
	client := &http.Client{Transport: tr}
	toks := make([]string, conc)
	for i := range toks {
		toks[i] = login(url, user, pw)
	}
	const warmup = 20
	var mu sync.Mutex
	var all []time.Duration
	var failures int
	var wg sync.WaitGroup
	start := time.Now()
	for i := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, per)
			fails := 0
			for j := range per + warmup {
				req, _ := http.NewRequest("GET", url+"/packages?name="+name+"&limit=10", nil)
				req.Header.Set("X-Authorization", toks[i])
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					fails++
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				d := time.Since(t0)
				if resp.StatusCode != 200 {
					fails++
				}
				if j >= warmup {
					local = append(local, d)
				}
			}
			mu.Lock()
			all = append(all, local...)
			failures += fails
			mu.Unlock()
		}()
	}
	wg.Wait()
	el := time.Since(start)
	sort.Slice(all, func(a, b int) bool { return all[a] < all[b] })
	q := func(p float64) float64 { return float64(all[int(p*float64(len(all)-1))].Microseconds()) / 1000 }
	fmt.Printf("latency p50_ms %.2f p99_ms %.2f requests %d failures %d rps %.0f\n", q(0.50), q(0.99), len(all), failures, float64(len(all)+conc*warmup)/el.Seconds())
	if failures > 0 {
		return fmt.Errorf("%d failed requests", failures)
	}
	return nil
}
