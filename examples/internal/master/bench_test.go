package master

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/embed"

	"github.com/gleaner/gleaner/examples/internal/api"
	"github.com/gleaner/gleaner/examples/internal/auth"
	"github.com/gleaner/gleaner/examples/internal/auth/authtest"
	"github.com/gleaner/gleaner/internal/etcdtest"
)

// BenchmarkMasterThroughput measures the master with 1,000 simulated agents
// and 10 frameworks, everything through the real HTTP API on loopback and a
// real embedded etcd: agents report every second (taking their launch
// commands from the answers and reporting the tasks RUNNING), frameworks
// accept every offer with one small task.
//
// Two such clusters run side by side: one secured as in production (TLS
// 1.3 with a certificate per agent and framework, every call authorized by
// identity and an ACL policy, etcd over TLS with its authentication and the
// master's key-prefix role), one insecure (plaintext, no authentication);
// each agent has a connection of its own in both. They take turns, only one
// working at a time, for windows of 2,000 accepted offers, so that the
// load of a shared machine falls on both alike; one iteration is four turns
// each. It reports offers made and accepted per second of each, the secure
// accepts as a percentage of the insecure ones (goal: at least 80), and
// accepts per second of the process's CPU time for each (a machine shared
// with other work gives the process an uneven share of its CPUs).
func BenchmarkMasterThroughput(b *testing.B) {
	const (
		perWindow = 2000
		rounds    = 4
	)
	b.ReportAllocs()
	b.StopTimer()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	insecure := startBenchCluster(ctx, b, &wg, false)
	secure := startBenchCluster(ctx, b, &wg, true)
	for _, c := range []*benchCluster{insecure, secure} {
		// The first offers come in a burst of every agent at once.
		c.run(b, perWindow)
		c.elapsed, c.offers, c.accepts = 0, 0, 0
	}
	b.StartTimer()
	for range b.N {
		for range rounds {
			insecure.run(b, perWindow)
			secure.run(b, perWindow)
		}
	}
	b.StopTimer()
	b.ReportMetric(secure.rate(secure.offers), "offers/s")
	b.ReportMetric(secure.rate(secure.accepts), "accepts/s")
	b.ReportMetric(insecure.rate(insecure.offers), "insecure-offers/s")
	b.ReportMetric(insecure.rate(insecure.accepts), "insecure-accepts/s")
	b.ReportMetric(100*secure.rate(secure.accepts)/insecure.rate(insecure.accepts), "secure/insecure-%")
	perCPU := func(c *benchCluster) float64 { return float64(c.accepts) / c.cpu.Seconds() }
	b.ReportMetric(perCPU(secure), "accepts/cpu-s")
	b.ReportMetric(perCPU(insecure), "insecure-accepts/cpu-s")
}

// benchCluster is a master with simulated agents and frameworks that work
// only while its gate is open.
type benchCluster struct {
	gate              gate
	offered, accepted atomic.Int64
	// Totals of the windows run.
	elapsed, cpu    time.Duration
	offers, accepts int64
}

func (c *benchCluster) rate(n int64) float64 { return float64(n) / c.elapsed.Seconds() }

// cpuTime is the CPU time the process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// run opens the gate until n more offers were accepted.
func (c *benchCluster) run(b *testing.B, n int64) {
	offered0, accepted0 := c.offered.Load(), c.accepted.Load()
	start, cpu0 := time.Now(), cpuTime()
	c.gate.set(true)
	for c.accepted.Load() < accepted0+n {
		if b.Failed() {
			b.FailNow()
		}
		time.Sleep(time.Millisecond)
	}
	c.gate.set(false)
	c.elapsed += time.Since(start)
	c.cpu += cpuTime() - cpu0
	c.offers += c.offered.Load() - offered0
	c.accepts += c.accepted.Load() - accepted0
}

// gate holds goroutines back while closed.
type gate struct {
	mu   sync.Mutex
	open bool
	wake chan struct{} // closed when the gate opens
}

