//go:build linux

package agent

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gleaner/gleaner/examples/internal/api"
	"github.com/gleaner/gleaner/internal/testenv"
)

// getLogs reads a task's logs from the agent's HTTP endpoint.
func getLogs(t *testing.T, a *Agent, id string, q api.LogQuery) (body string, offset int64) {
	t.Helper()
	resp, err := operatorHTTP(t).Get(a.URL() + "/tasks/" + id + "/logs?" + q.Values().Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET logs of %s %+v: %d %q %v", id, q, resp.StatusCode, b, err)
	}
	offset, _ = strconv.ParseInt(resp.Header.Get(api.HeaderLogOffset), 10, 64)
	return string(b), offset
}

// TestLogsAreFollowedWhileTheTaskWritesAndReadAfter: a follower gets each
// line while the task still runs (the task waits for the follower's word
// before its next line), and the stream ends when the task does; after
// the end, both streams read whole, from an offset and from the end, and
// the logs stay after the master took the final status.
func TestLogsAreFollowedWhileTheTaskWritesAndReadAfter(t *testing.T) {
	requireIsolation(t)
	a := start(t, testConfig(t, testenv.TempDirOnDisk(t)))
	// The task writes a line, then waits until the test has read it (a
	// file the test creates in the task's root), three times.
	cmd := `for i in 1 2 3; do echo "line $i"; while [ ! -e /go-$i ]; do sleep 0.05; done; done; echo oops >&2`
	if err := a.launch(api.TaskInfo{TaskID: "talker", Cmd: cmd, Resources: "cpus:0.1;mem:32"}); err != nil {
		t.Fatal(err)
	}
	waitState(t, a.Agent, "talker", api.TaskRunning, 30*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, a.URL()+"/tasks/talker/logs?follow=true", nil)
	resp, err := operatorHTTP(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get(api.HeaderLogOffset) != "0" {
		t.Errorf("offset header %q, want 0", resp.Header.Get(api.HeaderLogOffset))
	}
	lines := bufio.NewReader(resp.Body)
	a.mu.Lock()
	root := a.tasks["talker"].root
	a.mu.Unlock()
	for i := 1; i <= 3; i++ {
		line, err := lines.ReadString('\n')
		if err != nil || line != fmt.Sprintf("line %d\n", i) {
			t.Fatalf("followed line %d: %q %v", i, line, err)
		}
		if s, _ := status(a.Agent, "talker"); s.State != api.TaskRunning {
			t.Fatalf("line %d came after the task ended: %+v", i, s)
		}
		if err := os.WriteFile(filepath.Join(root, fmt.Sprintf("go-%d", i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if rest, err := io.ReadAll(lines); err != nil || len(rest) != 0 {
		t.Errorf("the follow ended with %q, %v; want a clean end and nothing more", rest, err)
	}
	waitState(t, a.Agent, "talker", api.TaskFinished, 30*time.Second)

	if out, _ := getLogs(t, a.Agent, "talker", api.LogQuery{}); out != "line 1\nline 2\nline 3\n" {
		t.Errorf("stdout after the end: %q", out)
	}
	if out, _ := getLogs(t, a.Agent, "talker", api.LogQuery{Stream: api.StreamStderr}); out != "oops\n" {
		t.Errorf("stderr after the end: %q", out)
	}
	if out, off := getLogs(t, a.Agent, "talker", api.LogQuery{Offset: -7}); out != "line 3\n" || off != 14 {
		t.Errorf("the last 7 bytes: %q at %d, want %q at 14", out, off, "line 3\n")
	}
	if out, off := getLogs(t, a.Agent, "talker", api.LogQuery{Offset: 7}); out != "line 2\nline 3\n" || off != 7 {
		t.Errorf("from offset 7: %q at %d", out, off)
	}
	// A follow of an ended task ends at once.
	if out, _ := getLogs(t, a.Agent, "talker", api.LogQuery{Follow: true}); out != "line 1\nline 2\nline 3\n" {
		t.Errorf("follow after the end: %q", out)
	}

	// The master takes the final status: the task is forgotten, its logs
	// stay.
	a.dropReported(map[string]api.TaskState{"talker": api.TaskFinished})
	if _, ok := status(a.Agent, "talker"); ok {
		t.Fatal("the task is still tracked after its final status was taken")
	}
	if out, _ := getLogs(t, a.Agent, "talker", api.LogQuery{Stream: api.StreamStderr}); out != "oops\n" {
		t.Errorf("stderr of a forgotten task: %q", out)
	}
	for _, q := range []string{"stream=stdin", "offset=x", "follow=maybe"} {
		resp, err := operatorHTTP(t).Get(a.URL() + "/tasks/talker/logs?" + q)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", q, resp.StatusCode)
		}
	}
	resp2, err := operatorHTTP(t).Get(a.URL() + "/tasks/nobody/logs")
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if resp2.StatusCode != http.StatusNotFound {
		t.Errorf("logs of an unknown task: %d, want 404", resp2.StatusCode)
	}
}

// TestLogsRotateAtTheirCap: a task that writes far more than its log
// budget leaves at most the budget per stream in its sandbox, the newest
// part, at the right offsets.
func TestLogsRotateAtTheirCap(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.Isolation = IsolationNone
	cfg.LogMaxBytes = 4096
	a := start(t, cfg)
	// 1000 lines of "NNNN\n": 5000 bytes.
	cmd := `i=1000; while [ $i -lt 2000 ]; do echo $i; i=$((i+1)); done`
	if err := a.launch(api.TaskInfo{TaskID: "chatty", Cmd: cmd, Resources: "cpus:0.1;mem:32"}); err != nil {
		t.Fatal(err)
	}
	waitState(t, a.Agent, "chatty", api.TaskFinished, 30*time.Second)
	var kept int64
	for _, name := range []string{"stdout", "stdout.1"} {
		if fi, err := os.Stat(filepath.Join(a.cfg.sandboxDir(), "chatty", name)); err == nil {
			kept += fi.Size()
		}
	}
	if kept > cfg.LogMaxBytes || kept < cfg.LogMaxBytes/2 {
		t.Errorf("the sandbox keeps %d bytes of stdout, want at most %d and at least half", kept, cfg.LogMaxBytes)
	}
	out, off := getLogs(t, a.Agent, "chatty", api.LogQuery{})
	if off != 5000-int64(len(out)) || !strings.HasSuffix(out, "1998\n1999\n") {
		t.Fatalf("from the start: %d bytes at offset %d ending %q; want the newest bytes, at 5000 minus their length", len(out), off, out[max(0, len(out)-10):])
	}
	// The lines kept follow each other; the first may have lost its
	// start to the rotation.
	out = out[strings.IndexByte(out, '\n')+1:]
	first, _ := strconv.Atoi(strings.SplitN(out, "\n", 2)[0])
	want := ""
	for i := first; i < 2000; i++ {
		want += strconv.Itoa(i) + "\n"
	}
	if out != want {
		t.Errorf("kept stdout is not the lines %d to 1999 in order", first)
	}
	if got, o := getLogs(t, a.Agent, "chatty", api.LogQuery{Offset: 4995}); got != "1999\n" || o != 4995 {
		t.Errorf("offset 4995: %q at %d", got, o)
	}
}

// TestLogsSurviveAnAgentRestart: a task writes while its agent restarts;
// the next agent copies on from where the FIFO stands, so every line is in
// the log, in order, once.
func TestLogsSurviveAnAgentRestart(t *testing.T) {
	requireIsolation(t)
	cfg := testConfig(t, testenv.TempDirOnDisk(t))
	first := start(t, cfg)
	// Lines until /stop exists, then "end".
	cmd := `i=0; while [ ! -e /stop ]; do echo $i; i=$((i+1)); sleep 0.01; done; echo end`
	if err := first.launch(api.TaskInfo{TaskID: "writer", Cmd: cmd, Resources: "cpus:0.1;mem:32"}); err != nil {
		t.Fatal(err)
	}
	waitState(t, first.Agent, "writer", api.TaskRunning, 30*time.Second)
	testenv.Eventually(t, 30*time.Second, func() bool {
		out, _ := getLogs(t, first.Agent, "writer", api.LogQuery{})
		return strings.Count(out, "\n") >= 20
	}, "twenty lines before the restart")
	first.mu.Lock()
	root := first.tasks["writer"].root
	first.mu.Unlock()
	if err := first.stop(t, ErrRestart); err != nil {
		t.Fatal(err)
	}
	second := start(t, cfg)
	before, _ := getLogs(t, second.Agent, "writer", api.LogQuery{})
	testenv.Eventually(t, 30*time.Second, func() bool {
		out, _ := getLogs(t, second.Agent, "writer", api.LogQuery{})
		return strings.Count(out, "\n") >= strings.Count(before, "\n")+20
	}, "twenty more lines after the restart")
	if err := os.WriteFile(filepath.Join(root, "stop"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// An adopted task's exit status went to the first agent: it ends
	// "failed, status unknown", its logs whole.
	waitState(t, second.Agent, "writer", api.TaskFailed, 30*time.Second)
	out, _ := getLogs(t, second.Agent, "writer", api.LogQuery{})
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if lines[len(lines)-1] != "end" {
		t.Fatalf("the log ends %q, want end", lines[len(lines)-1])
	}
	for i, l := range lines[:len(lines)-1] {
		if l != strconv.Itoa(i) {
			t.Fatalf("line %d is %q: a line was lost or repeated across the restart", i, l)
		}
	}
	t.Logf("%d lines, across an agent restart", len(lines))
}

// TestSandboxesAreKeptThenCollectedByAgeAndDisk: sandboxes of forgotten
// tasks stay with their logs; the collection removes those older than the
// retention and keeps the young, never touches a task still tracked, and
// above the disk watermark removes the young too, oldest first.
func TestSandboxesAreKeptThenCollectedByAgeAndDisk(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.Isolation = IsolationNone
	cfg.SandboxRetention = time.Hour
	cfg.SandboxDiskWatermark = 1 // never full
	a := start(t, cfg)
	for _, id := range []string{"old", "young", "younger", "running"} {
		cmd := "echo " + id
		if id == "running" {
			cmd = "sleep 1000"
		}
		if err := a.launch(api.TaskInfo{TaskID: id, Cmd: cmd, Resources: "cpus:0.1;mem:32"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"old", "young", "younger"} {
		waitState(t, a.Agent, id, api.TaskFinished, 30*time.Second)
	}
	waitState(t, a.Agent, "running", api.TaskRunning, 30*time.Second)
	a.dropReported(map[string]api.TaskState{"old": api.TaskFinished, "young": api.TaskFinished, "younger": api.TaskFinished})
	now := time.Now()
	for id, ago := range map[string]time.Duration{"old": 2 * time.Hour, "young": 30 * time.Minute, "younger": time.Minute} {
		if err := markEnded(a.cfg.sandboxDir(), id, now.Add(-ago)); err != nil {
			t.Fatal(err)
		}
	}
	exists := func(id string) bool {
		_, err := os.Stat(filepath.Join(a.cfg.sandboxDir(), id))
		return err == nil
	}

	if removed := a.collectSandboxes(now); strings.Join(removed, ",") != "old" {
		t.Errorf("collected %v, want old only", removed)
	}
	for id, want := range map[string]bool{"old": false, "young": true, "younger": true, "running": true} {
		if exists(id) != want {
			t.Errorf("sandbox %s exists: %v, want %v", id, !want, want)
		}
	}
	if out, _ := getLogs(t, a.Agent, "young", api.LogQuery{}); out != "young\n" {
		t.Errorf("logs of the kept sandbox: %q", out)
	}

	// The disk above the watermark: the kept ones go, oldest first; the
	// running task's stays.
	a.cfg.SandboxDiskWatermark = 1e-9
	if removed := a.collectSandboxes(now); strings.Join(removed, ",") != "young,younger" {
		t.Errorf("collected %v above the watermark, want young,younger", removed)
	}
	if !exists("running") {
		t.Error("the sandbox of a running task was collected")
	}
	if got := testutil.ToFloat64(a.m.sandboxesRemoved.WithLabelValues("disk")); got != 2 {
		t.Errorf("sandboxes collected for disk: %v, want 2", got)
	}
}
