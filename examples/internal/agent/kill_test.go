//go:build linux

package agent

import (
	"testing"
	"time"

	"github.com/gleaner/gleaner/examples/internal/api"
)

// TestKillGraceComesFromTheKillTheLaunchOrTheAgent checks which grace a
// kill uses: the kill's own, else the task's launch (Marathon's
// taskKillGracePeriodSeconds), else the agent's KillGrace.
func TestKillGraceComesFromTheKillTheLaunchOrTheAgent(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.Isolation = IsolationNone
	a := start(t, cfg)
	cases := []struct {
		id          string
		launchGrace float64
		killGrace   float64
		want        time.Duration
	}{
		{"by-kill", 7, 2, 2 * time.Second},
		{"by-launch", 7, 0, 7 * time.Second},
		{"by-agent", 0, 0, a.cfg.KillGrace},
	}
	for _, c := range cases {
		if err := a.launch(api.TaskInfo{TaskID: c.id, Cmd: "sleep 100", Resources: "cpus:0.1;mem:16", KillGraceSeconds: c.launchGrace}); err != nil {
			t.Fatal(err)
		}
		waitState(t, a.Agent, c.id, api.TaskRunning, 10*time.Second)
		if !a.killTaskWithin(c.id, api.TaskKilled, "test", c.killGrace) {
			t.Fatalf("%s: not running", c.id)
		}
		a.mu.Lock()
		got := a.tasks[c.id].killGrace
		a.mu.Unlock()
		if got != c.want {
			t.Errorf("%s: grace %s, want %s", c.id, got, c.want)
		}
		waitState(t, a.Agent, c.id, api.TaskKilled, 30*time.Second)
	}
}
