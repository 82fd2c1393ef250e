//go:build linux

package agent

import (
	"bufio"
	"context"
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
	"github.com/gleaner/gleaner/isolate"
	"github.com/gleaner/gleaner/reserve"
)

// business starts the test's business processes, outside Gleaner's cgroups:
// in cg when it is set, else anywhere on the host.
type business struct {
	t  *testing.T
	cg *isolate.Task
}

// cpu starts n busy processes and returns a function that stops them.
func (b business) cpu(n int) (stop func()) {
	t := b.t
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
		if b.cg != nil {
			if err := b.cg.AddPID(cmd.Process.Pid); err != nil {
				t.Fatal(err)
			}
		}
	}
	return stop
}

// memory starts a process holding mib MiB and returns once it holds them.
func (b business) memory(mib int) {
	t := b.t
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), memoryHogEnv+"="+strconv.Itoa(mib))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if b.cg != nil {
		if err := b.cg.AddPID(cmd.Process.Pid); err != nil {
			t.Fatal(err)
		}
	}
	in.Write([]byte("go\n"))
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "ready\n" {
		t.Fatalf("memory hog did not start: %q %v", line, err)
	}
}

// hostMemoryMiB returns MemTotal - MemAvailable and MemAvailable.
func hostMemoryMiB(t *testing.T) (usedMiB, availMiB int) {
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
	return (total - avail) / 1024, avail / 1024
}

// TestBusinessLoadThrottlesThenEvicts is the agent's answer to the business
// coming back: busy business processes shrink the reservation and the
// harvested task is throttled within two sampling intervals; business memory
// then takes back what the task holds, and the task is evicted within two
// intervals and reported KILLED with an "evicted: ..." reason.
//
// Business is measured two ways. As the agent does by default, as the host's
// usage minus Gleaner's: on this shared test machine the other tests are
// business too and may throttle the task before the spike does. And from a
// business cgroup (Config.BusinessCgroup) holding only the test's business
// processes, where the task must run unthrottled until the spike.
func TestBusinessLoadThrottlesThenEvicts(t *testing.T) {
	cpus := goruntime.NumCPU()
	used, avail := hostMemoryMiB(t)
	// With business = host minus Gleaner, the memory the agent sees as the
	// machine's is what is in use now plus slack. Other tests may allocate
	// or free up to that much meanwhile; the business process takes twice
	// the slack, so the reservation drops to nothing either way.
	slack := min(2048, avail/6)
	cases := []struct {
		name     string
		cgroup   bool
		capacity string
		hog      int // MiB
	}{
		// The other tests can take every CPU at any moment: a capacity one
		// core above the host keeps the CPU reservation above the task's
		// floor, so CPU throttles and only memory evicts.
		{"business is the host minus Gleaner", false, fmt.Sprintf("cpus:%d;mem:%d", cpus+1, used+slack), 2*slack + 512},
		{"business is a cgroup", true, fmt.Sprintf("cpus:%d;mem:1024", cpus), 1536},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			requireIsolation(t)
			cfg := testConfig(t, testenv.TempDirOnDisk(t))
			cfg.Capacity = c.capacity
			// A throttled task keeps 1% of its quota: only a business that
			// takes the whole machine evicts on CPU.
			cfg.QoS = reserve.QoS{CPUFloorPercent: 1}
			biz := business{t: t}
			if c.cgroup {
				iso, err := isolate.New(isolate.WithParent("/" + uniqueName(t) + "-business"))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { iso.Destroy(context.Background()) })
				if biz.cg, err = iso.Create("business", isolate.Limits{CPUs: float64(cpus), MemoryBytes: 2 << 30}); err != nil {
					t.Fatal(err)
				}
				cfg.BusinessCgroup = iso.Parent() + "/business"
			}
			a := start(t, cfg)
			if _, err := a.setReservation(ReservationOverride{}); err != nil { // no floor
				t.Fatal(err)
			}
			quota := float64(cpus)
			err := a.launch(api.TaskInfo{TaskID: "batch", Cmd: "while :; do :; done", Resources: fmt.Sprintf("cpus:%d;mem:64", cpus)})
			if err != nil {
				t.Fatal(err)
			}
			waitState(t, a.Agent, "batch", api.TaskRunning, 20*time.Second)
			testenv.Eventually(t, 30*time.Second, func() bool {
				a.mu.Lock()
				defer a.mu.Unlock()
				return a.tasks["batch"].cpuRate > 0
			}, "the task's usage")

			// CPU: throttle.
			a.mu.Lock()
			spike := a.samples
			before := a.tasks["batch"].cpuLimit
			a.mu.Unlock()
			if c.cgroup && before != quota {
				t.Fatalf("task quota %.3f before any business load, want %v", before, quota)
			}
			began := time.Now()
			stopCPU := biz.cpu(cpus)
			testenv.Eventually(t, 30*time.Second, func() bool {
				a.mu.Lock()
				defer a.mu.Unlock()
				return a.tasks["batch"].cpuLimit < quota
			}, "the task to be throttled")
			a.mu.Lock()
			throttledAt := a.tasks["batch"].throttledAt
			t.Logf("CPU spike: task quota %.3f cores (%.3f before), reservation %s, %v after the spike",
				a.tasks["batch"].cpuLimit, before, mesos(a.effective), time.Since(began).Round(time.Millisecond))
			a.mu.Unlock()
			switch {
			case throttledAt <= spike && c.cgroup:
				t.Errorf("throttled before the spike")
			case throttledAt <= spike:
				t.Logf("the machine's other load throttled the task %d samples before the spike", spike-throttledAt)
			case throttledAt-spike > maxLag(c.cgroup):
				t.Errorf("throttled %d sampling intervals after the spike, want at most %d", throttledAt-spike, maxLag(c.cgroup))
			}
			if s, _ := status(a.Agent, "batch"); s.State != api.TaskRunning {
				t.Fatalf("CPU load must throttle, not end, the task: %+v", s)
			}
			// The parent cgroup follows the reservation, online.
			a.applyMu.Lock()
			a.mu.Lock()
			lent := a.effective.CPUCores
			a.mu.Unlock()
			if q := cfsQuota(t, cfg.CgroupParent); abs(q-lent) > 0.011 {
				t.Errorf("parent cgroup quota %.3f cores, reservation %.3f", q, lent)
			}
			a.applyMu.Unlock()
			stopCPU()

			// Memory: evict.
			biz.memory(c.hog)
			a.mu.Lock()
			spike = a.samples
			a.mu.Unlock()
			began = time.Now()
			s := waitState(t, a.Agent, "batch", api.TaskKilled, 20*time.Second)
			a.mu.Lock()
			evictedAt := a.tasks["batch"].evictedAt
			after := int64(evictedAt) - int64(spike)
			t.Logf("memory spike: evicted at sample %d after the business held its memory (%v), reservation %s; reason %q",
				after, time.Since(began).Round(time.Millisecond), mesos(a.effective), s.Reason)
			a.mu.Unlock()
			if evictedAt == 0 || after > 2 {
				t.Errorf("evicted at sample %d after the business held its memory, want at most 2", after)
			}
			if !strings.HasPrefix(s.Reason, api.ReasonEvicted+": ") || !strings.Contains(s.Reason, "memory") {
				t.Errorf("reason = %q, want %q naming memory", s.Reason, api.ReasonEvicted+": ...")
			}
			testenv.Eventually(t, 30*time.Second, func() bool {
				_, body := do(t, "GET", a.URL()+PathMetrics, "")
				return strings.Contains(string(body), "gleaner_agent_qos_evictions_total 1")
			}, "the eviction metric")
		})
	}
}

