package attrs_test

import (
	"testing"
	"time"

	"github.com/gleaner/gleaner/attrs"
	"github.com/gleaner/gleaner/internal/etcdtest"
)

func TestSyncerDeliversSetAndDelete(t *testing.T) {
	srv := etcdtest.Start(t)
	cli := srv.Client(t)
	ctx := testContext(t)
	store := attrs.NewEtcdStore(cli)

	s, err := attrs.NewSyncer(cli, "agent-1", attrs.WithProbeInterval(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	changes, cancel := s.Subscribe()
	defer cancel()
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
