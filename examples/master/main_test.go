package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gleaner/gleaner/examples/internal/api"
	"github.com/gleaner/gleaner/examples/internal/auth"
	"github.com/gleaner/gleaner/examples/internal/auth/authtest"
	"github.com/gleaner/gleaner/internal/etcdtest"
)

func TestRunServesUntilCancelled(t *testing.T) {
	srv := etcdtest.Start(t)
	const prefix = "/gleaner-test-master-main"
	authtest.Etcd(t, srv, prefix, authtest.Principal(t, "master/m1"))
	f := authtest.Files(t, authtest.Principal(t, "master/m1"))
	acls := filepath.Join(t.TempDir(), "acls.json")
	if err := os.WriteFile(acls, []byte(`{"get_state": [{"principals": ["operator/ops"]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var stderr bytes.Buffer
	go func() {
		done <- run(ctx, []string{"--etcd", srv.Endpoint(), "--listen", addr, "--prefix", prefix,
			"--session-ttl", "2s", "--ca", f.CA, "--cert", f.Cert, "--key", f.Key, "--acls", acls}, &stderr)
	}()
	ops := authtest.Client(t, authtest.Principal(t, "operator/ops"), auth.KindMaster)
	var info api.LeaderInfo
	deadline := time.Now().Add(15 * time.Second)
	for !info.IsLeader {
		if time.Now().After(deadline) {
			t.Fatalf("master at %s never led; log:\n%s", addr, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
		resp, err := ops.Get("https://" + addr + api.PathLeader)
		if err != nil {
			continue
		}
		_ = json.NewDecoder(resp.Body).Decode(&info)
		resp.Body.Close()
	}
	if info.URL != "https://"+addr || info.Leader != info.URL {
		t.Fatalf("leader info %+v", info)
	}
	// The operator the ACL names reads the state; a framework it does not
	// name may not.
	if _, err := api.NewClient([]string{info.URL}, api.WithHTTPClient(ops)).State(ctx); err != nil {
		t.Fatalf("operator reading the state: %v", err)
	}
	fw := authtest.Client(t, authtest.Principal(t, "framework/x"), auth.KindMaster)
	if _, err := api.NewClient([]string{info.URL}, api.WithHTTPClient(fw)).State(ctx); !errors.Is(err, api.ErrForbidden) ||
		!strings.Contains(err.Error(), "no grant get_state") {
		t.Fatalf("a framework reading the state: %v, want 403 naming get_state", err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("run did not return after cancel")
	}
}

func TestRunRefusesToServePlaintextUnlessInsecure(t *testing.T) {
	var stderr bytes.Buffer
	err := run(context.Background(), []string{"--listen", "127.0.0.1:0"}, &stderr)
	if !errors.Is(err, auth.ErrNoTLS) {
		t.Fatalf("without TLS files or -insecure: %v, want ErrNoTLS", err)
	}
}

func TestRunRefusesBadFlags(t *testing.T) {
	var stderr bytes.Buffer
	err := run(context.Background(), []string{"--allocation-interval", "soon"}, &stderr)
	if err == nil {
		t.Fatal("bad duration accepted")
	}
	if want := `invalid value "soon" for flag -allocation-interval`; !bytes.Contains(stderr.Bytes(), []byte(want)) {
		t.Fatalf("stderr %q lacks %q", stderr.String(), want)
	}
}
