// Package etcdtest runs a real etcd server inside the test process, for the
// tests of packages (and examples) that talk to etcd. Each Server has its
// own temporary data directory and loopback ports, logs only errors, and is
// closed when the test ends.
//
//	srv := etcdtest.Start(t)
//	cli := srv.Client(t)
//
// Clients reach the server through a Proxy in front of it, so that Stop can
// cut their connections at once (etcd's own Close waits up to its request
// timeout, seven seconds, for open watch streams) and Restart brings the
// server back on the same data directory behind the same endpoint. A
// separate NewProxy cuts one client off while the server keeps running.
//
// Like every etcd of a Gleaner cluster, the server is secure by default: it
// serves TLS 1.3, accepts only clients holding a certificate of the test
// CA (pkitest), and has etcd's authentication on, with the user of a client
// being its certificate's common name. Client returns a client of the root
// user; ClientAs one of any other user, whose rights the test grants
// (etcdauth.Grant, or the examples' auth.ProvisionEtcd). StartInsecure runs
// plaintext with no authentication, for baselines.
//
// etcd logs at error level into a file that is printed only when the test
// fails: a normal shutdown logs errors too ("server closed").
package etcdtest

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"

	"github.com/gleaner/gleaner/internal/etcdauth"
	"github.com/gleaner/gleaner/internal/pki"
	"github.com/gleaner/gleaner/internal/pki/pkitest"
	"github.com/gleaner/gleaner/internal/testenv"
)

// startTimeout bounds how long a server may take to become ready.
const startTimeout = 30 * time.Second

// Server is one embedded etcd member.
type Server struct {
	dir       string
	logFile   string
	clientURL url.URL
	peerURL   url.URL
	configure []func(*embed.Config)
	secure    bool
	tlsFiles  pki.Files // the server's certificate, issued at the first start
	front     *Proxy
	mu        sync.Mutex
	etcd      *embed.Etcd
}

// Start starts a single-member etcd on free loopback ports with a fresh
// data directory, serving TLS with authentication on. configure, if given,
// adjusts the configuration (for example MaxRequestBytes, or more client
// URLs, which get the server certificate's names too) before the server
// starts. The server is closed in t's cleanup.
func Start(t testing.TB, configure ...func(*embed.Config)) *Server {
	t.Helper()
	return start(t, true, configure)
}

// StartInsecure is Start serving plaintext with no authentication, for
// benchmarks that measure what security costs.
func StartInsecure(t testing.TB, configure ...func(*embed.Config)) *Server {
	t.Helper()
	return start(t, false, configure)
}

func start(t testing.TB, secure bool, configure []func(*embed.Config)) *Server {
	t.Helper()
	tmp := t.TempDir()
	s := &Server{dir: filepath.Join(tmp, "data"), logFile: filepath.Join(tmp, "etcd.log"), configure: configure, secure: secure}
	if secure {
		// Any certificate of the test CA is accepted; etcd's
		// authentication then decides what its user may do.
		s.tlsFiles = pki.Files{CA: filepath.Join(tmp, "ca.pem"), Cert: filepath.Join(tmp, "server.pem"), Key: filepath.Join(tmp, "server-key.pem")}
	}
	var err error
	// A port picked free may be taken before etcd binds it (other tests run
	// alongside); pick again a few times.
	for range 5 {
		s.clientURL = loopbackURL(testenv.FreePort(t))
		s.peerURL = loopbackURL(testenv.FreePort(t))
		if err = s.start(); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("etcdtest: %v", err)
	}
	if secure {
		s.clientURL.Scheme = "https"
		if err := s.enableAuth(t); err != nil {
			s.close()
			t.Fatalf("etcdtest: %v", err)
		}
	}
	s.front = NewProxy(t, s.clientURL.String())
	t.Cleanup(func() {
		s.close()
		if t.Failed() {
			if log, err := os.ReadFile(s.logFile); err == nil && len(log) > 0 {
				t.Logf("etcd log (%s):\n%s", s.logFile, log)
			}
		}
	})
	return s
}

func loopbackURL(port int) url.URL {
	return url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", port)}
}

func (s *Server) start() error {
	cfg := embed.NewConfig()
	cfg.Name = "etcdtest"
	cfg.Dir = s.dir
	cfg.ListenClientUrls = []url.URL{s.clientURL}
	cfg.AdvertiseClientUrls = []url.URL{s.clientURL}
	cfg.ListenPeerUrls = []url.URL{s.peerURL}
	cfg.AdvertisePeerUrls = []url.URL{s.peerURL}
	cfg.InitialCluster = cfg.Name + "=" + s.peerURL.String()
	cfg.LogLevel = "error"
	cfg.LogOutputs = []string{s.logFile}
	for _, f := range s.configure {
		f(cfg)
	}
	if s.secure {
		if err := s.writeServerCert(cfg); err != nil {
			return err
		}
		etcdauth.ServeTLS(cfg, s.tlsFiles)
	}
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return fmt.Errorf("starting embedded etcd in %s: %w", s.dir, err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return fmt.Errorf("embedded etcd failed: %w", err)
	case <-time.After(startTimeout):
		e.Close()
		return fmt.Errorf("embedded etcd not ready after %v", startTimeout)
	}
	s.mu.Lock()
	s.etcd = e
	s.mu.Unlock()
	return nil
}