// maxLag is how many sampling intervals the agent may take to react to a
// business spike. Two, as issue 10 asks, when the business is its own cgroup
// (and in the end-to-end test). Measured as host minus Gleaner, the spike's
// own processes compete with everything else on the machine (a 2-core CI
// host runs other test packages meanwhile), so /proc/stat may show the spike
// one interval late: that interval is the measurement's, not the agent's.
func maxLag(businessCgroup bool) uint64 {
	if businessCgroup {
		return 2
	}
	return 3
}

// TestEvictionOrderFollowsPriority runs four tasks on a real agent with
// real cgroups and shrinks what the agent lends below what they hold:
// revocable tasks go before the one placed within the guarantee, the
// lowest priority first and, within it, the youngest; each eviction names
// who won. The business is an empty cgroup, so that the machine's other
// load cannot evict anything first; the operator's cap does the shrinking.
func TestEvictionOrderFollowsPriority(t *testing.T) {
	requireIsolation(t)
	cfg := testConfig(t, testenv.TempDirOnDisk(t))
	cfg.Capacity = "cpus:2;mem:1024"
	// A floor of the whole quota: QoS cannot throttle, only evict.
	cfg.QoS = reserve.QoS{CPUFloorPercent: 100}
	idleBusiness(t, &cfg)
	a := start(t, cfg)

	tasks := []api.TaskInfo{
		{TaskID: "guaranteed", Priority: 0, Revocable: false},
		{TaskID: "high", Priority: 9, Revocable: true},
		{TaskID: "low-old", Priority: 1, Revocable: true},
		{TaskID: "low-young", Priority: 1, Revocable: true},
	}
	for _, ti := range tasks {
		ti.Cmd, ti.Resources = "sleep 1000", "cpus:0.1;mem:16"
		if err := a.launch(ti); err != nil {
			t.Fatal(err)
		}
		waitState(t, a.Agent, ti.TaskID, api.TaskRunning, 30*time.Second)
	}
	// Four tasks hold 0.4 cores; a cap of 0.25 leaves room for two.
	if _, err := a.setReservation(ReservationOverride{Cap: "cpus:0.25"}); err != nil {
		t.Fatal(err)
	}
	young := waitState(t, a.Agent, "low-young", api.TaskKilled, 30*time.Second)
	old := waitState(t, a.Agent, "low-old", api.TaskKilled, 30*time.Second)
	for _, id := range []string{"guaranteed", "high"} {
		if s, _ := status(a.Agent, id); s.State != api.TaskRunning {
			t.Errorf("task %s: %s %q, want it kept running", id, s.State, s.Reason)
		}
	}
	a.mu.Lock()
	youngAt, oldAt := a.tasks["low-young"].evictedAt, a.tasks["low-old"].evictedAt
	a.mu.Unlock()
	if youngAt > oldAt || !strings.HasSuffix(young.Reason, "(priority 1, revocable, youngest)") {
		t.Errorf("low-old evicted at sample %d, low-young at %d with reason %q: want the youngest first", oldAt, youngAt, young.Reason)
	}
	for _, s := range []api.TaskStatus{young, old} {
		if !strings.HasPrefix(s.Reason, api.ReasonEvicted+": ") {
			t.Errorf("%s: reason %q, want an eviction", s.TaskID, s.Reason)
		}
		e := s.Eviction
		if e == nil || e.Priority != 1 || e.Resource != "CPU" ||
			!strings.Contains(e.Winner, "kept: guaranteed (priority 0), high (priority 9)") || !s.Revocable {
			t.Errorf("%s: eviction %+v (revocable %v), want CPU, priority 1, won by the business and the kept tasks", s.TaskID, e, s.Revocable)
		}
	}
}
