package auth_test

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gleaner/gleaner/examples/internal/auth"
	"github.com/gleaner/gleaner/examples/internal/auth/authtest"
	"github.com/gleaner/gleaner/internal/pki"
	"github.com/gleaner/gleaner/internal/pki/pkitest"
)

func TestPrincipalRoundTripsThroughItsCertificate(t *testing.T) {
	for _, s := range []string{"agent/a1", "framework/marathon", "operator/alice@example.com", "master/m-1.x_y"} {
		p := authtest.Principal(t, s)
		if p.String() != s {
			t.Fatalf("%q prints as %q", s, p)
		}
		req, err := auth.CertRequest(p, nil, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		pair := pkitest.Issue(t, req)
		got, err := auth.PrincipalOf(pair.Cert)
		if err != nil || got != p {
			t.Fatalf("%s: certificate names %v, %v", s, got, err)
		}
		if pair.Cert.Subject.CommonName != auth.EtcdUser(p) {
			t.Fatalf("%s: common name %q, want the etcd user %q", s, pair.Cert.Subject.CommonName, auth.EtcdUser(p))
		}
	}
}

func TestMalformedPrincipalsAreInvalid(t *testing.T) {
	for _, s := range []string{"", "agent", "agent/", "boss/x", "agent/a/b", "agent/a b", "framework/" + strings.Repeat("x", 129), "agent/é"} {
		if _, err := auth.ParsePrincipal(s); !errors.Is(err, auth.ErrInvalid) {
			t.Errorf("ParsePrincipal(%q): %v, want ErrInvalid", s, err)
		}
	}
	plain := pkitest.Issue(t, pki.Request{CommonName: "etcd"})
	if _, err := auth.PrincipalOf(plain.Cert); !errors.Is(err, auth.ErrNoPrincipal) {
		t.Errorf("certificate without a principal: %v", err)
	}
	a, b := authtest.Principal(t, "agent/a1"), authtest.Principal(t, "agent/a2")
	two := pkitest.Issue(t, pki.Request{CommonName: "x", URIs: []*url.URL{a.URI(), b.URI()}})
	if _, err := auth.PrincipalOf(two.Cert); !errors.Is(err, auth.ErrInvalid) {
		t.Errorf("certificate naming two principals: %v", err)
	}
}

// echoServer serves, over TLS with srvTLS, the principal and certificate
// serial the client presented.
func echoServer(t *testing.T, srvTLS *auth.TLS, clientAuth tls.ClientAuthType) string {
	t.Helper()
	g := &auth.Guard{TLS: srvTLS, Public: []string{"/public"}}
	srv := httptest.NewUnstartedServer(g.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		serial := "none"
		if len(r.TLS.PeerCertificates) > 0 {
			serial = r.TLS.PeerCertificates[0].SerialNumber.String()
		}
		fmt.Fprintf(w, "%s %s", auth.PrincipalFrom(r.Context()), serial)
	})))
	srv.TLS = srvTLS.ServerConfig(clientAuth)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.URL
}

