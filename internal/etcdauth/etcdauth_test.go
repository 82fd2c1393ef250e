package etcdauth_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"

	"github.com/gleaner/gleaner/internal/etcdauth"
	"github.com/gleaner/gleaner/internal/etcdtest"
)

func TestGrantLimitsAUserToItsPrefixes(t *testing.T) {
	srv := etcdtest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	root := srv.Client(t)
	if err := etcdauth.Grant(ctx, root, "agent/a1", []string{"/c/shared/"}, []string{"/c/agents/a1/"}); err != nil {
		t.Fatal(err)
	}
	// Granting again changes nothing.
	if err := etcdauth.Grant(ctx, root, "agent/a1", []string{"/c/shared/"}, []string{"/c/agents/a1/"}); err != nil {
		t.Fatal(err)
	}
	if _, err := root.Put(ctx, "/c/shared/x", "1"); err != nil {
		t.Fatal(err)
	}
	a1 := srv.ClientAs(t, "agent/a1")
	if _, err := a1.Put(ctx, "/c/agents/a1/alive", "1"); err != nil {
		t.Fatalf("write own key: %v", err)
	}
	if _, err := a1.Get(ctx, "/c/shared/x"); err != nil {
		t.Fatalf("read granted key: %v", err)
	}
	for _, key := range []string{"/c/agents/a2/alive", "/c/shared/x", "/c/master/election/x"} {
		if _, err := a1.Put(ctx, key, "evil"); !errors.Is(err, rpctypes.ErrPermissionDenied) {
			t.Errorf("put %s as agent/a1: %v, want permission denied", key, err)
		}
	}
	stranger := srv.ClientAs(t, "nobody")
	if _, err := stranger.Get(ctx, "/c/shared/x"); err == nil {
		t.Error("a user etcd does not know read a key")
	}
}
