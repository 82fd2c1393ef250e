package main

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gleaner/gleaner/examples/internal/auth/authtest"
	"github.com/gleaner/gleaner/internal/etcdtest"
	"github.com/gleaner/gleaner/internal/testenv"
)

// attrctl runs the command against endpoint as an operator and returns its
// exit status and output.
func attrctl(t *testing.T, endpoint string, args ...string) (int, string, string) {
	t.Helper()
	return attrctlAs(t, "operator/ops", endpoint, args...)
}

// attrctlAs is attrctl with the certificate of principal.
func attrctlAs(t *testing.T, principal, endpoint string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), append(flags(t, principal, endpoint), args...), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// flags are the endpoint and TLS flags of principal.
func flags(t *testing.T, principal, endpoint string) []string {
	f := authtest.Files(t, authtest.Principal(t, principal))
	return []string{"--endpoints", endpoint, "--ca", f.CA, "--cert", f.Cert, "--key", f.Key}
}

// startEtcd starts etcd with the operator's user and role.
func startEtcd(t *testing.T) *etcdtest.Server {
	t.Helper()
	srv := etcdtest.Start(t)
	authtest.Etcd(t, srv, "/gleaner", authtest.Principal(t, "operator/ops"))
	return srv
}

func TestAttrctl(t *testing.T) {
	srv := startEtcd(t)
	ep := srv.Endpoint()
	cli := srv.Client(t)

	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string // regexp
		stderr string // regexp
	}{
		{"set writes attributes in Mesos syntax", []string{"set", "agent-1", "rack:r1;zone:east;cores:16;ports:[31000-32000]"}, 0, `^revision \d+\n$`, `^$`},
		{"get prints name, value and revision sorted", []string{"get", "agent-1"}, 0,
			`^cores\t16\t\d+\nports\t\[31000-32000\]\t\d+\nrack\tr1\t\d+\nzone\teast\t\d+\n$`, `^$`},
		{"get of one attribute", []string{"get", "agent-1", "rack"}, 0, `^rack\tr1\t\d+\n$`, `^$`},
		{"get of a missing attribute fails naming it", []string{"get", "agent-1", "gpu"}, 1, `^$`, `attribute "gpu": not found`},
		{"compare-and-set at a wrong revision conflicts", []string{"set", "--if-revision", "1", "agent-1", "rack:r2"}, 1, `^$`, `revision conflict`},
		{"compare-and-set at zero creates", []string{"set", "--if-revision", "0", "agent-2", "rack:r2"}, 0, `^revision \d+\n$`, `^$`},
		{"list prints one agent a line", []string{"list"}, 0, "^agent-1\tcores:16;ports:\\[31000-32000\\];rack:r1;zone:east\nagent-2\track:r2\n$", `^$`},
		{"delete one attribute", []string{"delete", "agent-1", "zone"}, 0, `^revision \d+\n$`, `^$`},
		{"delete a whole agent", []string{"delete", "agent-2"}, 0, `^revision \d+\n$`, `^$`},
		{"list after deletes", []string{"list"}, 0, "^agent-1\tcores:16;ports:\\[31000-32000\\];rack:r1\n$", `^$`},
		{"name with a slash is refused naming it", []string{"set", "agent-1", "a/b:1"}, 1, `^$`, `attribute "a/b".*'/'`},
		{"get of a name with a slash is refused naming it", []string{"get", "agent-1", "a/b"}, 1, `^$`, `attribute "a/b".*'/'`},
		{"malformed range is refused naming it", []string{"set", "agent-1", "ports:[9-1]"}, 1, `^$`, `attribute "ports".*begin is after end`},
		{"unknown command", []string{"frob"}, 2, `^$`, `unknown command "frob"`},
		{"missing arguments", []string{"get"}, 2, `^$`, `want AGENT`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := attrctl(t, ep, tt.args...)
			if code != tt.code {
				t.Errorf("exit status %d, want %d (stderr %q)", code, tt.code, stderr)
			}
			if !regexp.MustCompile(tt.stdout).MatchString(stdout) {
				t.Errorf("stdout %q does not match %q", stdout, tt.stdout)
			}
			if !regexp.MustCompile(tt.stderr).MatchString(stderr) {
				t.Errorf("stderr %q does not match %q", stderr, tt.stderr)
			}
		})
	}

	// The keys are the documented layout, so etcdctl users see the same.
	resp, err := cli.Get(context.Background(), "/gleaner/agents/agent-1/attributes/rack")
	if err != nil || len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "r1" {
		t.Fatalf("raw key: %v %v", resp, err)
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestAttrctlWatchPrintsChanges(t *testing.T) {
	srv := startEtcd(t)
	ep := srv.Endpoint()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, append(flags(t, "operator/ops", ep), "watch", "agent-1"), &out, &errOut) }()
	waitForOutput(t, &out, "watching\n")

	attrctl(t, ep, "set", "agent-2", "rack:r9") // filtered out
	attrctl(t, ep, "set", "agent-1", "rack:r1")
	attrctl(t, ep, "set", "agent-1", "rack:r2")
	attrctl(t, ep, "delete", "agent-1", "rack")
	want := "\tagent-1\tadded\track\t-\tr1\n" + "\tagent-1\tupdated\track\tr1\tr2\n" + "\tagent-1\tremoved\track\tr2\t-\n"
	waitForOutput(t, &out, "removed")
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("watch exited %d: %s", code, errOut.String())
	}
	got := regexp.MustCompile(`(?m)^\d+`).ReplaceAllString(strings.TrimPrefix(out.String(), "watching\n"), "")
	if got != want {
		t.Fatalf("watch printed\n%s\nwant\n%s", got, want)
	}
}

// waitForOutput waits until out has printed s.
func waitForOutput(t *testing.T, out fmt.Stringer, s string) {
	t.Helper()
	testenv.Eventually(t, 30*time.Second, func() bool { return strings.Contains(out.String(), s) }, "output to contain %q", s)
}

func TestAttrctlNeedsCredentialsAndKeepsToTheUsersRole(t *testing.T) {
	srv := startEtcd(t)
	authtest.Etcd(t, srv, "/gleaner", authtest.Principal(t, "agent/agent-1"))
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"--endpoints", srv.Endpoint(), "list"}, &stdout, &stderr); code != 2 ||
		!strings.Contains(stderr.String(), "-insecure") {
		t.Fatalf("without TLS flags: exit %d, stderr %q; want 2 naming -insecure", code, stderr.String())
	}
	if code, _, stderr := attrctlAs(t, "agent/agent-1", srv.Endpoint(), "set", "agent-1", "rack:r1"); code != 0 {
		t.Fatalf("an agent setting its own attribute: exit %d: %s", code, stderr)
	}
	if code, _, stderr := attrctlAs(t, "agent/agent-1", srv.Endpoint(), "set", "agent-2", "rack:r1"); code != 1 ||
		!strings.Contains(stderr, "permission denied") {
		t.Fatalf("an agent setting another's attribute: exit %d, stderr %q; want permission denied", code, stderr)
	}
}
