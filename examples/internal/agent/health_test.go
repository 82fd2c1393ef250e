//go:build linux

package agent

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gleaner/gleaner/examples/internal/api"
	"github.com/gleaner/gleaner/internal/testenv"
)

// waitHealth waits until task id reports the health verdict want.
func waitHealth(t *testing.T, a *Agent, id string, want bool) {
	t.Helper()
	testenv.Eventually(t, 30*time.Second, func() bool {
		s, ok := status(a, id)
		return ok && s.Healthy != nil && *s.Healthy == want
	}, "task %s healthy=%v", id, want)
}

// freePort returns a loopback port nothing listens on.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

func TestHTTPAndTCPHealthChecksFromTheAgent(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.Isolation = IsolationNone
	a := start(t, cfg)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" {
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	port, _ := strconv.Atoi(srv.URL[strings.LastIndex(srv.URL, ":")+1:])
	check := func(proto string, port int, path string) []api.HealthCheck {
		return []api.HealthCheck{{Protocol: proto, Port: port, Path: path, IntervalSeconds: 0.05, TimeoutSeconds: 1, MaxConsecutiveFailures: 2}}
	}
	launch := func(id string, checks []api.HealthCheck) {
		t.Helper()
		if err := a.launch(api.TaskInfo{TaskID: id, Cmd: "sleep 100", Resources: "cpus:0.1;mem:16;ports:[31000-31000]", HealthChecks: checks}); err != nil {
			t.Fatal(err)
		}
	}
	launch("http-ok", check(api.CheckHTTP, port, "/health"))
	launch("tcp-ok", check(api.CheckTCP, port, ""))
	launch("http-404", check(api.CheckHTTP, port, "/missing"))
	launch("tcp-closed", check(api.CheckTCP, freePort(t), ""))
	waitHealth(t, a.Agent, "http-ok", true)
	waitHealth(t, a.Agent, "tcp-ok", true)
	for _, id := range []string{"http-404", "tcp-closed"} {
		s := waitState(t, a.Agent, id, api.TaskFailed, 30*time.Second)
		if !strings.HasPrefix(s.Reason, api.ReasonUnhealthy+": ") || !strings.Contains(s.Reason, "2 times in a row") {
			t.Errorf("%s ended with reason %q, want an unhealthy kill after 2 failures", id, s.Reason)
		}
	}
	if s, _ := status(a.Agent, "http-ok"); s.State != api.TaskRunning {
		t.Errorf("the healthy task is %s", s.State)
	}
}

func TestCommandHealthCheckRunsInTheTaskRoot(t *testing.T) {
	requireIsolation(t)
	a := start(t, testConfig(t, testenv.TempDirOnDisk(t)))
	// The check sees the task's root (the base made from the host's programs), not the host (whose /work
	// this test runs in): the first passes, the second fails there. The
	// check's launch counts against the task's memory (its cgroup), so
	// the tasks get room for the launcher under -race.
	checks := func(cmd string) []api.HealthCheck {
		return []api.HealthCheck{{Protocol: api.CheckCommand, Command: cmd, IntervalSeconds: 0.1, TimeoutSeconds: 10, MaxConsecutiveFailures: 2}}
	}
	for id, cmd := range map[string]string{
		"in-root": `test -x /bin/sleep && ! test -e /etc/debian_version && ! test -e /work && test "$GLEANER_TASK_ID" = in-root`,
		"host":    `test -e /work`,
	} {
		if err := a.launch(api.TaskInfo{TaskID: id, Cmd: "sleep 100", Resources: "cpus:0.2;mem:256", HealthChecks: checks(cmd)}); err != nil {
			t.Fatal(err)
		}
	}
	waitHealth(t, a.Agent, "in-root", true)
	s := waitState(t, a.Agent, "host", api.TaskFailed, 30*time.Second)
	if !strings.HasPrefix(s.Reason, api.ReasonUnhealthy) {
		t.Errorf("reason = %q, want unhealthy", s.Reason)
	}
}

func TestAgentOffersPorts(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.Isolation = IsolationNone
	cfg.Ports = "[32000-32009]"
	a := start(t, cfg)
	if r := a.reservation().Reservation; !strings.HasSuffix(r, ";ports:[32000-32009]") {
		t.Fatalf("reservation %q lacks the ports", r)
	}
	bad := cfg
	bad.Ports = "[9-1]"
	if _, err := New(bad); err == nil || !strings.Contains(err.Error(), "Config.Ports") {
		t.Fatalf("New with ports [9-1]: %v", err)
	}
	if err := a.launch(api.TaskInfo{TaskID: "bad-check", Cmd: "sleep 1", Resources: "cpus:0.1;mem:16",
		HealthChecks: []api.HealthCheck{{Protocol: api.CheckTCP, Port: 0, IntervalSeconds: 1, TimeoutSeconds: 1}}}); err == nil {
		t.Fatal("a TCP check without a port was accepted")
	}
}
