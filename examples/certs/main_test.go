package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gleaner/gleaner/examples/internal/auth"
	"github.com/gleaner/gleaner/internal/etcdtest"
	"github.com/gleaner/gleaner/internal/pki"
	"github.com/gleaner/gleaner/internal/pki/pkitest"
)

func certs(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	code, stdout, stderr := certs(t, args...)
	if code != 0 {
		t.Fatalf("certs %s: exit %d: %s", strings.Join(args, " "), code, stderr)
	}
	return stdout
}

func TestCertsMakesAClustersIdentities(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, "ca", "-dir", dir)
	if code, _, stderr := certs(t, "ca", "-dir", dir); code != 1 || !strings.Contains(stderr, "-force") {
		t.Fatalf("a second ca: exit %d %q, want a refusal naming -force", code, stderr)
	}
	mustRun(t, "issue", "-dir", dir, "-principal", "agent/node7", "-hosts", "10.0.0.7,node7.example", "-validity", "720h")
	mustRun(t, "issue", "-dir", dir, "-principal", "operator/alice")
	mustRun(t, "issue", "-dir", dir, "-etcd-server", "-hosts", "127.0.0.1")

	caPEM, _ := os.ReadFile(filepath.Join(dir, "ca.pem"))
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	certPEM, _ := os.ReadFile(filepath.Join(dir, "agent-node7.pem"))
	cert, err := pki.ParseCertificate(certPEM)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: "node7.example", KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("agent certificate: %v", err)
	}
	if p, err := auth.PrincipalOf(cert); err != nil || p.String() != "agent/node7" {
		t.Fatalf("agent certificate names %v, %v", p, err)
	}
	if left := time.Until(cert.NotAfter); left > 721*time.Hour || left < 719*time.Hour {
		t.Fatalf("agent certificate valid for %v more, want 720h", left)
	}
	if fi, err := os.Stat(filepath.Join(dir, "agent-node7-key.pem")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, %v; want 0600", fi.Mode(), err)
	}
	if _, err := auth.LoadTLS(pki.Files{CA: filepath.Join(dir, "ca.pem"), Cert: filepath.Join(dir, "operator-alice.pem"), Key: filepath.Join(dir, "operator-alice-key.pem")}); err != nil {
		t.Fatalf("operator identity does not load: %v", err)
	}

	out := mustRun(t, "show", filepath.Join(dir, "agent-node7.pem"), filepath.Join(dir, "etcd-server.pem"))
	if !strings.Contains(out, "agent/node7") || !strings.Contains(out, "node7.example,10.0.0.7") || !strings.Contains(out, "no principal") {
		t.Fatalf("show printed %q", out)
	}

	for _, bad := range [][]string{
		{"issue", "-dir", dir, "-principal", "boss/x"},
		{"issue", "-dir", dir},
		{"issue", "-dir", dir, "-etcd-root", "-principal", "agent/x"},
		{"issue", "-dir", t.TempDir(), "-principal", "agent/x"},
	} {
		if code, _, _ := certs(t, bad...); code == 0 {
			t.Errorf("certs %v succeeded", bad)
		}
	}
}

func TestCertsTokensAddUpInTheFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "tokens.json")
	t1 := strings.TrimSpace(mustRun(t, "token", "-principal", "framework/batch", "-tokens", file))
	t2 := strings.TrimSpace(mustRun(t, "token", "-principal", "operator/dashboard", "-tokens", file))
	tokens, err := auth.LoadTokens(file)
	if err != nil {
		t.Fatal(err)
	}
	for tok, want := range map[string]string{t1: "framework/batch", t2: "operator/dashboard"} {
		if p, ok := tokens.Lookup(tok); !ok || p.String() != want {
			t.Errorf("token of %s looks up as %v %v", want, p, ok)
		}
	}
	data, _ := os.ReadFile(file)
	if strings.Contains(string(data), t1) {
		t.Fatal("the token file holds a token in the clear")
	}
	if code, _, _ := certs(t, "token", "-principal", "agent/a1", "-tokens", file); code == 0 {
		t.Fatal("a token for an agent was made")
	}
}

func TestCertsEtcdAuthGivesPrincipalsTheirRoles(t *testing.T) {
	srv := etcdtest.Start(t)
	root := pkitest.Write(t, pkitest.Issue(t, pki.Request{CommonName: "root", Usage: pki.Client}))
	args := []string{"etcd-auth", "-endpoints", srv.Endpoint(), "-ca", root.CA, "-cert", root.Cert, "-key", root.Key,
		"-prefix", "/c", "-principals", "agent/a1,master/m1"}
	out := mustRun(t, args...)
	mustRun(t, args...) // again: nothing changes
	if !strings.Contains(out, "agent/a1\tread -\tread-write /c/agents/a1/") {
		t.Fatalf("etcd-auth printed %q", out)
	}
	ctx := context.Background()
	if _, err := srv.ClientAs(t, "agent/a1").Put(ctx, "/c/agents/a1/alive", "1"); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.ClientAs(t, "agent/a1").Put(ctx, "/c/master/election/x", "1"); err == nil {
		t.Fatal("agent/a1 wrote the election")
	}
}
