//go:build linux

package agent

import (
	"context"
	"maps"
	"testing"
	"time"

	"github.com/gleaner/gleaner/attrs"
	"github.com/gleaner/gleaner/internal/etcdtest"
	"github.com/gleaner/gleaner/internal/testenv"
)

func TestAttributesFollowEtcdAndLivenessFollowsTheAgent(t *testing.T) {
	srv := etcdtest.Start(t)
	cli := srv.Client(t)
	ctx := context.Background()
	cfg := testConfig(t, t.TempDir())
	cfg.Isolation = IsolationNone
	cfg.EtcdClient = cli
	cfg.EtcdPrefix = "/" + cfg.ID
	cfg.Attributes = "rack:r1;cores:16"
	cfg.LeaseTTL = 2 * time.Second
	store, err := attrs.NewEtcdStore(cli, attrs.WithPrefix(cfg.EtcdPrefix))
	if err != nil {
		t.Fatal(err)
	}
	// An operator set the rack before the agent's first start: it stands.
	if _, err := store.Set(ctx, cfg.ID, "rack", attrs.Text("r9")); err != nil {
		t.Fatal(err)
	}
	a := start(t, cfg)
	want := map[string]string{"rack": "r9", "cores": "16"}
	testenv.Eventually(t, 30*time.Second, func() bool { return maps.Equal(a.attributes(), want) }, "the configured attributes in etcd")

	alive := cfg.EtcdPrefix + "/agents/" + cfg.ID + "/alive"
	testenv.Eventually(t, 30*time.Second, func() bool {
		r, err := cli.Get(ctx, alive)
		return err == nil && len(r.Kvs) == 1
	}, "the liveness key")

	// Changes in etcd reach the agent; a deletion is not undone.
	if _, err := store.Set(ctx, cfg.ID, "zone", attrs.Text("east")); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Delete(ctx, cfg.ID, "cores"); err != nil {
		t.Fatal(err)
	}
	want = map[string]string{"rack": "r9", "zone": "east"}
	testenv.Eventually(t, 30*time.Second, func() bool { return maps.Equal(a.attributes(), want) }, "etcd's changes")
	if got := a.buildReport().Attributes; !maps.Equal(got, want) {
		t.Errorf("report attributes = %v, want %v", got, want)
	}

	// A restart does not write the configuration over the operator's
	// changes; a stop takes the agent out of etcd at once.
	if err := a.stop(t, ErrRestart); err != nil {
		t.Fatal(err)
	}
	b := start(t, cfg)
	testenv.Eventually(t, 30*time.Second, func() bool { return maps.Equal(b.attributes(), want) }, "etcd's attributes after the restart")
	select {
	case <-b.seeded:
	case <-time.After(30 * time.Second):
		t.Fatal("the restarted agent never finished seeding")
	}
	// What a re-seeding would have written is in etcd by now.
	entries, _, err := store.Agent(ctx, cfg.ID)
	if err != nil {
		t.Fatal(err)
	}
	inEtcd := map[string]string{}
	for _, e := range entries {
		inEtcd[e.Name] = e.Value.String()
	}
	if !maps.Equal(inEtcd, want) {
		t.Errorf("after the restart: etcd holds %v, want %v (no re-seeding)", inEtcd, want)
	}
	if err := b.stop(t, nil); err != nil {
		t.Fatal(err)
	}
	if r, err := cli.Get(ctx, alive); err != nil || len(r.Kvs) != 0 {
		t.Errorf("liveness key after a stop: %v %v, want it gone", r, err)
	}
}