func (g *gate) set(open bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.wake == nil {
		g.wake = make(chan struct{})
	}
	if open && !g.open {
		close(g.wake)
	} else if !open && g.open {
		g.wake = make(chan struct{})
	}
	g.open = open
}

// wait returns once the gate is open, false if ctx ended first.
func (g *gate) wait(ctx context.Context) bool {
	g.mu.Lock()
	if g.wake == nil {
		g.wake = make(chan struct{})
	}
	open, wake := g.open, g.wake
	g.mu.Unlock()
	if open {
		return true
	}
	select {
	case <-wake:
		return true
	case <-ctx.Done():
		return false
	}
}

// benchPolicy is what a production ACL grants the benchmark's parties.
func benchPolicy(frameworks int) *auth.Policy {
	var fws []string
	for f := range frameworks {
		fws = append(fws, fmt.Sprintf("framework/fw%d", f))
	}
	return &auth.Policy{
		RegisterFrameworks: []auth.RegisterGrant{{Principals: auth.Names(fws...), Roles: auth.Names("*"), MaxWeight: 2}},
		RunTasks:           []auth.RunGrant{{Principals: auth.Names(fws...), Users: auth.Names("nobody")}},
		GetState:           []auth.Grant{{Principals: auth.Names("operator/ops")}},
	}
}

// startBenchCluster starts etcd, a master, the simulated agents (registered)
// and frameworks (subscribed), secure or not, with a closed gate; wg owns
// the goroutines, which end with ctx.
func startBenchCluster(ctx context.Context, b *testing.B, wg *sync.WaitGroup, secure bool) *benchCluster {
	const (
		agents     = 1000
		frameworks = 10
		reporters  = 8
	)
	prefix := newPrefix(b)
	// etcd does not fsync: on a machine shared with other work the disk's
	// latency, not the master, would set the pace.
	noFsync := func(c *embed.Config) { c.UnsafeNoFsync = true }
	var cfg Config
	if secure {
		srv := etcdtest.Start(b, noFsync)
		cfg = testConfig(authtest.Etcd(b, srv, prefix, authtest.Principal(b, "master/bench")), prefix)
		cfg.ID, cfg.TLS, cfg.ACL = "bench", authtest.Master(b, "bench"), benchPolicy(frameworks)
	} else {
		srv := etcdtest.StartInsecure(b, noFsync)
		cfg = testConfig(srv.Client(b), prefix)
		cfg.Insecure = true
	}
	cfg.AllocationInterval = 20 * time.Millisecond
	cfg.AgentGrace = time.Hour
	cfg.SessionTTL = 10 * time.Second // the host is loaded: never lose the lead to a late keep-alive
	m := startMaster(b, cfg)
	waitLeader(b, m.Master)
	c := &benchCluster{}
	// Each party has a connection of its own: in the secure cluster its
	// own certificate.
	httpClient := func(principal string) *http.Client {
		if secure {
			return authtest.Client(b, authtest.Principal(b, principal), auth.KindMaster)
		}
		hc := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
		b.Cleanup(hc.CloseIdleConnections)
		return hc
	}

	// Register the agents.
	sim := make([]*simAgent, agents)
	ids := make(chan int)
	var regWG sync.WaitGroup
	for range reporters {
		regWG.Go(func() {
			for i := range ids {
				id := fmt.Sprintf("agent-%04d", i)
				sim[i] = &simAgent{id: id, c: api.NewAgentClient([]string{m.URL()}, api.WithHTTPClient(httpClient("agent/"+id)))}
				if _, err := sim[i].c.Register(ctx, api.RegisterAgent{AgentID: id, Hostname: id,
					Reservation: "cpus:32;mem:65536"}); err != nil {
					b.Error(err)
				}
			}
		})
	}
	for i := range agents {
		ids <- i
	}
	close(ids)
	regWG.Wait()
	if b.Failed() {
		b.FailNow()
	}

	// Each reporter reports its share of agents so that every agent reports
	// once a second while the gate is open.
	for r := range reporters {
		wg.Go(func() {
			mine := sim[r*agents/reporters : (r+1)*agents/reporters]
			tick := time.NewTicker(time.Second / time.Duration(len(mine)))
			defer tick.Stop()
			for i := 0; ; i = (i + 1) % len(mine) {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				if !c.gate.wait(ctx) {
					return
				}
				mine[i].report(ctx)
			}
		})
	}

	// The frameworks accept whatever they are offered.
	for f := range frameworks {
		name := fmt.Sprintf("fw%d", f)
		sc := api.NewSchedulerClient([]string{m.URL()}, api.WithHTTPClient(httpClient("framework/"+name)))
		es, err := sc.Subscribe(ctx, api.Subscribe{Name: name, Weight: float64(1 + f%2)})
		if err != nil {
			b.Fatal(err)
		}
		wg.Go(func() {
			defer es.Close()
			var fw string
			seq := 0
			for {
				ev, err := es.Next()
				if err != nil || !c.gate.wait(ctx) {
					return
				}
				switch ev.Type {
				case api.EventSubscribed:
					fw = ev.Subscribed.FrameworkID
				case api.EventOffers:
					c.offered.Add(int64(len(ev.Offers)))
					for len(ev.Offers) > 0 {
						n := min(len(ev.Offers), api.MaxTasksPerAccept)
						acc := api.Accept{FrameworkID: fw, RefuseSeconds: ptr(0.0)}
						for _, o := range ev.Offers[:n] {
							seq++
							acc.OfferIDs = append(acc.OfferIDs, o.ID)
							acc.Tasks = append(acc.Tasks, api.TaskInfo{TaskID: fmt.Sprintf("%s.%d", fw, seq), AppID: "bench",
								OfferID: o.ID, Cmd: "true", Resources: "cpus:0.01;mem:1"})
						}
						ev.Offers = ev.Offers[n:]
						if err := sc.Accept(ctx, acc); err != nil {
							if ctx.Err() == nil {
								b.Error(err)
							}
							return
						}
						c.accepted.Add(int64(n))
					}
				}
			}
		})
	}
	return c
}

