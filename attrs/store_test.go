package attrs_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/embed"

	"github.com/gleaner/gleaner/attrs"
	"github.com/gleaner/gleaner/internal/etcdtest"
)

// TestStore runs the same behaviour against both implementations.
func TestStore(t *testing.T) {
	impls := map[string]func(t *testing.T) attrs.Store{
		"etcd": func(t *testing.T) attrs.Store {
			return newEtcdStore(t, etcdtest.Start(t).Client(t), attrs.WithPrefix("/test/"))
		},
		"memory": func(t *testing.T) attrs.Store { return newMemStore(t, attrs.WithPrefix("/test")) },
	}
	for name, newStore := range impls {
		t.Run(name, func(t *testing.T) { testStore(t, newStore(t)) })
	}
}

func testStore(t *testing.T, s attrs.Store) {
	ctx := testContext(t)

	t.Run("get of a missing attribute is ErrNotFound naming it", func(t *testing.T) {
		_, err := s.Get(ctx, "a1", "rack")
		var ae *attrs.AttributeError
		if !errors.Is(err, attrs.ErrNotFound) || !errors.As(err, &ae) || ae.Name != "rack" || ae.Agent != "a1" {
			t.Fatalf("Get = %v, want ErrNotFound naming a1/rack", err)
		}
	})

	t.Run("set then get returns the value and revision", func(t *testing.T) {
		rev, err := s.Set(ctx, "a1", "rack", attrs.Text("r1"))
		if err != nil {
			t.Fatal(err)
		}
		e, err := s.Get(ctx, "a1", "rack")
		if err != nil {
			t.Fatal(err)
		}
		if e.Value.String() != "r1" || e.Revision != rev || e.Agent != "a1" || e.Name != "rack" {
			t.Fatalf("Get = %+v, want r1 at revision %d", e, rev)
		}
	})

	t.Run("compare-and-set succeeds only at the current revision", func(t *testing.T) {
		e, err := s.Get(ctx, "a1", "rack")
		if err != nil {
			t.Fatal(err)
		}
		rev, err := s.CompareAndSet(ctx, "a1", "rack", attrs.Text("r2"), e.Revision)
		if err != nil {
			t.Fatalf("CAS at the current revision: %v", err)
		}
		if _, err := s.CompareAndSet(ctx, "a1", "rack", attrs.Text("r3"), e.Revision); !errors.Is(err, attrs.ErrConflict) {
			t.Fatalf("CAS at a stale revision = %v, want ErrConflict", err)
		}
		if got, _ := s.Get(ctx, "a1", "rack"); got.Value.String() != "r2" || got.Revision != rev {
			t.Fatalf("after a lost CAS: %+v, want r2 at %d", got, rev)
		}
	})

	t.Run("compare-and-set at revision zero creates only", func(t *testing.T) {
		if _, err := s.CompareAndSet(ctx, "a1", "zone", attrs.Text("east"), 0); err != nil {
			t.Fatalf("create: %v", err)
		}
		if _, err := s.CompareAndSet(ctx, "a1", "zone", attrs.Text("west"), 0); !errors.Is(err, attrs.ErrConflict) {
			t.Fatalf("second create = %v, want ErrConflict", err)
		}
	})

	t.Run("set agent writes all in one revision", func(t *testing.T) {
		rev, err := s.SetAgent(ctx, "a2", mustParse(t, "cores:16;ports:[31000-32000];rack:r9"))
		if err != nil {
			t.Fatal(err)
		}
		es, _, err := s.Agent(ctx, "a2")
		if err != nil {
			t.Fatal(err)
		}
		if len(es) != 3 || es[0].Name != "cores" || es[0].Value.Scalar() != 16 || es[1].Value.String() != "[31000-32000]" {
			t.Fatalf("Agent(a2) = %+v", es)
		}
		for _, e := range es {
			if e.Revision != rev {
				t.Fatalf("%s at revision %d, want %d", e.Name, e.Revision, rev)
			}
		}
	})

	t.Run("list returns every agent sorted", func(t *testing.T) {
		es, rev, err := s.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range es {
			got = append(got, e.Agent+"/"+e.Name+"="+e.Value.String())
		}
		want := "a1/rack=r2 a1/zone=east a2/cores=16 a2/ports=[31000-32000] a2/rack=r9"
		if strings.Join(got, " ") != want || rev == 0 {
			t.Fatalf("List = %v at %d, want %s", got, rev, want)
		}
	})

	t.Run("delete removes one attribute, then ErrNotFound", func(t *testing.T) {
		if _, err := s.Delete(ctx, "a1", "zone"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Delete(ctx, "a1", "zone"); !errors.Is(err, attrs.ErrNotFound) {
			t.Fatalf("second delete = %v, want ErrNotFound", err)
		}
	})

	t.Run("delete agent removes all its attributes", func(t *testing.T) {
		if _, err := s.DeleteAgent(ctx, "a2"); err != nil {
			t.Fatal(err)
		}
		if es, _, _ := s.Agent(ctx, "a2"); len(es) != 0 {
			t.Fatalf("after DeleteAgent: %+v", es)
		}
		if _, err := s.DeleteAgent(ctx, "a2"); !errors.Is(err, attrs.ErrNotFound) {
			t.Fatalf("DeleteAgent of none = %v, want ErrNotFound", err)
		}
	})

	t.Run("bad input is refused naming the attribute", func(t *testing.T) {
		cases := []struct {
			agent, name string
			v           attrs.Value
			wantName    string
		}{
			{"a1", "a/b", attrs.Text("x"), "a/b"},
			{"a1", "", attrs.Text("x"), ""},
			{"a/1", "rack", attrs.Text("x"), ""},
			{"a1", "rack", attrs.Text("16"), "rack"},
			{"a1", "ports", attrs.Ranges(attrs.Range{Begin: 9, End: 1}), "ports"},
		}
		for _, c := range cases {
			_, err := s.Set(ctx, c.agent, c.name, c.v)
			var ae *attrs.AttributeError
			if !errors.Is(err, attrs.ErrInvalid) || !errors.As(err, &ae) || ae.Name != c.wantName {
				t.Errorf("Set(%q, %q, %v) = %v, want ErrInvalid naming %q", c.agent, c.name, c.v, err, c.wantName)
			}
		}
		for _, name := range []string{"a/b", ""} {
			_, err := s.Get(ctx, "a1", name)
			var ae *attrs.AttributeError
			if !errors.Is(err, attrs.ErrInvalid) || !errors.As(err, &ae) || ae.Name != name {
				t.Errorf("Get(a1, %q) = %v, want ErrInvalid naming %q", name, err, name)
			}
			_, err = s.Delete(ctx, "a1", name)
			if !errors.Is(err, attrs.ErrInvalid) || !errors.As(err, &ae) || ae.Name != name {
				t.Errorf("Delete(a1, %q) = %v, want ErrInvalid naming %q", name, err, name)
			}
		}
		dup := attrs.Attributes{{Name: "x", Value: attrs.Text("a")}, {Name: "x", Value: attrs.Text("b")}}
		if _, err := s.SetAgent(ctx, "a1", dup); !errors.Is(err, attrs.ErrInvalid) || !strings.Contains(err.Error(), `"x"`) {
			t.Errorf("SetAgent with a duplicate = %v, want ErrInvalid naming x", err)
		}
	})
}

func TestEtcdStoreRefusesValuesOverTheRequestLimit(t *testing.T) {
	srv := etcdtest.Start(t, func(c *embed.Config) { c.MaxRequestBytes = 64 << 10 })
	cli := srv.Client(t)
	ctx := testContext(t)
	big := attrs.Text(strings.Repeat("x", 100<<10))

	t.Run("refused before sending when the limit is known", func(t *testing.T) {
		s := newEtcdStore(t, cli, attrs.WithMaxRequestBytes(64<<10))
		_, err := s.Set(ctx, "a1", "blob", big)
		var ae *attrs.AttributeError
		if !errors.Is(err, attrs.ErrTooLarge) || !errors.Is(err, attrs.ErrInvalid) || !errors.As(err, &ae) || ae.Name != "blob" {
			t.Fatalf("Set = %v, want ErrTooLarge naming blob", err)
		}
	})
	t.Run("etcd's refusal is reported the same way", func(t *testing.T) {
		s := newEtcdStore(t, cli, attrs.WithMaxRequestBytes(1<<20)) // wrong about the server
		_, err := s.Set(ctx, "a1", "blob", big)
		var ae *attrs.AttributeError
		if !errors.Is(err, attrs.ErrTooLarge) || !errors.As(err, &ae) || ae.Name != "blob" {
			t.Fatalf("Set = %v, want ErrTooLarge naming blob", err)
		}
	})
	t.Run("a value under the limit is stored", func(t *testing.T) {
		s := newEtcdStore(t, cli, attrs.WithMaxRequestBytes(64<<10))
		if _, err := s.Set(ctx, "a1", "blob", attrs.Text(strings.Repeat("x", 32<<10))); err != nil {
			t.Fatal(err)
		}
	})
}

func TestEtcdStoreReportsUnparsableValuesWrittenByHand(t *testing.T) {
	srv := etcdtest.Start(t)
	cli := srv.Client(t)
	ctx := testContext(t)
	if _, err := cli.Put(ctx, "/gleaner/agents/a1/attributes/ports", "[1-"); err != nil {
		t.Fatal(err)
	}
	_, err := newEtcdStore(t, cli).Get(ctx, "a1", "ports")
	var ae *attrs.AttributeError
	if !errors.Is(err, attrs.ErrInvalid) || !errors.As(err, &ae) || ae.Name != "ports" || ae.Agent != "a1" {
		t.Fatalf("Get = %v, want ErrInvalid naming a1/ports", err)
	}
}

func TestConstructorsRefuseBadOptions(t *testing.T) {
	cli := etcdtest.Start(t).Client(t)
	for _, tt := range []struct {
		name string
		err  error
		want string
	}{
		{"resync", func() error { _, err := attrs.NewSyncer(cli, "a", attrs.WithResyncPeriod(-time.Second)); return err }(), "WithResyncPeriod(-1s): must be positive"},
		{"probe", func() error { _, err := attrs.NewClusterView(cli, attrs.WithProbeInterval(0)); return err }(), "WithProbeInterval(0s)"},
		{"lease", func() error { _, err := attrs.NewRegistrar(cli, "a", attrs.WithLeaseTTL(0)); return err }(), "WithLeaseTTL(0s)"},
		{"etcd request size", func() error { _, err := attrs.NewEtcdStore(cli, attrs.WithMaxRequestBytes(100)); return err }(), "WithMaxRequestBytes(100)"},
		{"memory request size", func() error { _, err := attrs.NewMemStore(attrs.WithMaxRequestBytes(-1)); return err }(), "WithMaxRequestBytes(-1)"},
	} {
		if !errors.Is(tt.err, attrs.ErrInvalid) || !strings.Contains(fmt.Sprint(tt.err), tt.want) {
			t.Errorf("%s: %v, want ErrInvalid naming %q", tt.name, tt.err, tt.want)
		}
	}
}

func TestMemStoreRefusesWhatEtcdWould(t *testing.T) {
	s := newMemStore(t, attrs.WithMaxRequestBytes(4<<10))
	_, err := s.Set(context.Background(), "a1", "blob", attrs.Text(strings.Repeat("x", 8<<10)))
	if !errors.Is(err, attrs.ErrTooLarge) {
		t.Fatalf("Set of 8 KiB under a 4 KiB limit = %v, want ErrTooLarge", err)
	}
}
