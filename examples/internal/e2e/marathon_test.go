//go:build linux

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gleaner/gleaner/examples/demo/cluster"
	"github.com/gleaner/gleaner/examples/internal/api"
	"github.com/gleaner/gleaner/examples/internal/framework"
	"github.com/gleaner/gleaner/internal/testenv"
)

// compatAgents are three agents with room for the compatibility tests.
func compatAgents(testing.TB) []cluster.AgentSpec {
	return []cluster.AgentSpec{
		{ID: "compat-1", Attributes: map[string]string{"rack": "r1"}, Capacity: "cpus:2;mem:2048"},
		{ID: "compat-2", Attributes: map[string]string{"rack": "r2"}, Capacity: "cpus:2;mem:2048"},
		{ID: "compat-3", Attributes: map[string]string{"rack": "r3"}, Capacity: "cpus:2;mem:2048"},
	}
}

// call sends a request to the framework and returns the status and body.
func call(t testing.TB, method, url, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := clientFor(url).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, data
}

// appStatus reads an app from the framework's API.
func appStatus(t testing.TB, url, id string) framework.AppStatus {
	t.Helper()
	code, body := call(t, http.MethodGet, url+"/v2/apps"+id, "")
	var out struct{ App framework.AppStatus }
	if code != http.StatusOK || json.Unmarshal(body, &out) != nil {
		t.Fatalf("GET /v2/apps%s: %d %s", id, code, body)
	}
	return out.App
}

// settled reports whether an app runs its instances, healthy when it has
// health checks, with no deployment in progress.
func settled(a framework.AppStatus) bool {
	healthy := a.TasksRunning
	if len(a.HealthChecks) > 0 {
		healthy = a.TasksHealthy
	}
	return a.TasksRunning == a.Instances && healthy == a.Instances && len(a.Deployments) == 0
}

// TestMarathonExamplesRunOrAreRefusedByField posts Marathon's documented
// example definitions (our copies, in testdata/marathon) unchanged: those
// whose fields Gleaner supports run (ports and their variables, health
// checks, upgrade strategy, a group with dependencies), the others are
// refused naming the field and value that Gleaner does not support.
func TestMarathonExamplesRunOrAreRefusedByField(t *testing.T) {
	c := startCluster(t, cluster.Config{Agents: compatAgents(t)})
	url := c.FrameworkURL()
	refused := map[string]string{
		"docker.json":      `field "container.type": value "DOCKER"`,
		"readiness.json":   `field "readinessChecks"`,
		"ip-per-task.json": `field "ipAddress"`,
	}
	runs := map[string]string{"basic-0.json": "/basic-0", "webapp.json": "/product/service/web"}
	for name, says := range refused {
		code, body := call(t, http.MethodPost, url+"/v2/apps", readExample(t, name))
		var e api.ErrorResponse
		if code != http.StatusBadRequest || json.Unmarshal(body, &e) != nil || !strings.HasPrefix(e.Error, says) {
			t.Errorf("%s: %d %s, want 400 saying %s", name, code, body, says)
		}
	}
	for name := range runs {
		if code, body := call(t, http.MethodPost, url+"/v2/apps", readExample(t, name)); code != http.StatusCreated {
			t.Fatalf("%s: %d %s", name, code, body)
		}
	}
	code, body := call(t, http.MethodPost, url+"/v2/groups", readExample(t, "group.json"))
	if code != http.StatusCreated || !bytes.Contains(body, []byte("deploymentId")) {
		t.Fatalf("group: %d %s", code, body)
	}
	for _, id := range []string{"/basic-0", "/product/service/web", "/shop/db", "/shop/web"} {
		var last framework.AppStatus
		testenv.Eventually(t, 300*time.Second, func() bool {
			last = appStatus(t, url, id)
			return settled(last)
		}, "%s running (last seen %+v)", id, &last)
	}
	web := appStatus(t, url, "/product/service/web")
	for _, task := range web.Tasks {
		if len(task.Ports) != 1 || task.Ports[0] < 31000 || len(task.HealthCheckResults) != 1 || !task.HealthCheckResults[0].Alive {
			t.Errorf("web task %s: ports %v, health %+v", task.ID, task.Ports, task.HealthCheckResults)
		}
	}
	if web.Tasks[0].Host == web.Tasks[1].Host {
		t.Errorf("hostname UNIQUE put both tasks on %s", web.Tasks[0].Host)
	}
	// The master's dashboard state shows the tasks' health and the
	// deployments that ran.
	st, err := c.Client().State(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	healthy := 0
	for _, task := range st.Tasks {
		if task.Healthy != nil && *task.Healthy {
			healthy++
		}
	}
	if healthy != 2 || len(st.Deployments) == 0 {
		t.Errorf("master state: %d healthy tasks, %d deployments; want 2 and some", healthy, len(st.Deployments))
	}
}

func readExample(t testing.TB, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "marathon", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestMarathonClientScriptDrivesTheLifecycle runs a Marathon client
// written as plain curl calls from Marathon's API documentation
// (testdata/marathon/client.sh) against a real cluster: create, scale by a
// partial PUT, update, restart, a rollback of a deployment that cannot
// become healthy, kill-and-scale and delete, checking Marathon's status
// codes, deploymentId and version.
func TestMarathonClientScriptDrivesTheLifecycle(t *testing.T) {
	curl := testenv.RequireBinary(t, "curl")
	c := startCluster(t, cluster.Config{Agents: compatAgents(t)})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", filepath.Join("testdata", "marathon", "client.sh"))
	cmd.Env = append(os.Environ(), "MARATHON="+c.FrameworkURL(), "PATH="+filepath.Dir(curl)+":"+os.Getenv("PATH"),
		"CURL_OPTS="+curlOpts(c))
	out, err := cmd.CombinedOutput()
	t.Logf("client.sh:\n%s", out)
	if err != nil {
		t.Fatalf("client.sh: %v", err)
	}
}