// simAgent is a simulated agent: it runs every task it is told to launch
// at once, forever.
type simAgent struct {
	id    string
	c     *api.AgentClient
	tasks []api.TaskStatus
}

func (a *simAgent) report(ctx context.Context) {
	cmds, err := a.c.Report(ctx, api.AgentReport{AgentID: a.id, Reservation: "cpus:32;mem:65536",
		Business: "cpus:4;mem:8192", Harvested: "cpus:1;mem:512", Tasks: a.tasks})
	if err != nil {
		return
	}
	for _, c := range cmds {
		if c.Type == api.CommandLaunch {
			a.tasks = append(a.tasks, api.TaskStatus{TaskID: c.Task.TaskID, State: api.TaskRunning})
		}
	}
}

// BenchmarkFollowerTakeover measures how long a follower takes to lead after
// the leader loses etcd, as when its host dies: the leader's session lease
// must expire first, so one session TTL (2 s here) is the floor. Goal: at
// most two TTLs. It reports takeover-s and takeover-ttls (the same in TTLs).
func BenchmarkFollowerTakeover(b *testing.B) {
	srv := etcdtest.Start(b)
	var total time.Duration
	var ttl time.Duration
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		proxy := etcdtest.NewProxy(b, srv.Endpoint())
		cfg := testConfig(etcdtest.NewClient(b, proxy.Endpoint()), newPrefix(b))
		cfg.SessionTTL = 2 * time.Second
		ttl = cfg.SessionTTL
		m1 := startMaster(b, cfg)
		waitLeader(b, m1.Master)
		cfg.Etcd = srv.Client(b)
		m2 := startMaster(b, cfg)
		b.StartTimer()

		start := time.Now()
		proxy.Cut()
		waitLeader(b, m2.Master) // polls every 10 ms, fine against a 2 s floor
		total += time.Since(start)

		b.StopTimer()
		m2.stop(b)
		m1.stop(b)
		b.StartTimer()
	}
	mean := total / time.Duration(b.N)
	b.ReportMetric(mean.Seconds(), "takeover-s")
	b.ReportMetric(float64(mean)/float64(ttl), "takeover-ttls")
}
