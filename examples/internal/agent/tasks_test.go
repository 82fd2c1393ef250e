//go:build linux

package agent

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gleaner/gleaner/examples/internal/api"
	"github.com/gleaner/gleaner/internal/testenv"
)

func TestIsolatedTaskRunsInItsCgroupAndRoot(t *testing.T) {
	requireIsolation(t)
	a := start(t, testConfig(t, testenv.TempDirOnDisk(t)))
	if !isIsolated(a.Isolation()) {
		t.Fatalf("isolation = %q, want cgroups", a.Isolation())
	}
	// The task sees the base made from the host's programs, not the host's
	// file system, and sits in its cgroup.
	err := a.launch(api.TaskInfo{TaskID: "look", AppID: "app", Resources: "cpus:0.5;mem:64",
		Env: map[string]string{"GREETING": "hello"},
		Cmd: `echo "$GREETING $GLEANER_TASK_ID"; test -x /bin/sleep && ! test -e /etc/debian_version && ! test -e /work && echo base; cat /proc/self/cgroup; cat /proc/1/cgroup`})
	if err != nil {
		t.Fatal(err)
	}
	s := waitState(t, a.Agent, "look", api.TaskFinished, 20*time.Second)
	if s.AgentID != a.cfg.ID || s.AppID != "app" {
		t.Errorf("status = %+v, want agent %s app app", s, a.cfg.ID)
	}
	out := readSandbox(t, a.Agent, "look", "stdout")
	for _, want := range []string{"hello look", "base"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	// In its own cgroup namespace the task's cgroup is the root, and the
	// host's path of it is not shown; the host side is checked by the
	// escape suite and by the agent's usage, which reads that cgroup.
	if strings.Contains(out, a.cfg.CgroupParent) || !strings.Contains(out, ":memory:/\n") {
		t.Errorf("stdout shows no cgroup namespace rooted at the task's cgroup:\n%s", out)
	}
	if cgroupExists(a.cfg.CgroupParent + "/look") {
		t.Error("task cgroup still exists after the task ended")
	}
	if _, err := os.Stat(filepath.Join(a.cfg.sandboxDir(), "look", "rootfs")); !os.IsNotExist(err) {
		t.Errorf("task root still exists after the task ended: %v", err)
	}
}

func TestTaskEndStates(t *testing.T) {
	requireIsolation(t)
	a := start(t, testConfig(t, testenv.TempDirOnDisk(t)))
	cases := []struct {
		name, id  string
		info      api.TaskInfo
		state     api.TaskState
		reason    string
		message   string
		killAfter bool
	}{
		{name: "exit code 0 is finished", id: "ok",
			info: api.TaskInfo{Cmd: "true"}, state: api.TaskFinished, message: "exit code 0"},
		{name: "nonzero exit code is failed", id: "bad",
			info: api.TaskInfo{Cmd: "exit 3"}, state: api.TaskFailed, message: "exit code 3"},
		{name: "args run without a shell", id: "args",
			info: api.TaskInfo{Args: []string{"/bin/false"}}, state: api.TaskFailed, message: "exit code 1"},
		{name: "a missing command fails the launch", id: "missing",
			info: api.TaskInfo{Args: []string{"/no/such/program"}}, state: api.TaskFailed, reason: "launch failed"},
		{name: "a missing base version fails the launch", id: "nobase",
			info:  api.TaskInfo{Cmd: "true", Image: &api.Image{Base: "busybox", Version: "no-such-version"}},
			state: api.TaskFailed, reason: "launch failed", message: "no-such-version"},
		{name: "a killed task is killed with the reason", id: "killed",
			info: api.TaskInfo{Cmd: "sleep 100"}, state: api.TaskKilled, reason: "framework wants it gone", killAfter: true},
		{name: "exceeding the memory limit fails the task", id: "oom",
			info:  api.TaskInfo{Cmd: "tail /dev/zero", Resources: "cpus:0.5;mem:32"},
			state: api.TaskFailed, reason: "memory limit exceeded"},
		{name: "exceeding the disk resources fails the task", id: "disk",
			info:  api.TaskInfo{Cmd: "dd if=/dev/zero of=/big bs=1M count=24 && sleep 100", Resources: "cpus:0.2;mem:64;disk:4"},
			state: api.TaskFailed, reason: "disk limit exceeded"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			info := c.info
			info.TaskID = c.id
			if info.Resources == "" {
				info.Resources = "cpus:0.2;mem:64"
			}
			if err := a.launch(info); err != nil {
				t.Fatal(err)
			}
			if c.killAfter {
				waitState(t, a.Agent, c.id, api.TaskRunning, 20*time.Second)
				if err := a.kill(c.id, c.reason); err != nil {
					t.Fatal(err)
				}
			}
			s := waitState(t, a.Agent, c.id, c.state, 20*time.Second)
			if !strings.HasPrefix(s.Reason, c.reason) {
				t.Errorf("reason = %q, want prefix %q", s.Reason, c.reason)
			}
			if !strings.Contains(s.Message, c.message) {
				t.Errorf("message = %q, want it to hold %q", s.Message, c.message)
			}
		})
	}
}

