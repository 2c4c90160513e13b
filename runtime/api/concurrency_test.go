package api

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// 64 concurrent requests on a token with 10 uses left: exactly 10 succeed.
func TestTokenLimitUnderConcurrency(t *testing.T) {
	const maxUses, used, workers = 40, 30, 64
	h := newHarness(t, harnessOpts{maxUses: maxUses})
	tok := h.admin()
	for range used {
		resp := h.do(req{method: "GET", path: "/packages", token: tok})
		require.Equal(t, 200, resp.StatusCode)
		readAll(t, resp)
	}
	statuses := make(chan int, workers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			hr, _ := http.NewRequest("GET", h.srv.URL+"/packages", nil)
			hr.Header.Set("X-Authorization", tok)
			resp, err := h.client.Do(hr)
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			statuses <- resp.StatusCode
		}()
	}
	close(start)
	wg.Wait()
	close(statuses)
	count := map[int]int{}
	for s := range statuses {
		count[s]++
	}
	assert.Equal(t, map[int]int{200: maxUses - used, 403: workers - (maxUses - used)}, count)
}

// The use counter is persistent: a restart does not reset it.
func TestTokenLimitSurvivesRestart(t *testing.T) {
	h := newHarness(t, harnessOpts{maxUses: 3})
	tok := h.admin()
	for range 2 {
		resp := h.do(req{method: "GET", path: "/packages", token: tok})
		require.Equal(t, 200, resp.StatusCode)
		readAll(t, resp)
	}
	h.restart()
	resp := h.do(req{method: "GET", path: "/packages", token: tok})
	require.Equal(t, 200, resp.StatusCode, "the token is still valid after a restart")
	readAll(t, resp)
	expectError(t, h.do(req{method: "GET", path: "/packages", token: tok}), 403)
}

// gatedBody hands out its first chunk, reports that the server asked for the
// body, then blocks until released.
type gatedBody struct {
	data    []byte
	started chan<- struct{}
	gate    <-chan struct{}
	first   bool
}

func (g *gatedBody) Read(p []byte) (int, error) {
	if !g.first {
		g.first = true
		g.started <- struct{}{}
		<-g.gate
	}
	if len(g.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p, g.data)
	g.data = g.data[n:]
	return n, nil
}

// Two uploads of one version racing past the existence check: one 201,
// one 409, and the stored bytes are the winner's.
func TestConcurrentUploadsOfOneVersion(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	tok := h.admin()
	started := make(chan struct{}, 2)
	gate := make(chan struct{})
	bodies := [][]byte{bytes.Repeat([]byte("A"), 3*copyBufSize), bytes.Repeat([]byte("B"), 3*copyBufSize)}
	type result struct {
		status int
		body   []byte
	}
	results := make(chan result, 2)
	for _, b := range bodies {
		go func() {
			hr, _ := http.NewRequest("PUT", h.srv.URL+"/packages/race/1.0.0", &gatedBody{data: b, started: started, gate: gate})
			hr.ContentLength = int64(len(b))
			hr.Header.Set("X-Authorization", tok)
			// The client sends the body only once the handler reads it, i.e.
			// after the handler's own existence check.
			hr.Header.Set("Expect", "100-continue")
			resp, err := h.client.Do(hr)
			if err != nil {
				t.Error(err)
				results <- result{}
				return
			}
			out, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			results <- result{resp.StatusCode, b}
			_ = out
		}()
	}
	<-started
	<-started
	close(gate)
	r1, r2 := <-results, <-results
	statuses := map[int]int{r1.status: 1}
	statuses[r2.status]++
	require.Equal(t, map[int]int{201: 1, 409: 1}, statuses)
	winner := r1
	if r2.status == 201 {
		winner = r2
	}
	resp := h.do(req{method: "GET", path: "/packages/race/1.0.0", token: tok})
	assert.Equal(t, sha(winner.body), sha(readAll(t, resp)))
	assert.Len(t, h.blobFiles(), 1, "the loser's blob is removed")
	p, err := h.store.GetPackage(context.Background(), "race", "1.0.0")
	require.NoError(t, err)
	assert.Equal(t, sha(winner.body), p.SHA256)
}
