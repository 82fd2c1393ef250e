package master

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/gleaner/gleaner/examples/internal/api"
	"github.com/gleaner/gleaner/examples/internal/auth"
	"github.com/gleaner/gleaner/examples/internal/auth/authtest"
	"github.com/gleaner/gleaner/internal/etcdtest"
	"github.com/gleaner/gleaner/internal/testenv"
)

// testConfig has intervals short enough for tests.
func testConfig(cli *clientv3.Client, prefix string) Config {
	return Config{
		Etcd:               cli,
		Prefix:             prefix,
		AllocationInterval: 50 * time.Millisecond,
		ReportInterval:     100 * time.Millisecond,
		HeartbeatInterval:  time.Second,
		SessionTTL:         5 * time.Second, // failover tests shorten it; a loaded CI host may stall a keep-alive
		AgentGrace:         3 * time.Second,
		Refuse:             time.Second,
	}
}

// running is a master started by startMaster.
type running struct {
	*Master
	cancel context.CancelFunc
	done   chan struct{} // closed when Run returned
	err    error         // what Run returned
}

// stop ends the master and waits for Run to return.
func (r *running) stop(t testing.TB) {
	t.Helper()
	r.cancel()
	select {
	case <-r.done:
		require.NoError(t, r.err)
	case <-time.After(15 * time.Second):
		t.Fatal("master did not stop")
	}
}

// startMaster runs a master on a free loopback port until the test ends.
// Unless cfg says otherwise it is secure, as in production: TLS with a
// certificate of the test CA, and an ACL granting every principal
// everything (tests of refusals give their own).
func startMaster(t testing.TB, cfg Config) *running {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	cfg.Listener = ln
	if cfg.TLS == nil && !cfg.Insecure {
		name := cfg.ID
		if name == "" {
			name = "test"
		}
		cfg.TLS = authtest.Master(t, name)
	}
	if cfg.ACL == nil {
		cfg.ACL = auth.AllowAll()
	}
	m, err := New(cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{Master: m, cancel: cancel, done: make(chan struct{})}
	go func() { r.err = m.Run(ctx); close(r.done) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(15 * time.Second):
			var buf strings.Builder
			_ = pprof.Lookup("goroutine").WriteTo(&buf, 1)
			t.Errorf("master did not stop; goroutines:\n%s", buf.String())
		}
	})
	return r
}

// clients are the HTTP clients as and operator made, one per principal
// and test, so that a test counting goroutines can close their idle
// connections.
var (
	clientsMu sync.Mutex
	clients   = map[[2]string]*http.Client{}
)

// as authenticates an API client as principal ("agent/a1",
// "framework/batch") with a certificate of the test CA; it expects to talk
// to a master.
func as(t testing.TB, principal string) api.ClientOption {
	t.Helper()
	return api.WithHTTPClient(client(t, principal))
}

// agentAs is a client of the master at url authenticated as agent id.
func agentAs(t testing.TB, url, id string) *api.AgentClient {
	t.Helper()
	return api.NewAgentClient([]string{url}, as(t, "agent/"+id))
}

// operator is an HTTP client of an operator, for plain GETs and POSTs.
func operator(t testing.TB) *http.Client {
	t.Helper()
	return client(t, "operator/ops")
}

// client returns the client of principal in t's top-level test.
func client(t testing.TB, principal string) *http.Client {
	t.Helper()
	test, _, _ := strings.Cut(t.Name(), "/")
	key := [2]string{test, principal}
	clientsMu.Lock()
	defer clientsMu.Unlock()
	if c, ok := clients[key]; ok {
		return c
	}
	c := authtest.Client(t, authtest.Principal(t, principal), auth.KindMaster)
	clients[key] = c
	return c
}

// closeIdleClients closes the idle connections of every client as and
// operator made.
func closeIdleClients() {
	clientsMu.Lock()
	defer clientsMu.Unlock()
	for _, c := range clients {
		c.CloseIdleConnections()
	}
}

// waitLeader waits until m leads.
func waitLeader(t testing.TB, m *Master) {
	t.Helper()
	testenv.Eventually(t, 30*time.Second, m.IsLeader, "master %s never led", m.cfg.ID)
}

// stream collects a subscription's events in a goroutine owned by the test.
type stream struct {
	t      testing.TB
	es     *api.EventStream
	events chan api.Event
	done   chan struct{}
	// decline returns offers the test skips, so that they are made again
	// rather than held forever.
	decline func(offerIDs []string)
}

