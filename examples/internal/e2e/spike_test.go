//go:build linux

package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gleaner/gleaner/examples/demo/cluster"
	"github.com/gleaner/gleaner/examples/internal/api"
	"github.com/gleaner/gleaner/internal/testenv"
	"github.com/gleaner/gleaner/isolate"
	"github.com/gleaner/gleaner/monitor"
)

// spikeInterval is the agent's sampling interval in the spike test.
const spikeInterval = 500 * time.Millisecond

// TestBusinessSpikeThrottlesThenEvicts runs two CPU-bound tasks of 0.9 cpus,
// each holding 100 MB, on an agent lending a 2-cpu, 1024 MB machine, then
// starts a business process outside Gleaner's cgroups: first it spins a
// CPU, and the agent must lower both tasks' CFS quotas (throttle) without
// evicting; then it grows to 760 MiB, which leaves a reservation of about
// 147 MiB (1024 - 1.1*760 - 4% of 1024): room for one task's memory only,
// and the agent must evict one task, keep the other, and report the
// eviction to the master as the task's end with an "evicted" reason. That
// each reaction comes within two sampling intervals is checked by the
// agent's QoS test, which counts the agent's samples where this one could
// only read a clock.
func TestBusinessSpikeThrottlesThenEvicts(t *testing.T) {
	testenv.RequireCgroupV1(t, "cpu", "memory")
	features, err := isolate.Detect()
	if err != nil {
		t.Fatal(err)
	}
	root := "/" + uniqueName("spike")
	business := "/" + uniqueName("business")
	biz, err := isolate.New(isolate.WithParent(business))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = biz.Destroy(context.Background()) })

	c := startCluster(t, cluster.Config{
		CgroupRoot: root,
		Interval:   spikeInterval,
		Agents: []cluster.AgentSpec{{ID: "solo", Attributes: map[string]string{"rack": "r1"},
			Capacity: "cpus:2;mem:1024", BusinessCgroup: business}},
	})
	// Each task holds 100 MB (a shell variable) and spins; like any
	// well-behaved task it exits on SIGTERM (it is PID 1 of its namespace,
	// which the kernel spares from signals it does not handle).
	submit(t, c, `{"id": "/crunch", "cmd": "trap 'exit 143' TERM; x=$(head -c 100000000 /dev/zero | tr '\\0' a); while :; do :; done",
		"cpus": 0.9, "mem": 256, "disk": 8, "instances": 2}`)
	client := c.Client()
	st := waitState(t, client, 30*time.Second, "2 running instances of /crunch holding 200 MB", func(st api.State) bool {
		return len(running(st, "/crunch")) == 2 && len(st.Agents) == 1 && st.Agents[0].Harvested["mem"] >= 190
	})
	tasks := running(st, "/crunch")
	quotaDir := filepath.Join(features.Mounts["cpu"], root, "solo")
	quota := func(id string) int64 {
		b, err := os.ReadFile(filepath.Join(quotaDir, id, "cpu.cfs_quota_us"))
		if err != nil {
			return -2 // gone: the task was evicted and its cgroup removed
		}
		q, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		return q
	}
	before := map[string]int64{}
	for _, task := range tasks {
		before[task.TaskID] = quota(task.TaskID)
		if before[task.TaskID] <= 0 {
			t.Fatalf("task %s has no CFS quota (%d) before the spike", task.TaskID, before[task.TaskID])
		}
	}

	// The business load: a process in its own cgroup, outside the agent's.
	task, err := biz.Create("load", isolate.Limits{CPUs: 2, MemoryBytes: 2 << 30, MemorySwapBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), roleEnv+"=hog")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	if err := task.AddPID(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	step := func(what string) time.Time {
		t.Helper()
		if !lines.Scan() || lines.Text() != "ok" {
			t.Fatalf("business load: no ok after %s: %q %v", what, lines.Text(), lines.Err())
		}
		return time.Now()
	}
	spun := step("spinning")

	// Phase 1: CPU. Both tasks throttled, neither evicted. How many
	// sampling intervals the agent takes is asserted by the agent's own
	// QoS test, which counts its samples; here it must happen at all.
	testenv.Eventually(t, 30*time.Second, func() bool {
		for id, q := range before {
			nq := quota(id)
			if nq == -2 {
				t.Fatalf("task %s evicted by a CPU spike, which must only throttle", id)
			}
			if nq <= 0 || nq >= q {
				return false
			}
		}
		return true
	}, "every task's CFS quota below %v after the CPU spike", before)
	t.Logf("throttled %v after the CPU spike", time.Since(spun).Round(time.Millisecond))

	// Phase 2: memory. One task evicted (its cgroup removed), one left.
	// The business is brought to businessMiB in all, counting what the
	// load process already holds (its runtime, far more under -race) as
	// the agent measures it.
	bizUsage, err := monitor.NewCgroup("/sys/fs/cgroup", business)
	if err != nil {
		t.Fatal(err)
	}
	u, err := bizUsage.Usage(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	const businessMiB = 760
	more := businessMiB - int(u.MemoryBytes>>20)
	if more <= 0 {
		t.Fatalf("the business load holds %d MiB before the memory spike, want less than %d", u.MemoryBytes>>20, businessMiB)
	}
	asked := time.Now()
	fmt.Fprintln(stdin, "mem", more)
	took := step("allocating")
	t.Logf("the business took %d MiB more (%d MiB in all) in %v", more, businessMiB, took.Sub(asked).Round(time.Millisecond))
	evicted := ""
	testenv.Eventually(t, 30*time.Second, func() bool {
		for id := range before {
			if quota(id) == -2 {
				evicted = id
				return true
			}
		}
		return false
	}, "a task evicted after the memory spike")
	t.Logf("evicted %s %v after the memory spike", evicted, time.Since(took).Round(time.Millisecond))
	st = waitState(t, client, 30*time.Second, "the eviction of "+evicted+" reported", func(st api.State) bool {
		task, ok := taskView(st, evicted)
		return ok && task.State.Terminal() && strings.HasPrefix(task.Reason, api.ReasonEvicted)
	})
	for id := range before {
		if id == evicted {
			continue
		}
		if task, ok := taskView(st, id); !ok || task.State != api.TaskRunning {
			t.Errorf("task %s after the eviction of %s: %+v, want it still running", id, evicted, task)
		}
	}
}
