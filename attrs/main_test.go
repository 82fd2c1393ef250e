package attrs_test

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestMain fails the run if goroutines outlive the tests: every Syncer,
// ClusterView, Registrar, subscription, client and embedded etcd must have
// been stopped by its owner.
func TestMain(m *testing.M) {
	before := len(goroutines())
	code := m.Run()
	if code == 0 {
		if leaked := leakedGoroutines(before, 10*time.Second); leaked != "" {
			fmt.Fprintf(os.Stderr, "goroutines leaked by the tests (%d before):\n%s", before, leaked)
			code = 1
		}
	}
	os.Exit(code)
}

// leakedGoroutines waits up to timeout for the goroutine count to fall back
// to n and returns the stacks of the ones left over if it does not.
func leakedGoroutines(n int, timeout time.Duration) string {
	deadline := time.Now().Add(timeout)
	for {
		gs := goroutines()
		if len(gs) <= n {
			return ""
		}
		if time.Now().After(deadline) {
			return strings.Join(gs, "\n\n") + "\n"
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// goroutines returns the stack of every goroutine but the os/signal loop,
// which the testing package starts for -fuzz and which is not the tests'.
func goroutines() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []string
	for _, g := range strings.Split(strings.TrimSpace(string(buf)), "\n\n") {
		if !strings.Contains(g, "os/signal.signal_recv") {
			out = append(out, g)
		}
	}
	return out
}
