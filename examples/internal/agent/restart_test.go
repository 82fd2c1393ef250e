//go:build linux

package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gleaner/gleaner/examples/internal/api"
	"github.com/gleaner/gleaner/internal/testenv"
)

func TestRestartAdoptsRunningTasks(t *testing.T) {
	cases := []struct {
		name      string
		isolation string
		dir       func(testing.TB) string
	}{
		{"isolated tasks keep their cgroups", IsolationAuto, testenv.TempDirOnDisk},
		{"plain processes", IsolationNone, func(t testing.TB) string { return t.TempDir() }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.isolation == IsolationAuto {
				requireIsolation(t)
			}
			cfg := testConfig(t, c.dir(t))
			cfg.Isolation = c.isolation
			first := start(t, cfg)
			for _, info := range []api.TaskInfo{
				{TaskID: "long", AppID: "app", Cmd: "sleep 1000", Resources: "cpus:0.1;mem:32"},
				{TaskID: "short", AppID: "app", Cmd: "sleep 1", Resources: "cpus:0.1;mem:32"},
			} {
				if err := first.launch(info); err != nil {
					t.Fatal(err)
				}
				waitState(t, first.Agent, info.TaskID, api.TaskRunning, 20*time.Second)
			}
			first.mu.Lock()
			pid, ticks := first.tasks["long"].proc.pid, first.tasks["long"].proc.startTicks
			shortPid, shortTicks := first.tasks["short"].proc.pid, first.tasks["short"].proc.startTicks
			first.mu.Unlock()

			if err := first.stop(t, ErrRestart); err != nil {
				t.Fatalf("Run with ErrRestart: %v", err)
			}
			if !alive(pid, ticks) {
				t.Fatal("the task died with the agent")
			}
			if c.isolation == IsolationAuto && !cgroupExists(cfg.CgroupParent+"/long") {
				t.Fatal("the task's cgroup was removed by a restart")
			}
			// "short" ends while no agent runs: its process, and every
			// thread of its init (a dying leader with live threads still
			// counts as a member of its cgroup).
			testenv.Eventually(t, 30*time.Second, func() bool {
				procs, _ := os.ReadFile(filepath.Join("/sys/fs/cgroup/cpu", cfg.CgroupParent, "short", "cgroup.procs"))
				return !alive(shortPid, shortTicks) && len(strings.TrimSpace(string(procs))) == 0
			}, "the short task to end")

			second := start(t, cfg)
			if got := second.reservation().Floor; got != testFloor {
				t.Errorf("floor after the restart = %q, want it kept", got)
			}
			if got := testutil.ToFloat64(second.m.adopted); got != 1 {
				t.Errorf("adopted = %v, want 1", got)
			}
			if s, _ := status(second.Agent, "long"); s.State != api.TaskRunning || s.AppID != "app" {
				t.Fatalf("after the restart: %+v, want long RUNNING", s)
			}
			s := waitState(t, second.Agent, "short", api.TaskFailed, 10*time.Second)
			if !strings.Contains(s.Message, "exit status unknown") {
				t.Errorf("short: message = %q, want the exit status unknown", s.Message)
			}
			// The adopted task is managed: killing it works.
			if err := second.kill("long", "done"); err != nil {
				t.Fatal(err)
			}
			waitState(t, second.Agent, "long", api.TaskKilled, 10*time.Second)
			if alive(pid, ticks) {
				t.Error("the adopted task survived its kill")
			}
			if err := second.stop(t, nil); err != nil {
				t.Fatal(err)
			}
			if c.isolation == IsolationAuto && cgroupExists(cfg.CgroupParent) {
				t.Error("the parent cgroup survived a stop")
			}
			if entries, _ := os.ReadDir(cfg.sandboxDir()); len(entries) > 0 {
				t.Errorf("sandboxes survived a stop: %v", entries)
			}
		})
	}
}

func TestStopKillsTasksAndRemovesEverything(t *testing.T) {
	requireIsolation(t)
	cfg := testConfig(t, testenv.TempDirOnDisk(t))
	a := start(t, cfg)
	if err := a.launch(api.TaskInfo{TaskID: "t1", Cmd: "echo x > /file; sleep 1000", Resources: "cpus:0.1;mem:32;disk:16"}); err != nil {
		t.Fatal(err)
	}
	waitState(t, a.Agent, "t1", api.TaskRunning, 20*time.Second)
	a.mu.Lock()
	pid, ticks := a.tasks["t1"].proc.pid, a.tasks["t1"].proc.startTicks
	a.mu.Unlock()
	root := filepath.Join(cfg.sandboxDir(), "t1", "rootfs", "root")
	if !mounted(t, root) {
		t.Logf("task root %s is a copy, not an overlay mount", root)
	}
	if err := a.stop(t, nil); err != nil {
		t.Fatal(err)
	}
	if alive(pid, ticks) {
		t.Error("task process survived the agent's stop")
	}
	if cgroupExists(cfg.CgroupParent) {
		t.Error("parent cgroup survived the agent's stop")
	}
	if mounted(t, root) {
		t.Error("task root is still mounted")
	}
	if _, err := os.Stat(filepath.Join(cfg.sandboxDir(), "t1")); !os.IsNotExist(err) {
		t.Errorf("sandbox survived: %v", err)
	}
}

// mounted reports whether path is a mount point in this mount namespace.
func mounted(t *testing.T, path string) bool {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 4 && strings.HasPrefix(f[4], path) {
			return true
		}
	}
	return false
}
