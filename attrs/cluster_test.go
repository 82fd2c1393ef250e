package attrs_test

import (
	"context"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/gleaner/gleaner/attrs"
	"github.com/gleaner/gleaner/internal/etcdtest"
	"github.com/gleaner/gleaner/internal/testenv"
)

func TestClusterViewLoadsManyAgents(t *testing.T) {
	srv := etcdtest.Start(t)
	cli := srv.Client(t)
	loadAgents(t, cli, 1000, 10)

	v := newClusterView(t, cli)
	start(t, v)
	waitReady(t, v.Ready())

	agents := v.Agents()
	if len(agents) != 1000 {
		t.Fatalf("view holds %d agents, want 1000", len(agents))
	}
	for _, a := range agents {
		if len(a.Attributes) != 10 {
			t.Fatalf("agent %s has %d attributes, want 10", a.ID, len(a.Attributes))
		}
	}
	a, ok := v.Agent("agent-00042")
	if !ok || a.Attributes["zone"] != "z2" || a.Attributes["cores"] != "16" || a.Attributes["ports"] != "[31000-32000]" {
		t.Fatalf("agent-00042 = %+v", a)
	}
	if typed := v.Attributes("agent-00042"); len(typed) != 10 {
		t.Fatalf("typed attributes of agent-00042: %v", typed)
	}
	inZone := v.Select(func(a attrs.Agent) bool { return a.Attributes["zone"] == "z3" })
	if len(inZone) != 100 {
		t.Fatalf("Select(zone == z3) = %d agents, want 100", len(inZone))
	}
}

func TestClusterViewChangesFindTasksWhoseConstraintsNoLongerHold(t *testing.T) {
	srv := etcdtest.Start(t)
	cli := srv.Client(t)
	ctx := testContext(t)
	store := newEtcdStore(t, cli)
	for agent, text := range map[string]string{"a1": "rack:r1;gpu:yes", "a2": "rack:r2"} {
		if _, err := store.SetAgent(ctx, agent, mustParse(t, text)); err != nil {
			t.Fatal(err)
		}
	}
	// The master's side: which task runs where, under which constraint.
	type task struct {
		agent string
		holds func(map[string]string) bool
	}
	tasks := map[string]task{
		"needs-gpu":  {"a1", func(a map[string]string) bool { return a["gpu"] == "yes" }},
		"needs-r1":   {"a1", func(a map[string]string) bool { return a["rack"] == "r1" }},
		"needs-rack": {"a2", func(a map[string]string) bool { return a["rack"] != "" }},
	}

	v := newClusterView(t, cli)
	sub := v.Subscribe()
	defer sub.Close()
	changes := sub.C()
	start(t, v)
	waitReady(t, v.Ready())
	if got := v.Select(func(a attrs.Agent) bool { return a.Attributes["gpu"] == "yes" }); len(got) != 1 || got[0].ID != "a1" {
		t.Fatalf("Select(gpu == yes) = %+v, want a1", got)
	}

	if _, err := store.Delete(ctx, "a1", "gpu"); err != nil {
		t.Fatal(err)
	}
	c := next(t, changes)
	if c.Kind != attrs.Removed || c.Agent != "a1" || c.Name != "gpu" {
		t.Fatalf("got %+v, want a1's gpu removed", c)
	}
	var broken []string
	for name, tk := range tasks {
		if tk.agent == c.Agent && !tk.holds(c.Attributes) {
			broken = append(broken, name)
		}
	}
	if len(broken) != 1 || broken[0] != "needs-gpu" {
		t.Fatalf("tasks whose constraints broke: %v, want [needs-gpu]", broken)
	}
	if got := v.Select(func(a attrs.Agent) bool { return a.Attributes["gpu"] == "yes" }); len(got) != 0 {
		t.Fatalf("Select(gpu == yes) after the delete = %+v, want none", got)
	}
}

