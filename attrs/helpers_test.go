package attrs_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/gleaner/gleaner/attrs"
)

// waitTimeout bounds every wait for something etcd should do promptly.
const waitTimeout = 30 * time.Second

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// runner is what Syncer, ClusterView and Registrar have in common.
type runner interface {
	Run(context.Context) error
	Close() error
}

// start runs r in a goroutine, closed (and waited for) in cleanup.
func start(t testing.TB, r runner) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- r.Run(context.Background()) }()
	t.Cleanup(func() {
		r.Close()
		if err := <-done; err != nil {
			t.Errorf("Run after Close: %v", err)
		}
	})
}

func waitReady(t testing.TB, ready <-chan struct{}) {
	t.Helper()
	select {
	case <-ready:
	case <-time.After(waitTimeout):
		t.Fatal("not ready in time")
	}
}

// next returns the next change, failing the test if none comes in time.
func next(t testing.TB, ch <-chan attrs.Change) attrs.Change {
	t.Helper()
	select {
	case c, ok := <-ch:
		if !ok {
			t.Fatal("subscription closed")
		}
		return c
	case <-time.After(waitTimeout):
		t.Fatal("no change in time")
	}
	return attrs.Change{}
}

func mustParse(t testing.TB, s string) attrs.Attributes {
	t.Helper()
	a, err := attrs.Parse(s)
	if err != nil {
		t.Fatalf("Parse(%q): %v", s, err)
	}
	return a
}

func mustValue(t testing.TB, s string) attrs.Value {
	t.Helper()
	v, err := attrs.ParseValue(s)
	if err != nil {
		t.Fatalf("ParseValue(%q): %v", s, err)
	}
	return v
}

// loadAgents writes agents × perAgent attributes straight through the
// client in batched transactions (100 puts each), the fast way to fill
// etcd for a test or benchmark. Agent i has zone z<i%10>, rack r<i%100>,
// cores 16, ports [31000-32000] and filler text attributes.
func loadAgents(t testing.TB, cli *clientv3.Client, agents, perAgent int) {
	t.Helper()
	ctx := testContext(t)
	const batch = 100
	ops := make([]clientv3.Op, 0, batch)
	flush := func() {
		if len(ops) == 0 {
			return
		}
		if _, err := cli.Txn(ctx).Then(ops...).Commit(); err != nil {
			t.Fatalf("loading agents: %v", err)
		}
		ops = ops[:0]
	}
	for i := range agents {
		agent := fmt.Sprintf("agent-%05d", i)
		for j := range perAgent {
			var name, value string
			switch j {
			case 0:
				name, value = "zone", fmt.Sprintf("z%d", i%10)
			case 1:
				name, value = "rack", fmt.Sprintf("r%d", i%100)
			case 2:
				name, value = "cores", "16"
			case 3:
				name, value = "ports", "[31000-32000]"
			default:
				name, value = fmt.Sprintf("label%d", j), fmt.Sprintf("value-%d-%d", i, j)
			}
			ops = append(ops, clientv3.OpPut("/gleaner/agents/"+agent+"/attributes/"+name, value))
			if len(ops) == batch {
				flush()
			}
		}
	}
	flush()
}

func newEtcdStore(t testing.TB, cli *clientv3.Client, opts ...attrs.StoreOption) *attrs.EtcdStore {
	t.Helper()
	s, err := attrs.NewEtcdStore(cli, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newMemStore(t testing.TB, opts ...attrs.StoreOption) *attrs.MemStore {
	t.Helper()
	s, err := attrs.NewMemStore(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newClusterView(t testing.TB, cli *clientv3.Client, opts ...attrs.ClusterViewOption) *attrs.ClusterView {
	t.Helper()
	v, err := attrs.NewClusterView(cli, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
