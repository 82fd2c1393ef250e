package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/gleaner/gleaner/examples/internal/api"
	"github.com/gleaner/gleaner/internal/etcdtest"
)

func TestRunServesUntilCancelled(t *testing.T) {
	// The master's command takes no TLS flags yet: a plain etcd.
	srv := etcdtest.StartInsecure(t)
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
		done <- run(ctx, []string{"--etcd", srv.Endpoint(), "--listen", addr, "--prefix", "/gleaner-test-master-main",
			"--session-ttl", "2s"}, &stderr)
	}()
	var info api.LeaderInfo
	deadline := time.Now().Add(15 * time.Second)
	for !info.IsLeader {
		if time.Now().After(deadline) {
			t.Fatalf("master at %s never led; log:\n%s", addr, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
		resp, err := http.Get("http://" + addr + api.PathLeader)
		if err != nil {
			continue
		}
		_ = json.NewDecoder(resp.Body).Decode(&info)
		resp.Body.Close()
	}
	if info.URL != "http://"+addr || info.Leader != info.URL {
		t.Fatalf("leader info %+v", info)
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
