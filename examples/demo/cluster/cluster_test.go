//go:build linux

package cluster

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/gleaner/gleaner/examples/internal/api"
	"github.com/gleaner/gleaner/internal/testenv"
	"github.com/gleaner/gleaner/isolate"
	"github.com/gleaner/gleaner/rootfs"
)

func TestMain(m *testing.M) {
	rootfs.Init()
	Init()
	os.Exit(m.Run())
}

// TestCloseStopsEverythingAndLeavesNothing starts the demo's cluster with
// its simulated business, waits until the three agents report, closes it,
// and checks that its goroutines ended and that its cgroups and directory
// are gone.
func TestCloseStopsEverythingAndLeavesNothing(t *testing.T) {
	testenv.RequireCgroupV1(t, "cpu", "cpuacct", "memory")
	features, err := isolate.Detect()
	if err != nil {
		t.Fatal(err)
	}
	before := runtime.NumGoroutine()
	c, err := Start(t.Context(), Config{SimulatedBusiness: true, Interval: 250 * time.Millisecond,
		CgroupRoot: "/gleaner-test-cluster-" + randomHex(4)})
	if err != nil {
		t.Fatal(err)
	}
	dir, root := c.Dir(), c.CgroupRoot()
	client := c.Client()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := client.State(t.Context())
		if err == nil && reported(st.Agents) == 3 {
			break
		}
		if time.Now().After(deadline) {
			c.Close(context.Background())
			t.Fatalf("agents never reported: %+v %v", st.Agents, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	var cgroupDirs []string
	for _, mount := range features.Mounts {
		if _, err := os.Stat(filepath.Join(mount, root)); err == nil {
			cgroupDirs = append(cgroupDirs, filepath.Join(mount, root))
		}
	}
	if len(cgroupDirs) == 0 {
		t.Errorf("no cgroup %s while the cluster runs", root)
	}

	if err := c.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, p := range cgroupDirs {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("cgroup %s left behind (%v)", p, err)
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("directory %s left behind (%v)", dir, err)
	}
	// Goroutines of closed connections end a moment after Close.
	for deadline := time.Now().Add(10 * time.Second); runtime.NumGoroutine() > before && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines after Close, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}

// reported counts the agents that are up and reported twice.
func reported(agents []api.AgentState) int {
	n := 0
	for _, a := range agents {
		if a.Up && len(a.History) >= 2 {
			n++
		}
	}
	return n
}
