//go:build linux

package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gleaner/gleaner/examples/demo/cluster"
	"github.com/gleaner/gleaner/examples/internal/api"
	"github.com/gleaner/gleaner/examples/internal/framework"
	"github.com/gleaner/gleaner/examples/internal/metricstest"
	"github.com/gleaner/gleaner/internal/pki/pkitest"
	"github.com/gleaner/gleaner/internal/testenv"
	"github.com/gleaner/gleaner/isolate"
)

// interval is the sampling, reporting and allocation interval of the
// clusters the tests start: short, so that the tests run fast. The
// benchmarks use the cluster's default instead.
const interval = 250 * time.Millisecond

// uniqueName returns a name unique to this test run, for cgroups and etcd
// prefixes that other tests on the machine must not share.
func uniqueName(kind string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "gleaner-test-e2e-" + kind + "-" + hex.EncodeToString(b[:])
}

// startCluster starts a cluster with cfg's zero fields filled for tests and
// closes it when the test ends, failing the test if Close reports an error.
func startCluster(t testing.TB, cfg cluster.Config) *cluster.Cluster {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	if cfg.Interval == 0 {
		cfg.Interval = interval
	}
	if cfg.CgroupRoot == "" {
		cfg.CgroupRoot = "/" + uniqueName("cg")
	}
	if cfg.Agents == nil {
		cfg.Agents = cluster.DefaultAgents()
	}
	if cfg.CA == nil && !cfg.Insecure {
		// The test CA: identities authtest makes are of the cluster.
		cfg.CA = pkitest.CA(t)
	}
	for i := range cfg.Agents {
		idleBusiness(t, &cfg.Agents[i])
	}
	c, err := cluster.Start(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	clientsMu.Lock()
	clients[c.FrameworkURL()] = c.HTTPClient()
	clientsMu.Unlock()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := c.Close(ctx); err != nil {
			t.Errorf("closing the cluster: %v", err)
		}
	})
	return c
}

// idleBusiness gives spec, unless it names one, a business cgroup of its
// own with nothing in it: this machine runs other work (other tests, other
// builds) that the agents must not take for their business, or they would
// lend nothing; a test that wants business load puts it in that cgroup.
func idleBusiness(t testing.TB, spec *cluster.AgentSpec) {
	t.Helper()
	if spec.BusinessCgroup != "" {
		return
	}
	testenv.RequireCgroupV1(t, "cpu", "cpuacct", "memory")
	spec.BusinessCgroup = "/" + uniqueName("business")
	iso, err := isolate.New(isolate.WithParent(spec.BusinessCgroup))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := iso.Destroy(context.Background()); err != nil {
			t.Errorf("removing %s: %v", spec.BusinessCgroup, err)
		}
	})
}

// clients are the admin clients of the clusters' framework APIs, by URL.
var (
	clientsMu sync.Mutex
	clients   = map[string]*http.Client{}
)

// clientFor returns the admin's client of the cluster whose framework
// serves url.
func clientFor(url string) *http.Client {
	clientsMu.Lock()
	defer clientsMu.Unlock()
	for prefix, c := range clients {
		if strings.HasPrefix(url, prefix) {
			return c
		}
	}
	return http.DefaultClient
}

// curlOpts are the curl options that present the admin's certificate of
// c and trust its CA (none when c is insecure).
func curlOpts(c *cluster.Cluster) string {
	f, ok := c.Files(cluster.Admin)
	if !ok {
		return ""
	}
	return fmt.Sprintf("--cacert %s --cert %s --key %s", f.CA, f.Cert, f.Key)
}

// submit posts a Marathon app definition to c's framework, as its admin.
func submit(t testing.TB, c *cluster.Cluster, app string) {
	t.Helper()
	resp, err := c.HTTPClient().Post(c.FrameworkURL()+"/v2/apps", "application/json", bytes.NewBufferString(app))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("POST /v2/apps: %s: %s", resp.Status, body)
	}
}

// waitState polls the master's state until cond holds, and returns that
// state; it fails the test with the last state's summary after timeout.
func waitState(t testing.TB, c *api.Client, timeout time.Duration, what string, cond func(api.State) bool) api.State {
	t.Helper()
	var last api.State
	var lastErr error
	testenv.Eventually(t, timeout, func() bool {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		st, err := c.State(ctx)
		if err != nil {
			lastErr = err
			return false
		}
		last = st
		return cond(st)
	}, "%s (last error %v); last state:\n%s", what, errPtr{&lastErr}, statePtr{&last})
	return last
}