func get(c *http.Client, url string) (int, string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

func TestMutualTLSNamesTheClientPrincipal(t *testing.T) {
	url := echoServer(t, authtest.Master(t, "m1"), tls.RequireAndVerifyClientCert)
	c := authtest.Client(t, authtest.Principal(t, "agent/a1"), auth.KindMaster)
	code, body, err := get(c, url)
	if err != nil || code != http.StatusOK || !strings.HasPrefix(body, "agent/a1 ") {
		t.Fatalf("got %d %q %v, want 200 from agent/a1", code, body, err)
	}
}

func TestClientRefusesAServerOfTheWrongKind(t *testing.T) {
	// An agent's certificate is of the same CA and names 127.0.0.1, but an
	// agent is not a master.
	url := echoServer(t, authtest.Agent(t, "rogue"), tls.RequireAndVerifyClientCert)
	c := authtest.Client(t, authtest.Principal(t, "agent/a1"), auth.KindMaster)
	if _, _, err := get(c, url); err == nil || !strings.Contains(err.Error(), "not a master") {
		t.Fatalf("error %v, want the server refused as not a master", err)
	}
}

func TestExpiredAndForeignCertificatesAreRefused(t *testing.T) {
	url := echoServer(t, authtest.Master(t, "m1"), tls.RequireAndVerifyClientCert)
	p := authtest.Principal(t, "framework/old")
	req, _ := auth.CertRequest(p, nil, time.Hour)
	req.NotBefore = time.Now().Add(-2 * time.Hour)
	expired := pkitest.Write(t, pkitest.Issue(t, req))

	other, err := pki.NewCA("another CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	req, _ = auth.CertRequest(authtest.Principal(t, "framework/stranger"), nil, time.Hour)
	pair, err := other.Issue(req)
	if err != nil {
		t.Fatal(err)
	}
	foreign := pkitest.WriteWith(t, other, pair)
	foreign.CA = expired.CA // it trusts our CA, but its certificate is of another

	for name, files := range map[string]pki.Files{"expired": expired, "foreign CA": foreign} {
		tl, err := auth.LoadTLS(files)
		if err != nil {
			t.Fatal(err)
		}
		if code, body, err := get(tl.HTTPClient(), url); err == nil {
			t.Errorf("%s certificate: answered %d %q, want the handshake refused", name, code, body)
		}
	}
}

func TestCertificatesRotateWithoutRestart(t *testing.T) {
	srvFiles := authtest.Files(t, authtest.Principal(t, "master/m1"))
	srvTLS, err := auth.LoadTLS(srvFiles)
	if err != nil {
		t.Fatal(err)
	}
	url := echoServer(t, srvTLS, tls.RequireAndVerifyClientCert)
	p := authtest.Principal(t, "framework/f")
	files := authtest.Files(t, p)
	cliTLS, err := auth.LoadTLS(files)
	if err != nil {
		t.Fatal(err)
	}
	c := cliTLS.HTTPClient(auth.KindMaster)
	defer c.CloseIdleConnections()
	_, first, err := get(c, url)
	if err != nil {
		t.Fatal(err)
	}
	serverSerial := func() string {
		conn, err := tls.Dial("tcp", strings.TrimPrefix(url, "https://"), cliTLS.ClientConfig())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].SerialNumber.String()
	}
	oldServer := serverSerial()

	// Rotate both parties' certificates on disk, as an operator's renewal
	// job would: key first, then certificate, each by rename.
	rotate := func(f pki.Files, p auth.Principal) string {
		req, _ := auth.CertRequest(p, []string{"127.0.0.1", "::1", "localhost"}, time.Hour)
		pair := pkitest.Issue(t, req)
		for _, w := range []struct {
			path string
			data []byte
		}{{f.Key, pair.KeyPEM}, {f.Cert, pair.CertPEM}} {
			tmp := w.path + ".new"
			if err := os.WriteFile(tmp, w.data, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(tmp, w.path); err != nil {
				t.Fatal(err)
			}
		}
		return pair.Cert.SerialNumber.String()
	}
	newClient := rotate(files, p)
	newServer := rotate(srvFiles, authtest.Principal(t, "master/m1"))

	c.CloseIdleConnections() // the next request makes a new connection
	_, second, err := get(c, url)
	if err != nil {
		t.Fatal(err)
	}
	if second == first || second != "framework/f "+newClient {
		t.Fatalf("after rotation the server saw %q (before %q), want the new serial %s", second, first, newClient)
	}
	if got := serverSerial(); got == oldServer || got != newServer {
		t.Fatalf("server presents %s after rotation (before %s), want %s", got, oldServer, newServer)
	}
}

func TestHalfWrittenRotationKeepsThePreviousIdentity(t *testing.T) {
	p := authtest.Principal(t, "agent/a1")
	files := authtest.Files(t, p)
	tl, err := auth.LoadTLS(files)
	if err != nil {
		t.Fatal(err)
	}
	before := tl.Certificate().SerialNumber
	// A new certificate whose key is not written yet.
	req, _ := auth.CertRequest(p, nil, time.Hour)
	if err := os.WriteFile(files.Cert, pkitest.Issue(t, req).CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if got := tl.Certificate().SerialNumber; got.Cmp(before) != 0 {
		t.Fatalf("serial %v after a half-written rotation, want the previous %v", got, before)
	}
	if err := tl.ReloadError(); !errors.Is(err, auth.ErrInvalid) {
		t.Fatalf("ReloadError %v, want the mismatch", err)
	}
}

func TestGuard(t *testing.T) {
	tokens, accepted := authtest.Tokens(t, authtest.Principal(t, "operator/ops"))
	srvTLS := authtest.Master(t, "m1", "master.example")
	g := &auth.Guard{TLS: srvTLS, Tokens: accepted, Public: []string{"/healthz"}, Hosts: []string{"dashboard.example"}}
	srv := httptest.NewUnstartedServer(g.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, auth.PrincipalFrom(r.Context()).String())
	})))
	srv.TLS = srvTLS.ServerConfig(tls.VerifyClientCertIfGiven)
	srv.StartTLS()
	defer srv.Close()
	stranger := authtest.Anonymous(t)
	agent := authtest.Client(t, authtest.Principal(t, "agent/a1"))

	tests := []struct {
		name   string
		client *http.Client
		path   string
		host   string
		token  string
		code   int
		body   string
	}{
		{"certificate names the principal", agent, "/x", "", "", 200, "agent/a1"},
		{"bearer token names the principal", stranger, "/x", "", tokens[authtest.Principal(t, "operator/ops")], 200, "operator/ops"},
		{"no credential is 401", stranger, "/x", "", "", 401, "no valid credential"},
		{"unknown token is 401", stranger, "/x", "", auth.TokenPrefix + "00", 401, "unknown bearer token"},
		{"public path needs no credential", stranger, "/healthz", "", "", 200, "anonymous"},
		{"a rebound DNS name is 421", agent, "/x", "evil.example", "", 421, "not a name of this server"},
		{"the certificate's DNS name is accepted", agent, "/x", "master.example:443", "", 200, "agent/a1"},
		{"a configured name is accepted", agent, "/x", "dashboard.example", "", 200, "agent/a1"},
		{"localhost is accepted", agent, "/x", "localhost:1", "", 200, "agent/a1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, srv.URL+tt.path, nil)
			if tt.host != "" {
				req.Host = tt.host
			}
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			resp, err := tt.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.code || !strings.Contains(string(b), tt.body) {
				t.Fatalf("got %d %q, want %d with %q", resp.StatusCode, b, tt.code, tt.body)
			}
		})
	}
}

