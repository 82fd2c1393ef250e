package isolate

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/gleaner/gleaner/internal/testenv"
)

// helperEnv selects what the re-executed test binary does (see TestMain).
const helperEnv = "GLEANER_ISOLATE_HELPER"

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "":
		os.Exit(m.Run())
	case "spin":
		waitGo()
		n, _ := strconv.Atoi(os.Getenv("GLEANER_ISOLATE_SPINNERS"))
		for range max(n, 1) - 1 {
			go spin()
		}
		spin()
	case "hog":
		waitGo()
		for {
			b := make([]byte, 1<<20)
			for i := 0; i < len(b); i += 4096 {
				b[i] = 1
			}
			hogged = append(hogged, b)
		}
	case "sleep":
		waitGo()
		time.Sleep(time.Hour)
	}
	os.Exit(2)
}

// waitGo blocks until the test writes a line: the test first places the
// process in its cgroup, then lets it work.
func waitGo() {
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
}

// hogged keeps the hog helper's memory reachable.
var hogged [][]byte

func spin() {
	for x := 0; ; x++ {
		_ = x
	}
}

// helper is a child process of the test.
type helper struct {
	cmd  *exec.Cmd
	gate *os.File
	done chan struct{} // closed when the process has been reaped
	err  error         // cmd.Wait's result, valid after done
}

// startHelper starts the test binary as helper kind, parked until release.
func startHelper(t testing.TB, kind string, env ...string) *helper {
	t.Helper()
	return startCmd(t, exec.Command(os.Args[0], "-test.run=^$"), append(env, helperEnv+"="+kind)...)
}

func startCmd(t testing.TB, cmd *exec.Cmd, env ...string) *helper {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = r
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r.Close()
	h := &helper{cmd: cmd, gate: w, done: make(chan struct{})}
	go func() {
		h.err = cmd.Wait()
		close(h.done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-h.done
		w.Close()
	})
	return h
}

func (h *helper) pid() int { return h.cmd.Process.Pid }

// wait waits for the process to be reaped and returns cmd.Wait's result.
func (h *helper) wait() error {
	<-h.done
	return h.err
}

// release lets the parked helper start its work.
func (h *helper) release(t testing.TB) {
	t.Helper()
	if _, err := h.gate.WriteString("go\n"); err != nil {
		t.Fatal(err)
	}
}

// newTestIsolator makes an isolator with a unique parent cgroup, destroyed
// when the test ends.
func newTestIsolator(t testing.TB, opts ...IsolatorOption) *Isolator {
	t.Helper()
	testenv.RequireCgroupV1(t, "cpu", "cpuacct", "memory", "pids", "freezer")
	parent := uniqueParent()
	iso, err := New(append([]IsolatorOption{WithParent(parent)}, opts...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := iso.Destroy(ctx); err != nil {
			t.Errorf("Destroy: %v", err)
		}
	})
	return iso
}

func uniqueParent() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "/gleaner-test-isolate-" + hex.EncodeToString(b)
}

// boostParent gives the test's parent cgroup a large cpu.shares so that
// CPU measurements see the quota, not contention with other work on the
// machine. Tests only: the Isolator leaves parent shares alone.
func boostParent(t testing.TB, iso *Isolator) {
	t.Helper()
	p := filepath.Join(iso.feat.Mounts["cpu"], iso.parent, "cpu.shares")
	if err := os.WriteFile(p, []byte("65536"), 0); err != nil {
		t.Fatal(err)
	}
}

// measureCPU returns the cores used by tasks over window.
func measureCPU(t testing.TB, window time.Duration, tasks ...*Task) float64 {
	t.Helper()
	usage := func() time.Duration {
		var sum time.Duration
		for _, task := range tasks {
			s, err := task.Stats()
			if err != nil {
				t.Fatal(err)
			}
			sum += s.CPUUsage
		}
		return sum
	}
	// Let the scheduler settle: the first period after start may run a
	// full period before the quota bites.
	time.Sleep(200 * time.Millisecond)
	u0, t0 := usage(), time.Now()
	time.Sleep(window)
	u1, t1 := usage(), time.Now()
	return float64(u1-u0) / float64(t1.Sub(t0))
}

func cgroupDirs(iso *Isolator, rel string) []string {
	var out []string
	for _, c := range v1Controllers {
		if m, ok := iso.feat.Mounts[c]; ok {
			out = append(out, filepath.Join(m, iso.parent, rel))
		}
	}
	return out
}

func listDir(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	return names
}

// requireGoroutines fails t unless the goroutine count falls back to at most
// n within a second. (testify's Eventually runs its condition in a goroutine
// of its own, so it cannot be used for this.)
func requireGoroutines(t testing.TB, n int) {
	t.Helper()
	deadline := time.Now().Add(time.Second)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			t.Fatalf("goroutines leaked: %d before, %d after", n, runtime.NumGoroutine())
		}
		time.Sleep(5 * time.Millisecond)
	}
}
