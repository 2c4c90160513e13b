package syncbuf_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/acme/module-registry/runtime/internal/syncbuf"
)

// Concurrent writers lose no line and interleave none (run with -race).
func TestConcurrentWrites(t *testing.T) {
	var b syncbuf.Buffer
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fmt.Fprintf(&b, "line %02d\n", i)
			_ = b.String()
		}()
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 50 {
		t.Fatalf("%d lines, want 50", len(lines))
	}
	for _, l := range lines {
		if len(l) != len("line 00") {
			t.Errorf("interleaved line %q", l)
		}
	}
}
