package attrs_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/gleaner/gleaner/attrs"
	"github.com/gleaner/gleaner/internal/etcdtest"
	"github.com/gleaner/gleaner/internal/testenv"
)

func TestSyncerDeliversSetAndDelete(t *testing.T) {
	srv := etcdtest.Start(t)
	cli := srv.Client(t)
	ctx := testContext(t)
	store := newEtcdStore(t, cli)

	s, err := attrs.NewSyncer(cli, "agent-1", attrs.WithProbeInterval(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	sub := s.Subscribe()
	defer sub.Close()
	changes := sub.C()
	start(t, s)
	waitReady(t, s.Ready())

	if _, err := store.Set(ctx, "agent-1", "rack", attrs.Text("r1")); err != nil {
		t.Fatal(err)
	}
	c := next(t, changes)
	if c.Kind != attrs.Added || c.Name != "rack" || c.New.String() != "r1" || c.Attributes["rack"] != "r1" {
		t.Fatalf("after set: got %+v, want rack added as r1", c)
	}
	if _, err := store.Set(ctx, "agent-1", "rack", attrs.Text("r2")); err != nil {
		t.Fatal(err)
	}
	if c := next(t, changes); c.Kind != attrs.Updated || c.Old.String() != "r1" || c.New.String() != "r2" {
		t.Fatalf("after update: got %+v, want rack r1 -> r2", c)
	}
	if _, err := store.Delete(ctx, "agent-1", "rack"); err != nil {
		t.Fatal(err)
	}
	c = next(t, changes)
	if c.Kind != attrs.Removed || c.Name != "rack" || c.Old.String() != "r2" || !c.New.IsZero() {
		t.Fatalf("after delete: got %+v, want rack removed", c)
	}
	if _, ok := c.Attributes["rack"]; ok {
		t.Fatalf("attributes after removal still hold rack: %v", c.Attributes)
	}
	if got := s.Attributes().String(); got != "" {
		t.Fatalf("Attributes() = %q, want none", got)
	}
}

func TestSyncerLocalAttributesYieldToEtcd(t *testing.T) {
	srv := etcdtest.Start(t)
	cli := srv.Client(t)
	ctx := testContext(t)
	store := newEtcdStore(t, cli)
	if _, err := store.Set(ctx, "agent-1", "rack", attrs.Text("r1")); err != nil {
		t.Fatal(err)
	}

	s, err := attrs.NewSyncer(cli, "agent-1", attrs.WithLocal(mustParse(t, "rack:r0;cores:8")))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.Attributes().String(), "cores:8;rack:r0"; got != want {
		t.Fatalf("before the first sync: Attributes() = %q, want the local %q", got, want)
	}
	sub := s.Subscribe()
	defer sub.Close()
	changes := sub.C()
	start(t, s)

	if c := next(t, changes); c.Kind != attrs.Updated || c.Name != "rack" || c.Old.String() != "r0" || c.New.String() != "r1" {
		t.Fatalf("first sync: got %+v, want rack r0 -> r1 (etcd wins)", c)
	}
	if got, want := s.Attributes().String(), "cores:8;rack:r1"; got != want {
		t.Fatalf("Attributes() = %q, want %q", got, want)
	}
	if _, err := store.Delete(ctx, "agent-1", "rack"); err != nil {
		t.Fatal(err)
	}
	if c := next(t, changes); c.Kind != attrs.Updated || c.New.String() != "r0" {
		t.Fatalf("after deleting rack in etcd: got %+v, want the local r0 back", c)
	}
}

func TestSyncerKeepsValuesWhileEtcdIsDownAndRecovers(t *testing.T) {
	srv := etcdtest.Start(t)
	cli := srv.Client(t)
	ctx := testContext(t)
	store := newEtcdStore(t, cli)
	if _, err := store.SetAgent(ctx, "agent-1", mustParse(t, "rack:r1;cores:16")); err != nil {
		t.Fatal(err)
	}

	s, err := attrs.NewSyncer(cli, "agent-1", attrs.WithProbeInterval(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	sub := s.Subscribe()
	defer sub.Close()
	changes := sub.C()
	start(t, s)
	waitReady(t, s.Ready())
	next(t, changes)
	next(t, changes)
	const want = "cores:16;rack:r1"

	srv.Stop(t)
	testenv.Eventually(t, waitTimeout, func() bool { st := s.Status(); return st.Stale && st.Age >= 300*time.Millisecond }, "status stale for 300ms")
	st := s.Status()
	if !st.Stale || st.Age < 300*time.Millisecond || st.Err == nil {
		t.Fatalf("while etcd is down: status %+v, want stale with age >= 300ms and an error", st)
	}
	if got := s.Attributes().String(); got != want {
		t.Fatalf("while etcd is down: Attributes() = %q, want the last known %q", got, want)
	}

	srv.Restart(t)
	testenv.Eventually(t, waitTimeout, func() bool { return !s.Status().Stale }, "status fresh again")
	if got := s.Attributes().String(); got != want {
		t.Fatalf("after restart: Attributes() = %q, want %q", got, want)
	}
	select {
	case c := <-changes:
		t.Fatalf("nothing changed in etcd, yet got %+v", c)
	default:
	}
	if _, err := store.Set(ctx, "agent-1", "zone", attrs.Text("east")); err != nil {
		t.Fatal(err)
	}
	if c := next(t, changes); c.Kind != attrs.Added || c.Name != "zone" {
		t.Fatalf("after restart, set zone: got %+v, want zone added", c)
	}
}

func TestSyncerResyncsAfterCompactionDuringDisconnect(t *testing.T) {
	srv := etcdtest.Start(t)
	admin := srv.Client(t)
	proxy := etcdtest.NewProxy(t, srv.Endpoint())
	cli := etcdtest.NewClient(t, proxy.Endpoint())
	ctx := testContext(t)
	store := newEtcdStore(t, admin)
	if _, err := store.SetAgent(ctx, "agent-1", mustParse(t, "rack:r1;zone:east")); err != nil {
		t.Fatal(err)
	}

	// Probe and resync periods far beyond the test: only the compacted
	// watch can make the syncer read everything again.
	s, err := attrs.NewSyncer(cli, "agent-1", attrs.WithProbeInterval(time.Hour), attrs.WithResyncPeriod(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	sub := s.Subscribe()
	defer sub.Close()
	changes := sub.C()
	start(t, s)
	next(t, changes)
	next(t, changes)

	proxy.Cut()
	if _, err := store.Set(ctx, "agent-1", "rack", attrs.Text("r2")); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Delete(ctx, "agent-1", "zone"); err != nil {
		t.Fatal(err)
	}
	rev, err := store.Set(ctx, "agent-1", "cores", attrs.Scalar(16))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Compact(ctx, rev); err != nil {
		t.Fatal(err)
	}
	proxy.Restore()

	got := map[string]attrs.Change{}
	for range 3 {
		c := next(t, changes)
		got[c.Name] = c
	}
	if c := got["rack"]; c.Kind != attrs.Updated || c.New.String() != "r2" {
		t.Errorf("rack: got %+v, want updated to r2", c)
	}
	if c := got["zone"]; c.Kind != attrs.Removed {
		t.Errorf("zone: got %+v, want removed", c)
	}
	if c := got["cores"]; c.Kind != attrs.Added || c.New.Scalar() != 16 {
		t.Errorf("cores: got %+v, want added as 16", c)
	}
	if got, want := s.Attributes().String(), "cores:16;rack:r2"; got != want {
		t.Fatalf("Attributes() = %q, want %q", got, want)
	}
}

// countingHandler counts log records by message.
type countingHandler struct {
	mu     sync.Mutex
	counts map[string]int
}

func (h *countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countingHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.counts[r.Message]++
	return nil
}
func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countingHandler) WithGroup(string) slog.Handler      { return h }
func (h *countingHandler) count(msg string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.counts[msg]
}

func TestSyncerResyncsPeriodicallyWithoutSpuriousChanges(t *testing.T) {
	srv := etcdtest.Start(t)
	cli := srv.Client(t)
	ctx := testContext(t)
	if _, err := newEtcdStore(t, cli).Set(ctx, "agent-1", "rack", attrs.Text("r1")); err != nil {
		t.Fatal(err)
	}
	h := &countingHandler{counts: map[string]int{}}
	s, err := attrs.NewSyncer(cli, "agent-1", attrs.WithResyncPeriod(100*time.Millisecond), attrs.WithLogger(slog.New(h)))
	if err != nil {
		t.Fatal(err)
	}
	sub := s.Subscribe()
	defer sub.Close()
	changes := sub.C()
	start(t, s)
	if c := next(t, changes); c.Kind != attrs.Added {
		t.Fatalf("got %+v, want rack added", c)
	}
	testenv.Eventually(t, waitTimeout, func() bool { return h.count("attrs: periodic resync") >= 3 }, "three periodic resyncs")
	select {
	case c := <-changes:
		t.Fatalf("resyncs of unchanged data delivered %+v", c)
	default:
	}
	if _, err := newEtcdStore(t, cli).Set(ctx, "agent-1", "rack", attrs.Text("r2")); err != nil {
		t.Fatal(err)
	}
	if c := next(t, changes); c.Kind != attrs.Updated || c.New.String() != "r2" {
		t.Fatalf("got %+v, want rack updated once", c)
	}
}

func TestSyncerLifecycle(t *testing.T) {
	srv := etcdtest.Start(t)
	cli := srv.Client(t)
	s, err := attrs.NewSyncer(cli, "agent-1")
	if err != nil {
		t.Fatal(err)
	}
	changes := s.Subscribe().C()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	waitReady(t, s.Ready())
	if err := s.Run(ctx); err != attrs.ErrClosed {
		t.Fatalf("second Run = %v, want ErrClosed", err)
	}
	cancel()
	if err := <-done; err != context.Canceled {
		t.Fatalf("Run after its context ended = %v, want context.Canceled", err)
	}
	s.Close()
	if _, ok := <-changes; ok {
		t.Fatal("subscription channel still open after Close")
	}
	if _, err := attrs.NewSyncer(cli, "bad/agent"); !errors.Is(err, attrs.ErrInvalid) {
		t.Fatalf("NewSyncer with a bad agent ID = %v, want ErrInvalid", err)
	}
	if _, err := attrs.NewSyncer(cli, "a", attrs.WithLocal(attrs.Attributes{{Name: "x/y", Value: attrs.Text("v")}})); !errors.Is(err, attrs.ErrInvalid) {
		t.Fatalf("NewSyncer with a bad local attribute = %v, want ErrInvalid", err)
	}
}

func TestSyncerDeliversChangesInOrder(t *testing.T) {
	srv := etcdtest.Start(t)
	cli := srv.Client(t)
	ctx := testContext(t)
	store := newEtcdStore(t, cli)
	s, err := attrs.NewSyncer(cli, "agent-1")
	if err != nil {
		t.Fatal(err)
	}
	slowSub := s.Subscribe() // read only at the end: must not hold anything up
	defer slowSub.Close()
	slow := slowSub.C()
	fastSub := s.Subscribe()
	defer fastSub.Close()
	fast := fastSub.C()
	start(t, s)
	waitReady(t, s.Ready())

	const n = 50
	for i := range n {
		if _, err := store.Set(ctx, "agent-1", "seq", attrs.Scalar(float64(i))); err != nil {
			t.Fatal(err)
		}
	}
	for _, ch := range []<-chan attrs.Change{fast, slow} {
		var last int64
		for i := range n {
			c := next(t, ch)
			if c.New.Scalar() != float64(i) || c.Revision <= last {
				t.Fatalf("change %d: got seq %v at revision %d (previous %d), want seq %d in revision order", i, c.New, c.Revision, last, i)
			}
			last = c.Revision
		}
	}
}

func TestSyncerTreatsUnparsableValuesAsAbsent(t *testing.T) {
	srv := etcdtest.Start(t)
	cli := srv.Client(t)
	ctx := testContext(t)
	s, err := attrs.NewSyncer(cli, "agent-1")
	if err != nil {
		t.Fatal(err)
	}
	sub := s.Subscribe()
	defer sub.Close()
	changes := sub.C()
	start(t, s)
	waitReady(t, s.Ready())

	const key = "/gleaner/agents/agent-1/attributes/ports"
	if _, err := cli.Put(ctx, key, "[31000-32000]"); err != nil { // as etcdctl would
		t.Fatal(err)
	}
	if c := next(t, changes); c.Kind != attrs.Added || c.New.Kind() != attrs.KindRanges {
		t.Fatalf("got %+v, want ports added as ranges", c)
	}
	if _, err := cli.Put(ctx, key, "[32000-31000]"); err != nil {
		t.Fatal(err)
	}
	if c := next(t, changes); c.Kind != attrs.Removed || c.Name != "ports" {
		t.Fatalf("got %+v, want ports removed: a malformed range is no value", c)
	}
}