func subscribe(t testing.TB, c *api.SchedulerClient, req api.Subscribe) (*stream, string) {
	t.Helper()
	s, sub := subscribe2(t, c, req)
	return s, sub.FrameworkID
}

// subscribe2 is subscribe returning the SUBSCRIBED body.
func subscribe2(t testing.TB, c *api.SchedulerClient, req api.Subscribe) (*stream, api.Subscribed) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	es, err := c.Subscribe(ctx, req)
	require.NoError(t, err)
	s := &stream{t: t, es: es, events: make(chan api.Event, 4096), done: make(chan struct{})}
	go s.pump()
	t.Cleanup(func() { cancel(); _ = es.Close(); <-s.done })
	sub := *s.next(api.EventSubscribed).Subscribed
	s.decline = func(ids []string) {
		// Errors are expected: the offer may have been rescinded meanwhile.
		_ = c.Decline(context.Background(), api.Decline{FrameworkID: sub.FrameworkID, OfferIDs: ids, RefuseSeconds: ptr(0.0)})
	}
	return s, sub
}

// skip declines the offers of an event the test does not want.
func (s *stream) skip(offers []api.Offer) {
	if s.decline == nil || len(offers) == 0 {
		return
	}
	ids := make([]string, len(offers))
	for i, o := range offers {
		ids[i] = o.ID
	}
	s.decline(ids)
}

// pump moves events to s.events until the stream ends.
func (s *stream) pump() {
	defer close(s.done)
	defer close(s.events)
	for {
		ev, err := s.es.Next()
		if err != nil {
			return
		}
		s.events <- ev
	}
}

func jsonDecode(resp *http.Response, v any) error { return json.NewDecoder(resp.Body).Decode(v) }

// next returns the next event of the given type, skipping others.
func (s *stream) next(typ api.EventType) api.Event {
	s.t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-s.events:
			if !ok {
				s.t.Fatalf("stream ended while waiting for %s", typ)
			}
			if ev.Type == typ {
				return ev
			}
			if ev.Type == api.EventOffers {
				s.skip(ev.Offers)
			}
		case <-timeout:
			s.t.Fatalf("no %s event within 10s", typ)
		}
	}
}

// update waits for an UPDATE of task to state.
func (s *stream) update(taskID string, state api.TaskState) api.TaskStatus {
	s.t.Helper()
	for {
		ev := s.next(api.EventUpdate)
		if ev.Status.TaskID == taskID && ev.Status.State == state {
			return *ev.Status
		}
	}
}

// offerOn waits for an offer on the agent.
func (s *stream) offerOn(agentID string) api.Offer {
	s.t.Helper()
	for {
		offers := s.next(api.EventOffers).Offers
		for i, o := range offers {
			if o.AgentID == agentID {
				s.skip(append(offers[:i:i], offers[i+1:]...))
				return o
			}
		}
		s.skip(offers)
	}
}

// closed waits until the master ended the stream.
func (s *stream) closed(within time.Duration) bool {
	select {
	case <-s.done:
		return true
	case <-time.After(within):
		return false
	}
}

// fixture is a leading master with agent "a1" (hostname "h1") registered
// and framework "batch" subscribed.
type fixture struct {
	m     *running
	agent *api.AgentClient
	sched *api.SchedulerClient
	s     *stream
	fw    string
}

// newFixture starts etcd and a master (cfg adjusted by configure), and
// registers a1 with the reservation.
func newFixture(t *testing.T, reservation string, configure ...func(*Config)) *fixture {
	t.Helper()
	srv := etcdtest.Start(t)
	cfg := testConfig(srv.Client(t), newPrefix(t))
	for _, c := range configure {
		c(&cfg)
	}
	f := &fixture{m: startMaster(t, cfg)}
	waitLeader(t, f.m.Master)
	f.agent = api.NewAgentClient([]string{f.m.URL()}, as(t, "agent/a1"))
	_, err := f.agent.Register(context.Background(), api.RegisterAgent{AgentID: "a1", Hostname: "h1", Reservation: reservation})
	require.NoError(t, err)
	f.sched = api.NewSchedulerClient([]string{f.m.URL()}, as(t, "framework/batch"))
	f.s, f.fw = subscribe(t, f.sched, api.Subscribe{Name: "batch"})
	return f
}
