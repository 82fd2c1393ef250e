// Package authtest gives tests of the examples secured parties in one line:
// TLS identities of the process's test CA (internal/pki/pkitest, which
// internal/etcdtest trusts too), HTTP clients holding them, bearer tokens,
// and etcd users with their roles.
//
//	m := authtest.Master(t, "m1")               // master.Config.TLS
//	c := authtest.Client(t, authtest.Principal("operator/ops"))
//	resp, err := c.Get(masterURL + api.PathState)
package authtest

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/gleaner/gleaner/examples/internal/auth"
	"github.com/gleaner/gleaner/internal/etcdtest"
	"github.com/gleaner/gleaner/internal/pki"
	"github.com/gleaner/gleaner/internal/pki/pkitest"
)

// loopback are the names every test certificate holds, so that a server
// on loopback verifies however a test addresses it.
var loopback = []string{"127.0.0.1", "::1", "localhost"}

// Principal parses "kind/name", failing the test on a typo.
func Principal(t testing.TB, s string) auth.Principal {
	t.Helper()
	p, err := auth.ParsePrincipal(s)
	if err != nil {
		t.Fatalf("authtest: %v", err)
	}
	return p
}

// Files issues p's certificate from the test CA, valid for loopback and
// hosts, writes it into the test's temporary directory and returns the
// files.
func Files(t testing.TB, p auth.Principal, hosts ...string) pki.Files {
	t.Helper()
	req, err := auth.CertRequest(p, append(append([]string{}, loopback...), hosts...), 0)
	if err != nil {
		t.Fatalf("authtest: %v", err)
	}
	return pkitest.Write(t, pkitest.Issue(t, req))
}

// Identity is Files loaded as a TLS identity.
func Identity(t testing.TB, p auth.Principal, hosts ...string) *auth.TLS {
	t.Helper()
	tl, err := auth.LoadTLS(Files(t, p, hosts...))
	if err != nil {
		t.Fatalf("authtest: %v", err)
	}
	return tl
}

// Master returns the identity of master id.
func Master(t testing.TB, id string, hosts ...string) *auth.TLS {
	t.Helper()
	return Identity(t, auth.Principal{Kind: auth.KindMaster, Name: id}, hosts...)
}

// Agent returns the identity of agent id.
func Agent(t testing.TB, id string, hosts ...string) *auth.TLS {
	t.Helper()
	return Identity(t, auth.Principal{Kind: auth.KindAgent, Name: id}, hosts...)
}

// Framework returns the identity of framework principal name.
func Framework(t testing.TB, name string, hosts ...string) *auth.TLS {
	t.Helper()
	return Identity(t, auth.Principal{Kind: auth.KindFramework, Name: name}, hosts...)
}

// Operator returns the identity of operator name.
func Operator(t testing.TB, name string) *auth.TLS {
	t.Helper()
	return Identity(t, auth.Principal{Kind: auth.KindOperator, Name: name})
}

// identities are client identities held in memory, one per principal for
// the whole process: a test makes many clients, and minting a key and
// writing files for each would slow it for nothing.
var (
	identitiesMu sync.Mutex
	identities   = map[auth.Principal]*auth.TLS{}
)

// Client returns an HTTP client holding p's identity, checking that
// servers name a principal of one of the kinds expect (none: any). Its
// idle connections are closed when the test ends.
func Client(t testing.TB, p auth.Principal, expect ...auth.Kind) *http.Client {
	t.Helper()
	identitiesMu.Lock()
	id, ok := identities[p]
	if !ok {
		req, err := auth.CertRequest(p, loopback, 0)
		if err != nil {
			identitiesMu.Unlock()
			t.Fatalf("authtest: %v", err)
		}
		pair := pkitest.Issue(t, req)
		if id, err = auth.TLSFromPEM(pkitest.CA(t).CertPEM(), pair.CertPEM, pair.KeyPEM); err != nil {
			identitiesMu.Unlock()
			t.Fatalf("authtest: %v", err)
		}
		identities[p] = id
	}
	identitiesMu.Unlock()
	c := id.HTTPClient(expect...)
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// Anonymous returns an HTTP client that trusts the test CA and presents
// no certificate (a stranger, or a caller with a bearer token).
func Anonymous(t testing.TB) *http.Client {
	t.Helper()
	tl, err := auth.TLSFromPEM(pkitest.CA(t).CertPEM(), nil, nil)
	if err != nil {
		t.Fatalf("authtest: %v", err)
	}
	c := tl.HTTPClient()
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// Tokens returns a bearer token for each principal and the Tokens a server
// accepts them with.
func Tokens(t testing.TB, principals ...auth.Principal) (map[auth.Principal]string, *auth.Tokens) {
	t.Helper()
	tokens := map[auth.Principal]string{}
	var file auth.TokenFile
	for _, p := range principals {
		tok, entry, err := auth.NewToken(p)
		if err != nil {
			t.Fatalf("authtest: %v", err)
		}
		tokens[p] = tok
		file.Tokens = append(file.Tokens, entry)
	}
	parsed, err := auth.ParseTokens(file)
	if err != nil {
		t.Fatalf("authtest: %v", err)
	}
	return tokens, parsed
}

// Etcd gives each principal its etcd user and role on srv under prefix
// (auth.ProvisionEtcd) and returns a client of the first one's.
func Etcd(t testing.TB, srv *etcdtest.Server, prefix string, principals ...auth.Principal) *clientv3.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := auth.ProvisionEtcd(ctx, srv.Client(t), prefix, principals...); err != nil {
		t.Fatalf("authtest: %v", err)
	}
	if len(principals) == 0 {
		return nil
	}
	return srv.ClientAs(t, auth.EtcdUser(principals[0]))
}