// writeServerCert issues the server's certificate for the hosts of cfg's
// URLs, once: a restart keeps it.
func (s *Server) writeServerCert(cfg *embed.Config) error {
	if _, err := os.Stat(s.tlsFiles.Cert); err == nil {
		return nil
	}
	ca, err := pkitest.Shared()
	if err != nil {
		return err
	}
	pair, err := ca.Issue(pki.Request{CommonName: "etcd", Hosts: etcdauth.Hosts(cfg)})
	if err != nil {
		return err
	}
	for name, data := range map[string][]byte{s.tlsFiles.CA: ca.CertPEM(), s.tlsFiles.Cert: pair.CertPEM, s.tlsFiles.Key: pair.KeyPEM} {
		if err := os.WriteFile(name, data, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// enableAuth turns etcd's authentication on, once.
func (s *Server) enableAuth(t testing.TB) error {
	cli := newClient(t, s.clientURL.String(), etcdauth.RootUser)
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	return etcdauth.EnableAuth(ctx, cli)
}

// Secure reports whether the server serves TLS with authentication.
func (s *Server) Secure() bool { return s.secure }

// Endpoint is the URL clients should use: the front proxy's, which stays
// the same across Stop and Restart.
func (s *Server) Endpoint() string { return s.front.Endpoint() }

// ServerEndpoint is etcd's own client URL, without the front proxy, for
// measurements that must not include the extra hop.
func (s *Server) ServerEndpoint() string { return s.clientURL.String() }

// Client returns a client of the server, as the root user when it is
// secure, that logs nothing and reconnects within half a second of the
// server coming back. It is closed in t's cleanup.
func (s *Server) Client(t testing.TB) *clientv3.Client {
	t.Helper()
	return NewClient(t, s.Endpoint())
}

// ClientAs is Client authenticating as user, with a certificate of the
// test CA whose common name is user.
func (s *Server) ClientAs(t testing.TB, user string) *clientv3.Client {
	t.Helper()
	cli := newClient(t, s.Endpoint(), user)
	t.Cleanup(func() { cli.Close() })
	return cli
}

// NewClient returns a client of endpoint like Server.Client does, for
// clients that go through a Proxy. An https endpoint is reached as the root
// user.
func NewClient(t testing.TB, endpoint string) *clientv3.Client {
	t.Helper()
	cli := newClient(t, endpoint, etcdauth.RootUser)
	t.Cleanup(func() { cli.Close() })
	return cli
}

// ClientTLS returns a client TLS configuration of the test CA whose
// certificate's common name is user.
func ClientTLS(t testing.TB, user string) *tls.Config {
	t.Helper()
	pair := pkitest.Issue(t, pki.Request{CommonName: user, Usage: pki.Client})
	cert, err := tls.X509KeyPair(pair.CertPEM, pair.KeyPEM)
	if err != nil {
		t.Fatalf("etcdtest: %v", err)
	}
	return &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: pkitest.CA(t).Pool(), Certificates: []tls.Certificate{cert}}
}

func newClient(t testing.TB, endpoint, user string) *clientv3.Client {
	t.Helper()
	var tlsCfg *tls.Config
	if strings.HasPrefix(endpoint, "https://") {
		tlsCfg = ClientTLS(t, user)
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   []string{endpoint},
		TLS:         tlsCfg,
		DialTimeout: 5 * time.Second,
		Logger:      zap.NewNop(),
		DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 50 * time.Millisecond, Multiplier: 1.6, MaxDelay: 500 * time.Millisecond},
			MinConnectTimeout: time.Second,
		})},
	})
	if err != nil {
		t.Fatalf("etcdtest: client of %s: %v", endpoint, err)
	}
	return cli
}

// Stop cuts every client connection and closes the server, keeping its
// data directory and ports for Restart.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	if !s.close() {
		t.Fatalf("etcdtest: Stop of a stopped server")
	}
}

// Restart starts a stopped server again on the same data directory and
// ports.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	var err error
	for range 20 { // the old listeners may take a moment to release the ports
		if err = s.start(); err == nil || !strings.Contains(err.Error(), "address already in use") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("etcdtest: restart: %v", err)
	}
	s.front.Restore()
}

// close stops a running server and reports whether it was running.
func (s *Server) close() bool {
	s.mu.Lock()
	e := s.etcd
	s.etcd = nil
	s.mu.Unlock()
	if e == nil {
		return false
	}
	s.front.Cut()
	e.Close()
	return true
}
