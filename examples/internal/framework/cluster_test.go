package framework_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/gleaner/gleaner/examples/internal/api"
	"github.com/gleaner/gleaner/examples/internal/auth"
	"github.com/gleaner/gleaner/examples/internal/auth/authtest"
	"github.com/gleaner/gleaner/examples/internal/framework"
	"github.com/gleaner/gleaner/examples/internal/master"
	"github.com/gleaner/gleaner/internal/etcdtest"
	"github.com/gleaner/gleaner/internal/testenv"
)

var prefixSeq atomic.Int64

// cluster is a real master on an embedded etcd, simulated agents and a
// framework, all in this process on loopback.
type cluster struct {
	t       testing.TB
	cli     *clientv3.Client
	prefix  string
	alloc   time.Duration
	master  *master.Master // the first
	masters []string       // every master's URL
	stops   []func()       // stop each master
	agents  map[string]*simAgent
	fw      *framework.Framework
	fwURL   string
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

func startCluster(t testing.TB) *cluster {
	t.Helper()
	return startClusterWith(t, 20*time.Millisecond)
}

// startClusterWith starts a cluster whose master allocates every alloc.
func startClusterWith(t testing.TB, alloc time.Duration) *cluster {
	t.Helper()
	srv := etcdtest.Start(t)
	c := &cluster{
		t: t, cli: srv.Client(t), agents: map[string]*simAgent{}, alloc: alloc,
		prefix: fmt.Sprintf("/gleaner-test-framework-%d-%d", time.Now().UnixNano()%1e9, prefixSeq.Add(1)),
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	t.Cleanup(c.stop)
	c.master = c.addMaster()
	testenv.Eventually(t, 30*time.Second, c.master.IsLeader, "master to lead")
	return c
}

// addMaster starts one more master of the cluster.
func (c *cluster) addMaster() *master.Master {
	c.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		c.t.Fatal(err)
	}
	id := fmt.Sprintf("m%d", len(c.masters)+1)
	m, err := master.New(master.Config{
		ID: id, TLS: authtest.Master(c.t, id), ACL: auth.AllowAll(),
		Etcd: c.cli, Prefix: c.prefix, Listener: ln,
		AllocationInterval: c.alloc, ReportInterval: 50 * time.Millisecond,
		HeartbeatInterval: time.Second, SessionTTL: 2 * time.Second, AgentGrace: 3 * time.Second,
		Refuse: time.Second, Logger: testLogger(c.t, "master-"+fmt.Sprint(len(c.masters)+1)),
	})
	if err != nil {
		c.t.Fatal(err)
	}
	c.masters = append(c.masters, m.URL())
	ctx, cancel := context.WithCancel(c.ctx)
	done := make(chan struct{})
	c.wg.Go(func() {
		defer close(done)
		if err := m.Run(ctx); err != nil {
			c.t.Errorf("master: %v", err)
		}
	})
	c.stops = append(c.stops, func() { cancel(); <-done })
	return m
}

// stopMaster stops the i-th master and waits until it has.
func (c *cluster) stopMaster(i int) { c.stops[i]() }

func (c *cluster) stop() {
	c.cancel()
	done := make(chan struct{})
	go func() { c.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		c.t.Error("cluster did not stop")
	}
}

// startFramework runs a framework against the master.
func (c *cluster) startFramework(cfg framework.Config) {
	c.t.Helper()
	cfg.Masters = c.masters
	cfg.Listen = "127.0.0.1:0"
	if cfg.TLS == nil && !cfg.Insecure {
		cfg.TLS = authtest.Framework(c.t, "marathon")
	}
	if cfg.Tick == 0 {
		cfg.Tick = 50 * time.Millisecond
	}
	if cfg.Refuse == 0 {
		cfg.Refuse = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = testLogger(c.t, "framework")
	}
	f, err := framework.New(cfg)
	if err != nil {
		c.t.Fatal(err)
	}
	c.fw, c.fwURL = f, f.Addr()
	c.wg.Go(func() {
		if err := f.Run(c.ctx); err != nil {
			c.t.Errorf("framework: %v", err)
		}
	})
	testenv.Eventually(c.t, 30*time.Second, func() bool { return f.FrameworkID() != "" }, "framework to subscribe")
}

// simAgent is an agent without a machine: it registers, reports, and
// "runs" what it is told to launch by reporting it RUNNING (or FAILED,
// for commands that say "exit").
type simAgent struct {
	id, reservation string
	attrs           map[string]string
	client          *api.AgentClient

	mu       sync.Mutex
	tasks    map[string]api.TaskStatus
	launched []api.TaskInfo
	at       []time.Time // when each of launched arrived
}

func (c *cluster) addAgent(id, reservation string, attrs map[string]string) *simAgent {
	c.t.Helper()
	a := &simAgent{id: id, reservation: reservation, attrs: attrs, tasks: map[string]api.TaskStatus{},
		client: api.NewAgentClient(c.masters, asPrincipal(c.t, "agent/"+id))}
	if _, err := a.client.Register(c.ctx, api.RegisterAgent{AgentID: id, Hostname: "host-" + id,
		Reservation: reservation, Capacity: reservation, Attributes: attrs}); err != nil {
		c.t.Fatalf("register %s: %v", id, err)
	}
	c.agents[id] = a
	c.wg.Go(func() { a.run(c.ctx) })
	return a
}

func (a *simAgent) run(ctx context.Context) {
	for ctx.Err() == nil {
		a.mu.Lock()
		report := api.AgentReport{AgentID: a.id, Reservation: a.reservation, Tasks: []api.TaskStatus{}}
		for id, st := range a.tasks {
			report.Tasks = append(report.Tasks, st)
			if st.State.Terminal() {
				delete(a.tasks, id)
			}
		}
		a.mu.Unlock()
		cmds, err := a.client.Report(ctx, report)
		if err == nil {
			a.apply(cmds)
			cmds, err = a.client.Commands(ctx, a.id, 50*time.Millisecond)
			a.apply(cmds)
		}
		if err != nil && ctx.Err() == nil {
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func (a *simAgent) apply(cmds []api.AgentCommand) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, cmd := range cmds {
		switch cmd.Type {
		case api.CommandLaunch:
			ti := *cmd.Task
			a.launched = append(a.launched, ti)
			a.at = append(a.at, time.Now())
			st := api.TaskStatus{TaskID: ti.TaskID, State: api.TaskRunning, Time: time.Now()}
			if strings.HasPrefix(ti.Cmd, "exit") {
				st.State, st.Reason = api.TaskFailed, "exited with status 1"
			}
			a.tasks[ti.TaskID] = st
		case api.CommandKill:
			a.tasks[cmd.TaskID] = api.TaskStatus{TaskID: cmd.TaskID, State: api.TaskKilled, Reason: cmd.Reason, Time: time.Now()}
		}
	}
}

// running returns the IDs of the tasks the agent runs.
func (a *simAgent) running() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var ids []string
	for id, st := range a.tasks {
		if st.State == api.TaskRunning {
			ids = append(ids, id)
		}
	}
	return ids
}

func (a *simAgent) launch(taskID string) (api.TaskInfo, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, ti := range a.launched {
		if ti.TaskID == taskID {
			return ti, true
		}
	}
	return api.TaskInfo{}, false
}

// operator is an HTTP client of an operator, who may use the framework's
// API and read the master's state.
func operator(t testing.TB) *http.Client {
	t.Helper()
	return authtest.Client(t, authtest.Principal(t, "operator/ops"))
}

// asPrincipal authenticates an API client of the masters as principal.
func asPrincipal(t testing.TB, principal string) api.ClientOption {
	t.Helper()
	return api.WithHTTPClient(authtest.Client(t, authtest.Principal(t, principal), auth.KindMaster))
}

// do sends an HTTP request to the framework's API and decodes the answer.
func do(t testing.TB, method, url, body string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := operator(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	if out != nil {
		if err := json.Unmarshal(buf.Bytes(), out); err != nil {
			t.Fatalf("%s %s: decode %q: %v", method, url, buf.String(), err)
		}
	}
	return resp.StatusCode
}

func (c *cluster) app(id string) framework.AppStatus {
	c.t.Helper()
	var out struct{ App framework.AppStatus }
	if code := do(c.t, http.MethodGet, c.fwURL+"/v2/apps"+id, "", &out); code != http.StatusOK {
		c.t.Fatalf("GET app %s: %d", id, code)
	}
	return out.App
}

// launchedOf returns when the agent received each launch of an app.
func (a *simAgent) launchedOf(appID string) []time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	var at []time.Time
	for i, ti := range a.launched {
		if ti.AppID == appID {
			at = append(at, a.at[i])
		}
	}
	return at
}

// testLogger logs into the test's log, shown when it fails or with -v.
// Benchmarks, whose logs are always shown, log nothing.
func testLogger(t testing.TB, name string) *slog.Logger {
	if _, ok := t.(*testing.B); ok {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(tlogWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})).With("component", name)
}

type tlogWriter struct{ t testing.TB }

func (w tlogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
