//go:build linux

package agent

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gleaner/gleaner/examples/internal/api"
	"github.com/gleaner/gleaner/internal/testenv"
)

// do sends body, when there is one, as JSON: to an agent's operator socket
// for a URL of running.opURL, else over HTTPS as an operator.
func do(t *testing.T, method, url, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", api.ContentTypeJSON)
	}
	resp, err := clientFor(t, req.URL).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func getReservation(t *testing.T, a *running) ReservationInfo {
	t.Helper()
	code, body := do(t, http.MethodGet, a.opURL()+PathReservation, "")
	if code != http.StatusOK {
		t.Fatalf("GET /reservation = %d %s", code, body)
	}
	var info ReservationInfo
	if err := json.Unmarshal(body, &info); err != nil {
		t.Fatal(err)
	}
	return info
}

// cfsQuota reads the parent cgroup's CPU quota in cores.
func cfsQuota(t *testing.T, parent string) float64 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup/cpu", parent, "cpu.cfs_quota_us"))
	if err != nil {
		t.Fatal(err)
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(string(b)), 64)
	if err != nil {
		t.Fatal(err)
	}
	return v / 100000
}

func TestPutReservationAppliesOnline(t *testing.T) {
	requireIsolation(t)
	cfg := testConfig(t, testenv.TempDirOnDisk(t))
	cfg.Capacity = "cpus:2;mem:1024"
	a := start(t, cfg)
	if err := a.launch(api.TaskInfo{TaskID: "busy", Cmd: "while :; do :; done", Resources: "cpus:1;mem:64"}); err != nil {
		t.Fatal(err)
	}
	waitState(t, a.Agent, "busy", api.TaskRunning, 20*time.Second)

	// A floor lends even what the estimate says is busy; a cap bounds it.
	code, body := do(t, http.MethodPut, a.opURL()+PathReservation, `{"floor":"cpus:1.5;mem:512","cap":"cpus:1.5"}`)
	if code != http.StatusOK {
		t.Fatalf("PUT = %d %s", code, body)
	}
	info := getReservation(t, a)
	if !strings.HasPrefix(info.Reservation, "cpus:1.5;mem:") || info.Cap != "cpus:1.5" || info.Floor != "cpus:1.5;mem:512" {
		t.Fatalf("after PUT: %+v", info)
	}
	if q := cfsQuota(t, cfg.CgroupParent); q != 1.5 {
		t.Errorf("parent cgroup quota = %v cores, want 1.5 at once", q)
	}

	// Cap and floor at 0.4 cores, below what the task holds, throttle it,
	// online.
	if code, body := do(t, http.MethodPut, a.opURL()+PathReservation, `{"cap":"cpus:0.4","floor":"cpus:0.4;mem:512"}`); code != http.StatusOK {
		t.Fatalf("PUT = %d %s", code, body)
	}
	if q := cfsQuota(t, cfg.CgroupParent); q != 0.4 {
		t.Errorf("parent cgroup quota = %v cores, want 0.4", q)
	}
	a.mu.Lock()
	limit := a.tasks["busy"].cpuLimit
	a.mu.Unlock()
	if limit > 0.4 {
		t.Errorf("task quota = %v cores after a 0.4 cap, want it throttled", limit)
	}
	if s, _ := status(a.Agent, "busy"); s.State != api.TaskRunning {
		t.Errorf("throttling must not end the task: %+v", s)
	}

	// Raising the bounds again gives the task its quota back.
	if code, body := do(t, http.MethodPut, a.opURL()+PathReservation, `{"cap":"cpus:1.5","floor":"cpus:1.5;mem:512"}`); code != http.StatusOK {
		t.Fatalf("PUT = %d %s", code, body)
	}
	a.mu.Lock()
	limit = a.tasks["busy"].cpuLimit
	a.mu.Unlock()
	if limit != 1 {
		t.Errorf("task quota = %v cores after the reservation grew back, want 1", limit)
	}
	if q := cfsQuota(t, filepath.Join(cfg.CgroupParent, "busy")); q != 1 {
		t.Errorf("task cgroup quota = %v cores, want 1", q)
	}

	// Clearing the bounds gives the estimate back.
	if code, body := do(t, http.MethodPut, a.opURL()+PathReservation, `{}`); code != http.StatusOK {
		t.Fatalf("PUT {} = %d %s", code, body)
	}
	if info := getReservation(t, a); info.Cap != "" || info.Floor != "" {
		t.Errorf("bounds not cleared: %+v", info)
	}
}

