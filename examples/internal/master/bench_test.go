package master

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gleaner/gleaner/examples/internal/api"
	"github.com/gleaner/gleaner/internal/etcdtest"
)

// BenchmarkMasterThroughput measures the master with 1,000 simulated agents
// and 10 frameworks, everything through the real HTTP API on loopback and a
// real embedded etcd: agents report every second (taking their launch
// commands from the answers and reporting the tasks RUNNING), frameworks
// accept every offer with one small task. One iteration lasts until the
// frameworks have accepted 2,000 offers. It reports offers made and offers
// accepted per second.
func BenchmarkMasterThroughput(b *testing.B) {
	const (
		agents     = 1000
		frameworks = 10
		perIter    = 2000
		reporters  = 8
	)
	srv := etcdtest.Start(b)
	cfg := testConfig(srv.Client(b), newPrefix(b))
	cfg.AllocationInterval = 20 * time.Millisecond
	cfg.AgentGrace = time.Hour
	cfg.SessionTTL = 10 * time.Second // the host is loaded: never lose the lead to a late keep-alive
	m := startMaster(b, cfg)
	waitLeader(b, m.Master)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()

	// Register the agents.
	sim := make([]*simAgent, agents)
	ids := make(chan int)
	var regWG sync.WaitGroup
	for range reporters {
		regWG.Go(func() {
			c := api.NewAgentClient([]string{m.URL()})
			for i := range ids {
				sim[i] = &simAgent{id: fmt.Sprintf("agent-%04d", i), c: c}
				if _, err := c.Register(ctx, api.RegisterAgent{AgentID: sim[i].id, Hostname: sim[i].id,
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

	// Each reporter reports its share of agents so that every agent reports
	// once a second.
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
				mine[i].report(ctx)
			}
		})
	}

	// The frameworks accept whatever they are offered.
	var offered, accepted atomic.Int64
	for f := range frameworks {
		sc := api.NewSchedulerClient([]string{m.URL()})
		es, err := sc.Subscribe(ctx, api.Subscribe{Name: fmt.Sprintf("fw%d", f), Weight: float64(1 + f%2)})
		if err != nil {
			b.Fatal(err)
		}
		wg.Go(func() {
			defer es.Close()
			var fw string
			seq := 0
			for {
				ev, err := es.Next()
				if err != nil {
					return
				}
				switch ev.Type {
				case api.EventSubscribed:
					fw = ev.Subscribed.FrameworkID
				case api.EventOffers:
					offered.Add(int64(len(ev.Offers)))
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
						accepted.Add(int64(n))
					}
				}
			}
		})
	}

	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	offered0, accepted0 := offered.Load(), accepted.Load()
	for range b.N {
		target := accepted.Load() + perIter
		for accepted.Load() < target {
			if b.Failed() {
				b.FailNow()
			}
			time.Sleep(time.Millisecond)
		}
	}
	elapsed := time.Since(start).Seconds()
	b.StopTimer()
	b.ReportMetric(float64(offered.Load()-offered0)/elapsed, "offers/s")
	b.ReportMetric(float64(accepted.Load()-accepted0)/elapsed, "accepts/s")
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
