//go:build linux

package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/gleaner/gleaner/examples/internal/api"
	"github.com/gleaner/gleaner/examples/internal/auth"
	"github.com/gleaner/gleaner/internal/atomicfile"
	"github.com/gleaner/gleaner/internal/etcdauth"
	"github.com/gleaner/gleaner/internal/pki"
)

// The cluster's principals.
var (
	// Master is the master the cluster runs.
	Master             = auth.Principal{Kind: auth.KindMaster, Name: "master-1"}
	masterPrincipal    = Master
	frameworkPrincipal = auth.Principal{Kind: auth.KindFramework, Name: "marathon"}
	// Admin may do everything the ACL names: the demo prints its curl
	// commands, and tests act as it.
	Admin = auth.Principal{Kind: auth.KindOperator, Name: "admin"}
	// Dashboard may only read the state; its bearer token is in the
	// dashboard's URL.
	Dashboard = auth.Principal{Kind: auth.KindOperator, Name: "dashboard"}
)

// AgentPrincipal is the principal of agent id.
func AgentPrincipal(id string) auth.Principal { return auth.Principal{Kind: auth.KindAgent, Name: id} }

// Policy is the cluster's ACL: the framework may register under any role
// at weights up to 10, run tasks as nobody and read the state (it learns
// the agents from it); the admin may kill and tear down anything, read the
// state and drain agents; the dashboard may read the state. Nothing else
// is granted.
func Policy() *auth.Policy {
	return &auth.Policy{
		RegisterFrameworks: []auth.RegisterGrant{{Principals: auth.Names(frameworkPrincipal.String()), Roles: auth.Any, MaxWeight: 10}},
		RunTasks:           []auth.RunGrant{{Principals: auth.Names(frameworkPrincipal.String()), Users: auth.Names("nobody")}},
		KillTasks:          []auth.FrameworkGrant{{Principals: auth.Names(Admin.String()), FrameworkPrincipals: auth.Any}},
		TeardownFrameworks: []auth.FrameworkGrant{{Principals: auth.Names(Admin.String()), FrameworkPrincipals: auth.Any}},
		GetState:           []auth.Grant{{Principals: auth.Names(Admin.String(), Dashboard.String(), frameworkPrincipal.String())}},
		UpdateMaintenance:  []auth.Grant{{Principals: auth.Names(Admin.String())}},
	}
}

// security is what a secure cluster keeps of its credentials: the CA, and
// every identity it issued, in <dir>/pki.
type security struct {
	ca        *pki.CA
	dir       string
	files     map[auth.Principal]pki.Files
	ids       map[auth.Principal]*auth.TLS
	tokens    *auth.Tokens
	dashToken string
	admin     *http.Client
}

// newSecurity writes the CA (ca, or a new throwaway one), the ACL and the
// dashboard's token into dir.
func newSecurity(ca *pki.CA, dir string) (*security, error) {
	if ca == nil {
		var err error
		if ca, err = pki.NewCA("gleaner demo CA (throwaway)", 7*24*time.Hour); err != nil {
			return nil, fmt.Errorf("cluster: %w", err)
		}
	}
	s := &security{ca: ca, dir: dir, files: map[auth.Principal]pki.Files{}, ids: map[auth.Principal]*auth.TLS{}}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	token, entry, err := auth.NewToken(Dashboard)
	if err != nil {
		return nil, err
	}
	s.dashToken = token
	if s.tokens, err = auth.ParseTokens(auth.TokenFile{Tokens: []auth.TokenEntry{entry}}); err != nil {
		return nil, err
	}
	for name, v := range map[string]any{"acls.json": Policy(), "tokens.json": auth.TokenFile{Tokens: []auth.TokenEntry{entry}}} {
		data, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return nil, err
		}
		if err := atomicfile.WriteFile(filepath.Join(dir, name), append(data, '\n'), 0o600); err != nil {
			return nil, fmt.Errorf("cluster: %w", err)
		}
	}
	admin, err := s.identity(Admin)
	if err != nil {
		return nil, err
	}
	s.admin = admin.HTTPClient(auth.KindMaster, auth.KindFramework)
	return s, nil
}

// identity issues p's certificate, valid for loopback and hosts, once,
// and returns it loaded.
func (s *security) identity(p auth.Principal, hosts ...string) (*auth.TLS, error) {
	if id, ok := s.ids[p]; ok {
		return id, nil
	}
	pair, err := auth.Issue(s.ca, p, append([]string{"127.0.0.1", "::1", "localhost"}, hosts...), 0)
	if err != nil {
		return nil, fmt.Errorf("cluster: certificate of %s: %w", p, err)
	}
	files, err := auth.WriteIdentity(s.dir, string(p.Kind)+"-"+p.Name, s.ca, pair)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	id, err := auth.LoadTLS(files)
	if err != nil {
		return nil, err
	}
	s.files[p], s.ids[p] = files, id
	return id, nil
}

// etcdServer writes the embedded etcd's certificate and the root user's.
func (s *security) etcdServer(hosts []string) (server, root pki.Files, err error) {
	for _, f := range []struct {
		name string
		req  pki.Request
		out  *pki.Files
	}{
		{"etcd-server", pki.Request{CommonName: "etcd", Hosts: hosts}, &server},
		{"etcd-root", pki.Request{CommonName: etcdauth.RootUser, Usage: pki.Client}, &root},
	} {
		pair, err := s.ca.Issue(f.req)
		if err != nil {
			return pki.Files{}, pki.Files{}, fmt.Errorf("cluster: %w", err)
		}
		if *f.out, err = auth.WriteIdentity(s.dir, f.name, s.ca, pair); err != nil {
			return pki.Files{}, pki.Files{}, fmt.Errorf("cluster: %w", err)
		}
	}
	return server, root, nil
}

// provision turns on etcd's authentication with the root user's client and
// gives the principals their etcd users and roles.
func provision(ctx context.Context, root *clientv3.Client, prefix string, principals ...auth.Principal) error {
	ctx, cancel := context.WithTimeout(ctx, etcdStartTimeout)
	defer cancel()
	if err := etcdauth.EnableAuth(ctx, root); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	if err := auth.ProvisionEtcd(ctx, root, prefix, principals...); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	return nil
}

// apiClient returns a client of the masters as the admin, or plaintext.
func (c *Cluster) apiClient() *api.Client {
	if c.sec == nil {
		return api.NewClient(c.urls)
	}
	return api.NewClient(c.urls, api.WithHTTPClient(c.sec.admin))
}
