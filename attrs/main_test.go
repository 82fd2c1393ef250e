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
	before := runtime.NumGoroutine()
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
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			return strings.TrimSpace(string(buf)) + "\n"
		}
		time.Sleep(50 * time.Millisecond)
	}
	return ""
}
