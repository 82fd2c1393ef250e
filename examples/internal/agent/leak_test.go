//go:build linux

package agent

import (
	"net/http"
	goruntime "runtime"
	"testing"
	"time"

	"github.com/gleaner/gleaner/examples/internal/api"
)

func TestRunLeavesNoGoroutines(t *testing.T) {
	before := goruntime.NumGoroutine()
	cfg := testConfig(t, t.TempDir())
	cfg.Isolation = IsolationNone
	a := start(t, cfg)
	if err := a.launch(api.TaskInfo{TaskID: "t", Cmd: "sleep 100", Resources: "cpus:0.1;mem:32;disk:8"}); err != nil {
		t.Fatal(err)
	}
	waitState(t, a.Agent, "t", api.TaskRunning, 10*time.Second)
	do(t, http.MethodGet, a.URL()+PathMetrics, "")
	if err := a.stop(t, nil); err != nil {
		t.Fatal(err)
	}
	closeIdleClients()
	deadline := time.Now().Add(5 * time.Second)
	for goruntime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines after Run returned, %d before:\n%s", goruntime.NumGoroutine(), before, buf[:goruntime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}
