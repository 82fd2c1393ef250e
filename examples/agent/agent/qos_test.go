//go:build linux

package agent

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	goruntime "runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gleaner/gleaner/examples/internal/api"
	"github.com/gleaner/gleaner/internal/testenv"
)

// businessCPU starts n busy processes outside Gleaner's cgroups and returns
// a function that stops them.
func businessCPU(t *testing.T, n int) (stop func()) {
	t.Helper()
	sh := testenv.RequireBinary(t, "busybox")
	var cmds []*exec.Cmd
	stop = func() {
		for _, cmd := range cmds {
			cmd.Process.Kill()
			cmd.Wait()
		}
		cmds = nil
	}
	t.Cleanup(stop)
	for range n {
		cmd := exec.Command(sh, "sh", "-c", "while :; do :; done")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	return stop
}

// businessMemory starts a process outside Gleaner's cgroups holding mib MiB
// and returns once it holds them.
func businessMemory(t *testing.T, mib int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), memoryHogEnv+"="+strconv.Itoa(mib))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "ready\n" {
		t.Fatalf("memory hog did not start: %q %v", line, err)
	}
}

// hostUsedMiB is MemTotal - MemAvailable.
func hostUsedMiB(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		t.Fatal(err)
	}
	var total, avail int
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		v, _ := strconv.Atoi(f[1])
		switch f[0] {
		case "MemTotal:":
			total = v
		case "MemAvailable:":
			avail = v
		}
	}
	return (total - avail) / 1024
}

// TestBusinessLoadThrottlesThenEvicts is the agent's answer to the business
// coming back: a busy business process shrinks the reservation and the
// harvested task is throttled within two sampling intervals; business memory
// then takes back what the task holds, and the task is evicted within two
// intervals and reported KILLED with an "evicted: ..." reason.
func TestBusinessLoadThrottlesThenEvicts(t *testing.T) {
	requireIsolation(t)
	cfg := testConfig(t, testenv.TempDirOnDisk(t))
	// The test machine is shared with other tests whose CPU use is business
	// too and can take every CPU at any moment. The operator's capacity is
	// one core more than the host has, so the CPU reservation (capacity
	// minus business) stays above the task's floor: CPU load throttles and
	// only memory evicts, whatever else runs. The memory capacity is what is
	// in use now plus 1 GiB; a 1.5 GiB business process takes all of it.
	cfg.Capacity = fmt.Sprintf("cpus:%d;mem:%d", goruntime.NumCPU()+1, hostUsedMiB(t)+1024)
	a := start(t, cfg)
	if _, err := a.SetReservation(ReservationOverride{}); err != nil { // no floor
		t.Fatal(err)
	}
	quota := float64(goruntime.NumCPU())
	err := a.Launch(api.TaskInfo{TaskID: "batch", Cmd: "while :; do :; done", Resources: fmt.Sprintf("cpus:%g;mem:64", quota)})
	if err != nil {
		t.Fatal(err)
	}
	waitState(t, a.Agent, "batch", api.TaskRunning, 20*time.Second)
	waitFor(t, 5*time.Second, "task usage", func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		return a.tasks["batch"].cpuSeconds > 0
	})
	a.mu.Lock()
	t.Logf("before: reservation %s, task quota %.2f", mesos(a.effective), a.tasks["batch"].cpuLimit)
	a.mu.Unlock()

	// CPU: throttle.
	a.mu.Lock()
	spike := a.samples
	before := a.tasks["batch"].cpuLimit
	a.mu.Unlock()
	began := time.Now()
	stopCPU := businessCPU(t, goruntime.NumCPU())
	waitFor(t, 10*time.Second, "the task to be throttled", func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		return a.tasks["batch"].cpuLimit < quota
	})
	a.mu.Lock()
	throttledAt := a.tasks["batch"].throttledAt
	t.Logf("CPU spike: task quota %.3f cores (%.3f before), reservation %s, %v after the spike",
		a.tasks["batch"].cpuLimit, before, mesos(a.effective), time.Since(began).Round(time.Millisecond))
	a.mu.Unlock()
	if throttledAt <= spike {
		// Business is everything outside Gleaner: the other tests on this
		// machine had throttled the task already, and the spike keeps it so.
		t.Logf("the machine's other load throttled the task %d samples before the spike", spike-throttledAt)
	} else if n := throttledAt - spike; n > 2 {
		t.Errorf("throttled %d sampling intervals after the spike, want at most 2", n)
	}
	if s, _ := status(a.Agent, "batch"); s.State != api.TaskRunning {
		t.Fatalf("CPU load must throttle, not end, the task: %+v", s)
	}
	stopCPU()

	// Memory: evict.
	businessMemory(t, 1536)
	a.mu.Lock()
	spike = a.samples
	a.mu.Unlock()
	began = time.Now()
	s := waitState(t, a.Agent, "batch", api.TaskKilled, 20*time.Second)
	a.mu.Lock()
	evictedAt := a.tasks["batch"].evictedAt
	t.Logf("memory spike: evicted at sample %d after the business held its memory (%v), reservation %s; reason %q",
		int64(evictedAt)-int64(spike), time.Since(began).Round(time.Millisecond), mesos(a.effective), s.Reason)
	a.mu.Unlock()
	if int64(evictedAt)-int64(spike) > 2 {
		t.Errorf("evicted at sample %d after the business held its memory, want at most 2", int64(evictedAt)-int64(spike))
	}
	if !strings.HasPrefix(s.Reason, api.ReasonEvicted+": ") || !strings.Contains(s.Reason, "memory") {
		t.Errorf("reason = %q, want %q naming memory", s.Reason, api.ReasonEvicted+": ...")
	}
	waitFor(t, 5*time.Second, "the eviction metric", func() bool {
		_, body := do(t, "GET", a.URL()+PathMetrics, "")
		return strings.Contains(string(body), "gleaner_agent_qos_evictions_total 1")
	})
}
