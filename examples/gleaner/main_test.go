//go:build linux

package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gleaner/gleaner/examples/demo/cluster"
	"github.com/gleaner/gleaner/examples/internal/api"
	"github.com/gleaner/gleaner/internal/testenv"
	"github.com/gleaner/gleaner/isolate"
	"github.com/gleaner/gleaner/rootfs"
)

func TestMain(m *testing.M) {
	rootfs.Init() // the in-process agent launches tasks by re-executing this binary
	cluster.Init()
	os.Exit(m.Run())
}

// gleaner runs the command and returns its status, stdout and stderr.
func gleaner(t *testing.T, ctx context.Context, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(ctx, args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestEveryCommandHasHelp(t *testing.T) {
	for name, cmd := range commands {
		code, _, errOut := gleaner(t, t.Context(), "-insecure", name, "-help")
		if code != 0 || !strings.Contains(errOut, "usage: gleaner "+name+" "+cmd.args) || !strings.Contains(errOut, cmd.help[:20]) {
			t.Errorf("%s -help: %d %q", name, code, errOut)
		}
	}
	if code, _, errOut := gleaner(t, t.Context(), "-insecure", "nonsense"); code != 2 || !strings.Contains(errOut, `unknown command "nonsense"`) {
		t.Errorf("unknown command: %d %q", code, errOut)
	}
	if code, _, errOut := gleaner(t, t.Context(), "agents"); code != 2 || !strings.Contains(errOut, "-insecure") {
		t.Errorf("without credentials: %d %q, want a refusal naming -insecure", code, errOut)
	}
	if code, _, errOut := gleaner(t, t.Context(), "-insecure", "logs"); code != 2 || !strings.Contains(errOut, "name one task") {
		t.Errorf("logs without a task: %d %q", code, errOut)
	}
}

// TestCommandsAgainstACluster drives a real cluster (master, framework,
// one agent) with the commands: tables for people, JSON for scripts, a
// task's logs, and a drain and its end.
func TestCommandsAgainstACluster(t *testing.T) {
	testenv.RequireCgroupV1(t, "cpu", "cpuacct", "memory")
	testenv.RequireMountNamespace(t)
	b := make([]byte, 4)
	rand.Read(b)
	name := "gleaner-cli-" + hex.EncodeToString(b)
	biz, err := isolate.New(isolate.WithParent("/" + name + "-business"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { biz.Destroy(context.Background()) })
	app := `{"id": "/cli/talker", "cmd": "echo hello from the task >&2; sleep 1000", "cpus": 0.1, "mem": 32, "priority": 3}`
	c, err := cluster.Start(t.Context(), cluster.Config{
		Dir: t.TempDir(), CgroupRoot: "/" + name, Interval: 250 * time.Millisecond, Apps: [][]byte{[]byte(app)},
		Agents: []cluster.AgentSpec{{ID: "cli-agent", Capacity: "cpus:1;mem:512", BusinessCgroup: biz.Parent()}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := c.Close(ctx); err != nil {
			t.Error(err)
		}
	})
	admin, _ := c.Files(cluster.Admin)
	flags := []string{"-ca", admin.CA, "-cert", admin.Cert, "-key", admin.Key,
		"-master", strings.Join(c.Masters(), ","), "-framework", c.FrameworkURL()}
	cmd := func(args ...string) string {
		t.Helper()
		code, out, errOut := gleaner(t, t.Context(), append(flags, args...)...)
		if code != 0 {
			t.Fatalf("gleaner %v: %d %s", args, code, errOut)
		}
		return out
	}

	testenv.Eventually(t, 30*time.Second, func() bool {
		_, err := c.Client().State(t.Context())
		return err == nil
	}, "a leading master")
	var tasks []api.TaskView
	testenv.Eventually(t, 60*time.Second, func() bool {
		if err := json.Unmarshal([]byte(cmd("-o", "json", "tasks")), &tasks); err != nil {
			t.Fatal(err)
		}
		return len(tasks) == 1 && tasks[0].State == api.TaskRunning
	}, "the app's task running (tasks: %+v)", &tasks)
	task := tasks[0].TaskID
	if out := cmd("tasks"); !strings.Contains(out, "TASK") || !strings.Contains(out, task) || !strings.Contains(out, "TASK_RUNNING") ||
		!strings.Contains(out, "3 revocable") {
		t.Errorf("tasks table:\n%s", out)
	}
	if out := cmd("agents"); !strings.Contains(out, "cli-agent") || !strings.Contains(out, " cores") || !strings.Contains(out, "MiB mem") {
		t.Errorf("agents table, with units:\n%s", out)
	}
	if out := cmd("apps"); !strings.Contains(out, "/cli/talker") || !strings.Contains(out, "0.1 cores, 32 MiB mem") {
		t.Errorf("apps table:\n%s", out)
	}
	if out := cmd("apps", "/cli/talker"); !strings.Contains(out, task) || !strings.Contains(out, "/api/v1/tasks/"+task+"/logs?stream=stderr") {
		t.Errorf("one app, with its tasks and their log links:\n%s", out)
	}
	testenv.Eventually(t, 30*time.Second, func() bool {
		return cmd("logs", "-stream", "stderr", task) == "hello from the task\n"
	}, "the task's stderr through the master")

	if out := cmd("drain", "-deadline", "1h", "cli-agent"); !strings.Contains(out, "draining until") {
		t.Errorf("drain:\n%s", out)
	}
	var agents []api.AgentState
	if err := json.Unmarshal([]byte(cmd("-o", "json", "agents")), &agents); err != nil {
		t.Fatal(err)
	}
	if len(agents) != 1 || agents[0].Maintenance == nil || !agents[0].Maintenance.Draining {
		t.Errorf("agents after the drain: %+v", agents)
	}
	if out := cmd("drain", "-up", "cli-agent"); !strings.Contains(out, "cli-agent") {
		t.Errorf("drain -up:\n%s", out)
	}
	if code, _, errOut := gleaner(t, t.Context(), append(flags, "drain", "-up", "cli-agent")...); code != 1 || !strings.Contains(errOut, "not draining") {
		t.Errorf("a second up: %d %q", code, errOut)
	}
}