// errPtr and statePtr print what they point to when the failure message is
// formatted, so that it shows the last state, not the first.
type errPtr struct{ err *error }

func (p errPtr) String() string { return fmt.Sprint(*p.err) }

type statePtr struct{ st *api.State }

func (p statePtr) String() string { return describe(*p.st) }

// The master's counters that tests wait on instead of sleeping for "a few
// rounds": a metric name and label pairs, as metricstest.Value takes them.
var (
	metricAllocations = []string{"gleaner_master_allocation_seconds_count"}
	metricReports     = []string{"gleaner_master_http_requests_total", "route", api.PathAgentReport, "code", "200"}
)

// counter reads one of the counters above from the master at masterURL.
func counter(t testing.TB, masterURL string, metric []string) float64 {
	t.Helper()
	return metricstest.Value(t, masterURL+api.PathMetrics, metric[0], metric[1:]...)
}

// waitCounter waits until the master's counter reaches atLeast.
func waitCounter(t testing.TB, masterURL string, metric []string, atLeast float64, what string) {
	t.Helper()
	testenv.Eventually(t, 30*time.Second, func() bool { return counter(t, masterURL, metric) >= atLeast }, what)
}

// running returns the tasks in TASK_RUNNING of the app with Marathon ID
// appID ("/db"; the master knows it by its wire form, "db").
func running(st api.State, appID string) []api.TaskView {
	var out []api.TaskView
	for _, t := range st.Tasks {
		if t.AppID == framework.WireAppID(appID) && t.State == api.TaskRunning {
			out = append(out, t)
		}
	}
	return out
}

// requireSameTasks waits until the app with Marathon ID appID runs exactly
// the tasks before (sorted IDs), and fails the test for any other task of
// the app and any lost task: after event, nothing may have been lost or
// launched again.
func requireSameTasks(t testing.TB, c *api.Client, appID string, before []string, event string) api.State {
	t.Helper()
	st := waitState(t, c, 30*time.Second, fmt.Sprintf("the same %d tasks of %s running after %s", len(before), appID, event), func(st api.State) bool {
		return slices.Equal(taskIDs(running(st, appID)), before)
	})
	for _, task := range st.Tasks {
		if task.AppID == framework.WireAppID(appID) && !slices.Contains(before, task.TaskID) {
			t.Errorf("new task %s (%s) after %s: the old ones should have been kept", task.TaskID, task.State, event)
		}
		if task.State == api.TaskLost {
			t.Errorf("task %s lost after %s: %q", task.TaskID, event, task.Reason)
		}
	}
	return st
}

// taskIDs returns the sorted IDs of ts.
func taskIDs(ts []api.TaskView) []string {
	var ids []string
	for _, t := range ts {
		ids = append(ids, t.TaskID)
	}
	slices.Sort(ids)
	return ids
}

// taskView returns the task with ID id in st.
func taskView(st api.State, id string) (api.TaskView, bool) {
	for _, t := range st.Tasks {
		if t.TaskID == id {
			return t, true
		}
	}
	return api.TaskView{}, false
}

// agentAttrs returns each agent's attributes by agent ID.
func agentAttrs(st api.State) map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, a := range st.Agents {
		out[a.ID] = a.Attributes
	}
	return out
}

func describe(st api.State) string {
	var b bytes.Buffer
	for _, a := range st.Agents {
		fmt.Fprintf(&b, "agent %s up=%v attrs=%v reservation=%v business=%v harvested=%v tasks=%d isolation=%q\n",
			a.ID, a.Up, a.Attributes, a.Reservation, a.Business, a.Harvested, a.Tasks, a.Isolation)
	}
	for _, t := range st.Tasks {
		fmt.Fprintf(&b, "task %s app=%s agent=%s %s %q\n", t.TaskID, t.AppID, t.AgentID, t.State, t.Reason)
	}
	for _, p := range st.Pending {
		fmt.Fprintf(&b, "pending %s %d: %s\n", p.AppID, p.Waiting, p.Reason)
	}
	for _, e := range st.Events {
		fmt.Fprintf(&b, "event %s %s %s\n", e.Time.Format("15:04:05.000"), e.Kind, e.Message)
	}
	return b.String()
}
