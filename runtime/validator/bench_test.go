package validator

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkValidate measures one trivial validation at a time, process start to
// verdict, and reports its p50 and p99.
//
//	go test -run '^$' -bench Validate -benchtime 200x ./runtime/validator/
func BenchmarkValidate(b *testing.B) {
	p := newPool(b, Config{})
	in := sampleInput("alice")
	lat := make([]time.Duration, 0, b.N)
	for b.Loop() {
		t0 := time.Now()
		res, err := p.Run(context.Background(), []byte(allowAlice), in)
		if err != nil || res.Outcome != OutcomeAllowed {
			b.Fatalf("%+v %v", res, err)
		}
		lat = append(lat, time.Since(t0))
	}
	reportLatency(b, lat)
}

// BenchmarkValidateThroughput keeps the pool full (Size callers, each running
// trivial validations back to back) and reports validations per second.
func BenchmarkValidateThroughput(b *testing.B) {
	p := newPool(b, Config{})
	in := sampleInput("alice")
	var (
		mu  sync.Mutex
		lat []time.Duration
	)
	var next atomic.Int64
	start := time.Now()
	b.ResetTimer()
	var wg sync.WaitGroup
	for range p.Config().Size {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				t0 := time.Now()
				res, err := p.Run(context.Background(), []byte(allowAlice), in)
				if err != nil || res.Outcome != OutcomeAllowed {
					b.Errorf("%+v %v", res, err)
					return
				}
				mu.Lock()
				lat = append(lat, time.Since(t0))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "validations/s")
	b.ReportMetric(float64(p.Config().Size), "pool")
	reportLatency(b, lat)
}

func reportLatency(b *testing.B, lat []time.Duration) {
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