func TestInsecureGuardIsAnonymousButChecksHost(t *testing.T) {
	g := &auth.Guard{Insecure: true}
	h := g.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, auth.PrincipalFrom(r.Context()).String())
	}))
	for host, want := range map[string]int{"127.0.0.1:5050": 200, "evil.example:5050": 421} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Host = host
		h.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("Host %s: %d %q, want %d", host, rec.Code, rec.Body, want)
		}
	}
}

func TestTokensHoldOnlyFrameworksAndOperators(t *testing.T) {
	if _, _, err := auth.NewToken(authtest.Principal(t, "agent/a1")); !errors.Is(err, auth.ErrInvalid) {
		t.Fatalf("token for an agent: %v", err)
	}
	bad := []auth.TokenFile{
		{Tokens: []auth.TokenEntry{{Principal: "master/m1", SHA256: strings.Repeat("0", 64)}}},
		{Tokens: []auth.TokenEntry{{Principal: "operator/x", SHA256: "abc"}}},
		{Tokens: []auth.TokenEntry{{Principal: "operator/x", SHA256: strings.Repeat("0", 64)}, {Principal: "operator/y", SHA256: strings.Repeat("0", 64)}}},
	}
	for i, f := range bad {
		if _, err := auth.ParseTokens(f); !errors.Is(err, auth.ErrInvalid) {
			t.Errorf("bad token file %d: %v", i, err)
		}
	}
}

func TestLoadTLSRefusesMismatchedFiles(t *testing.T) {
	a := authtest.Files(t, authtest.Principal(t, "agent/a1"))
	b := authtest.Files(t, authtest.Principal(t, "agent/a2"))
	for name, f := range map[string]pki.Files{
		"no CA":              {Cert: a.Cert, Key: a.Key},
		"certificate no key": {CA: a.CA, Cert: a.Cert},
		"key of another":     {CA: a.CA, Cert: a.Cert, Key: b.Key},
		"CA not PEM":         {CA: a.Key + ".missing"},
	} {
		if _, err := auth.LoadTLS(f); err == nil {
			t.Errorf("%s: loaded", name)
		}
	}
	// A listener with a certificate-less identity cannot serve.
	tl, err := auth.LoadTLS(pki.Files{CA: a.CA})
	if err != nil {
		t.Fatal(err)
	}
	ln := tls.NewListener(mustListen(t), tl.ServerConfig(tls.RequireAndVerifyClientCert))
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			_ = c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	if _, err := tls.Dial("tcp", ln.Addr().String(), authtest.Agent(t, "a1").ClientConfig()); err == nil {
		t.Fatal("a server without a certificate completed a handshake")
	}
}

func mustListen(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}