func TestLaunchRefusesBadTasks(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.Isolation = IsolationNone
	a := start(t, cfg)
	if err := a.launch(api.TaskInfo{TaskID: "dup", Cmd: "sleep 100", Resources: "cpus:0.1;mem:32"}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		info api.TaskInfo
		want string
	}{
		{"empty task ID", api.TaskInfo{Cmd: "true", Resources: "cpus:1;mem:32"}, "task_id"},
		{"task ID with a slash", api.TaskInfo{TaskID: "a/b", Cmd: "true", Resources: "cpus:1;mem:32"}, "task_id"},
		{"neither cmd nor args", api.TaskInfo{TaskID: "x", Resources: "cpus:1;mem:32"}, "exactly one of cmd and args"},
		{"both cmd and args", api.TaskInfo{TaskID: "x", Cmd: "true", Args: []string{"true"}, Resources: "cpus:1;mem:32"}, "exactly one"},
		{"no cpus", api.TaskInfo{TaskID: "x", Cmd: "true", Resources: "mem:32"}, "cpus missing"},
		{"unparsable resources", api.TaskInfo{TaskID: "x", Cmd: "true", Resources: "cpus:-1"}, "resources"},
		{"unknown resource", api.TaskInfo{TaskID: "x", Cmd: "true", Resources: "cpus:1;mem:32;gpus:1"}, `"gpus"`},
		{"a task ID that runs", api.TaskInfo{TaskID: "dup", Cmd: "true", Resources: "cpus:1;mem:32"}, "already running"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := a.launch(c.info)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Launch = %v, want ErrInvalid naming %q", err, c.want)
			}
		})
	}
	waitState(t, a.Agent, "dup", api.TaskRunning, 10*time.Second)
}

func TestWithoutIsolationTasksRunAsPlainProcesses(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.Isolation = IsolationNone
	a := start(t, cfg)
	if isIsolated(a.Isolation()) || !strings.HasPrefix(a.Isolation(), "none: ") {
		t.Fatalf("isolation = %q, want none, the operator's choice", a.Isolation())
	}
	if got := a.reservation().Isolation; got != a.Isolation() {
		t.Errorf("reservation reports isolation %q, want %q", got, a.Isolation())
	}
	if err := a.launch(api.TaskInfo{TaskID: "plain", Cmd: "pwd; echo $GLEANER_TASK_ID", Resources: "cpus:0.1;mem:32"}); err != nil {
		t.Fatal(err)
	}
	waitState(t, a.Agent, "plain", api.TaskFinished, 10*time.Second)
	out := readSandbox(t, a.Agent, "plain", "stdout")
	if want := filepath.Join(a.cfg.sandboxDir(), "plain") + "\nplain\n"; out != want {
		t.Errorf("stdout = %q, want %q (the sandbox as working directory)", out, want)
	}
	// Disk limits hold without cgroups too.
	err := a.launch(api.TaskInfo{TaskID: "fill", Resources: "cpus:0.1;mem:32;disk:2",
		Cmd: "dd if=/dev/zero of=big bs=1M count=8 2>/dev/null; sleep 100"})
	if err != nil {
		t.Fatal(err)
	}
	s := waitState(t, a.Agent, "fill", api.TaskFailed, 20*time.Second)
	if !strings.HasPrefix(s.Reason, "disk limit exceeded") {
		t.Errorf("reason = %q, want disk limit exceeded", s.Reason)
	}
}