func TestHTTPBadInputKeepsState(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.Isolation = IsolationNone
	a := start(t, cfg)
	if code, body := do(t, http.MethodPut, a.opURL()+PathReservation, `{"cap":"cpus:1;mem:512","floor":"cpus:0.5"}`); code != http.StatusOK {
		t.Fatalf("PUT = %d %s", code, body)
	}
	before := getReservation(t, a)

	huge := `{"cap":"` + strings.Repeat("x", api.MaxBodyBytes) + `"}`
	cases := []struct {
		name, method, path, body string
		code                     int
		want                     string
	}{
		{"malformed JSON", http.MethodPut, PathReservation, `{"cap":`, http.StatusBadRequest, "malformed"},
		{"not an object", http.MethodPut, PathReservation, `[1,2]`, http.StatusBadRequest, "malformed"},
		{"unknown field", http.MethodPut, PathReservation, `{"cap":"cpus:1","ceiling":"cpus:2"}`, http.StatusBadRequest, `field "ceiling": unknown field`},
		{"two objects", http.MethodPut, PathReservation, `{"cap":"cpus:1"}{"cap":"cpus:2"}`, http.StatusBadRequest, "data after the object"},
		{"oversized body", http.MethodPut, PathReservation, huge, http.StatusRequestEntityTooLarge, "larger than"},
		{"unparsable cap", http.MethodPut, PathReservation, `{"cap":"cpus:abc"}`, http.StatusBadRequest, `cap "cpus:abc"`},
		{"unknown resource in floor", http.MethodPut, PathReservation, `{"floor":"gpus:1"}`, http.StatusBadRequest, `floor "gpus:1"`},
		{"non-scalar cap", http.MethodPut, PathReservation, `{"cap":"ports:[1-2]"}`, http.StatusBadRequest, "not a scalar"},
		{"floor above cap", http.MethodPut, PathReservation, `{"cap":"cpus:1","floor":"cpus:2"}`, http.StatusBadRequest, "floor cpus 2 is above cap 1"},
		{"wrong method", http.MethodPost, PathReservation, `{}`, http.StatusMethodNotAllowed, ""},
		{"unknown path", http.MethodGet, "/reservations", ``, http.StatusNotFound, ""},
		{"tasks are read-only", http.MethodPost, PathTasks, `{}`, http.StatusMethodNotAllowed, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, body := do(t, c.method, a.opURL()+c.path, c.body)
			if code != c.code {
				t.Fatalf("%s %s = %d %s, want %d", c.method, c.path, code, body, c.code)
			}
			if c.want == "" {
				return
			}
			var er api.ErrorResponse
			if err := json.Unmarshal(body, &er); err != nil || !strings.Contains(er.Error, c.want) {
				t.Errorf("body = %s, want an error naming %q", body, c.want)
			}
		})
	}
	for _, ct := range []string{"", "text/plain"} {
		req, err := http.NewRequest(http.MethodPut, a.opURL()+PathReservation, strings.NewReader(`{"cap":"cpus:0.1"}`))
		if err != nil {
			t.Fatal(err)
		}
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		resp, err := clientFor(t, req.URL).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnsupportedMediaType {
			t.Errorf("PUT with content type %q = %d, want 415", ct, resp.StatusCode)
		}
	}
	after := getReservation(t, a)
	if after.Cap != before.Cap || after.Floor != before.Floor {
		t.Errorf("bad requests changed the bounds: before %+v, after %+v", before, after)
	}
	if code, _ := do(t, http.MethodGet, a.URL()+PathHealth, ""); code != http.StatusOK {
		t.Errorf("healthz = %d after bad input", code)
	}
}

func TestMetricsExposeAgentAndHost(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.Isolation = IsolationNone
	a := start(t, cfg)
	testenv.Eventually(t, 30*time.Second, func() bool {
		_, body := do(t, http.MethodGet, a.URL()+PathMetrics, "")
		return bytes.Contains(body, []byte("gleaner_host_cpu"))
	}, "a second sample")
	_, body := do(t, http.MethodGet, a.URL()+PathMetrics, "")
	for _, want := range []string{
		`gleaner_agent_reservation{resource="cpus"}`,
		"gleaner_agent_isolation_available 0",
		"gleaner_agent_tasks_running 0",
		"gleaner_agent_qos_evictions_total 0",
		"gleaner_host_memory",
	} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