func TestClusterViewReportsAgentGoneWhenLeaseExpires(t *testing.T) {
	srv := etcdtest.Start(t)
	cli := srv.Client(t)
	ctx := testContext(t)
	if _, err := newEtcdStore(t, cli).Set(ctx, "a1", "rack", attrs.Text("r1")); err != nil {
		t.Fatal(err)
	}
	v := newClusterView(t, cli)
	sub := v.Subscribe()
	defer sub.Close()
	changes := sub.C()
	start(t, v)
	waitReady(t, v.Ready())

	r, err := attrs.NewRegistrar(srv.Client(t), "a1", attrs.WithLeaseTTL(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	rctx, crash := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(rctx) }()
	t.Cleanup(func() { r.Close() })

	if c := next(t, changes); c.Kind != attrs.AgentUp || c.Agent != "a1" || c.Attributes["rack"] != "r1" {
		t.Fatalf("got %+v, want a1 up with rack r1", c)
	}
	// Keep-alives hold the agent up well past its TTL. The lease itself is
	// checked in etcd all along, so that a watch slow to report its end
	// cannot make this pass.
	resp, err := cli.Get(ctx, attrs.DefaultPrefix+"/agents/a1/alive")
	if err != nil || len(resp.Kvs) != 1 || resp.Kvs[0].Lease == 0 {
		t.Fatalf("a1's liveness key: %+v, %v; want one key under a lease", resp, err)
	}
	lease := clientv3.LeaseID(resp.Kvs[0].Lease)
	up := time.Now()
	testenv.Eventually(t, waitTimeout, func() bool {
		if ttl, err := cli.TimeToLive(ctx, lease); err != nil || ttl.TTL < 0 { // -1: expired
			t.Fatalf("a1's lease ended while its registrar ran: %+v, %v", ttl, err)
		}
		if a, _ := v.Agent("a1"); !a.Up {
			t.Fatalf("a1 down %v after it came up, while its registrar keeps its 2s lease alive", time.Since(up))
		}
		return time.Since(up) > 3*time.Second
	}, "a1 up for 3s, past its 2s TTL")

	crash() // stop keeping the lease alive, without revoking it
	if err := <-done; err != context.Canceled {
		t.Fatalf("Run after its context ended = %v, want context.Canceled", err)
	}
	stopped := time.Now()
	c := next(t, changes)
	if c.Kind != attrs.AgentGone || c.Agent != "a1" {
		t.Fatalf("got %+v, want a1 gone", c)
	}
	if waited := time.Since(stopped); waited < time.Second {
		t.Fatalf("a1 gone %v after its keep-alives stopped; expected the ~2s TTL to run out first", waited)
	}
	a, ok := v.Agent("a1")
	if !ok || a.Up || a.Attributes["rack"] != "r1" {
		t.Fatalf("after expiry: %+v, want a1 down with its attributes kept", a)
	}
}

func TestRegistrarCloseRevokesTheLease(t *testing.T) {
	srv := etcdtest.Start(t)
	cli := srv.Client(t)
	v := newClusterView(t, cli)
	sub := v.Subscribe()
	defer sub.Close()
	changes := sub.C()
	start(t, v)
	waitReady(t, v.Ready())

	r, err := attrs.NewRegistrar(cli, "a1", attrs.WithLeaseTTL(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- r.Run(context.Background()) }()
	if c := next(t, changes); c.Kind != attrs.AgentUp {
		t.Fatalf("got %+v, want up", c)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Run after Close = %v, want nil", err)
	}
	// Gone long before the one-minute TTL: the lease was revoked.
	if c := next(t, changes); c.Kind != attrs.AgentGone {
		t.Fatalf("got %+v, want gone", c)
	}
	if err := r.Run(context.Background()); err != attrs.ErrClosed {
		t.Fatalf("Run after Close = %v, want ErrClosed", err)
	}
}

func TestRegistrarCloseAfterTheLeaseIsGone(t *testing.T) {
	srv := etcdtest.Start(t)
	cli := srv.Client(t)
	ctx := testContext(t)
	r, err := attrs.NewRegistrar(cli, "a1", attrs.WithLeaseTTL(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- r.Run(context.Background()) }()
	var lease clientv3.LeaseID
	testenv.Eventually(t, waitTimeout, func() bool {
		resp, err := cli.Get(ctx, attrs.DefaultPrefix+"/agents/a1/alive")
		if err != nil || len(resp.Kvs) == 0 {
			return false
		}
		lease = clientv3.LeaseID(resp.Kvs[0].Lease)
		return true
	}, "a1 registered")
	// An operator revokes the lease (etcdctl lease revoke); the Registrar
	// waits a quarter of the TTL before registering again.
	if _, err := cli.Revoke(ctx, lease); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("Close with the lease already gone = %v, want nil", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Run after Close = %v, want nil", err)
	}
}

func TestRegistrarRegistersAgainAfterLosingTheLease(t *testing.T) {
	srv := etcdtest.Start(t)
	cli := srv.Client(t)
	proxy := etcdtest.NewProxy(t, srv.Endpoint())
	v := newClusterView(t, cli)
	sub := v.Subscribe()
	defer sub.Close()
	changes := sub.C()
	start(t, v)
	waitReady(t, v.Ready())

	r, err := attrs.NewRegistrar(etcdtest.NewClient(t, proxy.Endpoint()), "a1", attrs.WithLeaseTTL(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	start(t, r)
	if c := next(t, changes); c.Kind != attrs.AgentUp {
		t.Fatalf("got %+v, want up", c)
	}
	proxy.Cut() // the agent loses etcd; its lease runs out
	if c := next(t, changes); c.Kind != attrs.AgentGone {
		t.Fatalf("got %+v, want gone", c)
	}
	proxy.Restore()
	if c := next(t, changes); c.Kind != attrs.AgentUp {
		t.Fatalf("got %+v, want up again", c)
	}
}
