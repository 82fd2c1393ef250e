// Package master is Gleaner's example master: the HTTP/JSON API of package
// api for agents and frameworks, weighted-DRF allocation with package offer,
// agent attributes and liveness from package attrs, state kept in etcd, and
// leader election among several masters. The program examples/master and the
// demo start it with Run.
//
//	err := master.Run(ctx, master.Config{Etcd: cli, Listen: "127.0.0.1:5050"})
//
// Only the leader serves the API; a follower answers 503 naming the leader
// and takes over when the leader's etcd session ends.
//
// The master serves TLS 1.3 with Config.TLS and knows who calls from the
// client certificate or bearer token (auth.Guard): an agent may register,
// report and poll only as the agent ID in its certificate, a framework is
// bound to the principal that subscribed it, and everything else is
// decided by the ACL policy (Config.ACL), denying what it does not grant.
// Plaintext with no authentication needs Config.Insecure, which the
// dashboard shows in red. Everything the leader
// must not forget (agents, frameworks, tasks) is written to etcd under
// <prefix>/master/ before it is acted on, so a new leader, or a restarted
// master, carries on where the old one stopped. Offers are not kept: a new
// leader makes new ones.
package master

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/gleaner/gleaner/attrs"
	"github.com/gleaner/gleaner/examples/internal/auth"
	"github.com/gleaner/gleaner/offer"
)

// Config configures a master. Etcd is required; the rest has defaults.
type Config struct {
	// Etcd is the client of the cluster's etcd; the caller owns it.
	Etcd *clientv3.Client
	// Prefix is the cluster's key prefix (default attrs.DefaultPrefix).
	Prefix string
	// ID names this master (default: random).
	ID string
	// Listen is the address to serve on (default "127.0.0.1:5050"), unless
	// Listener is set.
	Listen   string
	Listener net.Listener
	// URL is the URL other parties reach this master at, published when it
	// leads (default "https://" + the listener's address, or "http://"
	// when Insecure).
	URL string
	// TLS is the master's identity (a certificate naming master/<id>): the
	// master serves TLS 1.3 with it and takes clients' certificates of its
	// CA. Required unless Insecure.
	TLS *auth.TLS
	// Insecure serves plaintext, authenticating and authorizing nobody.
	Insecure bool
	// Tokens are the bearer tokens frameworks and operators may present
	// instead of a certificate (nil: none).
	Tokens *auth.Tokens
	// ACL says what frameworks and operators may do; what it does not
	// grant is refused with 403 (nil: nothing is granted).
	ACL *auth.Policy
	// AllocationInterval is how often offers are made (default 1 s).
	AllocationInterval time.Duration
	// ReportInterval is how often agents are asked to report (default 1 s).
	ReportInterval time.Duration
	// HeartbeatInterval is how often subscribed frameworks get a HEARTBEAT
	// (default 5 s).
	HeartbeatInterval time.Duration
	// Refuse is the default refuse time of Decline and of Accept's leftover
	// (default offer.DefaultRefuse).
	Refuse time.Duration
	// SessionTTL is the TTL of the leader's etcd session: how long a dead
	// leader blocks the follower (default 5 s, at least 2 s; etcd counts
	// whole seconds).
	SessionTTL time.Duration
	// AgentGrace is how long an agent may stay silent and not up in etcd, or
	// how long a launched task may be missing from its agent's reports,
	// before the master gives up on it (default 10 s).
	AgentGrace time.Duration
	// History is how many usage samples are kept per agent for the
	// dashboard (default 300).
	History int
	// MaxPriority is the highest task priority (api.TaskInfo.Priority)
	// the frameworks of each role may use, as Borg's priority bands are
	// bounded by quota: a role not listed may use 0 only, so that no
	// framework outlives others' tasks in QoS evictions unless an
	// operator said so.
	MaxPriority map[string]int
	// Logger receives the master's log; default: discard.
	Logger *slog.Logger
}

func (c *Config) setDefaults() error {
	if c.Etcd == nil {
		return errors.New("master: Config.Etcd is required")
	}
	switch {
	case c.TLS == nil && !c.Insecure:
		return fmt.Errorf("master: %w: Config.TLS is required (or Insecure for plaintext)", auth.ErrNoTLS)
	case c.TLS != nil && c.Insecure:
		return errors.New("master: Config.TLS and Config.Insecure: choose one")
	case c.TLS != nil && c.TLS.Principal().Kind != auth.KindMaster:
		return fmt.Errorf("master: Config.TLS: certificate %s names %s, not a master/<id>", c.TLS.Files().Cert, c.TLS.Principal())
	}
	if c.Prefix == "" {
		c.Prefix = attrs.DefaultPrefix
	}
	c.Prefix = strings.TrimRight(c.Prefix, "/")
	if c.ID == "" {
		var b [4]byte
		_, _ = rand.Read(b[:])
		c.ID = "master-" + hex.EncodeToString(b[:])
	}
	if c.Listen == "" {
		c.Listen = "127.0.0.1:5050"
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.AllocationInterval, time.Second)
	def(&c.ReportInterval, time.Second)
	def(&c.HeartbeatInterval, 5*time.Second)
	def(&c.Refuse, offer.DefaultRefuse)
	def(&c.SessionTTL, 5*time.Second)
	def(&c.AgentGrace, 10*time.Second)
	if c.SessionTTL < 2*time.Second {
		c.SessionTTL = 2 * time.Second
	}
	if c.History <= 0 {
		c.History = 300
	}
	for role, p := range c.MaxPriority {
		if p < 0 {
			return fmt.Errorf("master: Config.MaxPriority[%q] %d: must be 0 or more", role, p)
		}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Master is one master process. Create it with New, serve with Run.
type Master struct {
	cfg     Config
	log     *slog.Logger
	ln      net.Listener
	url     string
	view    *attrs.ClusterView
	metrics *metrics
	handler http.Handler
	// agentTransport carries the task logs the master proxies from agents.
	agentTransport *http.Transport
	// ledger integrates the agents' reports for the cluster view; guarded
	// by mu. It outlives terms: this master's reports of a day.
	ledger *ledger

	mu       sync.Mutex
	cur      *cluster // non-nil while leading
	leader   string   // the leader's URL as last observed
	ran      bool
	leaderCh chan struct{} // closed and replaced when leadership changes
}

// New checks cfg, opens the listener and returns a master ready to Run.
func New(cfg Config) (*Master, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	log := cfg.Logger.With("master", cfg.ID)
	view, err := attrs.NewClusterView(cfg.Etcd, attrs.WithPrefix(cfg.Prefix), attrs.WithLogger(log))
	if err != nil {
		return nil, fmt.Errorf("master: cluster view: %w", err)
	}
	ln := cfg.Listener
	if ln == nil {
		if ln, err = net.Listen("tcp", cfg.Listen); err != nil {
			return nil, fmt.Errorf("master: listen: %w", err)
		}
	}
	m := &Master{
		cfg:      cfg,
		log:      log,
		ln:       ln,
		url:      cfg.URL,
		view:     view,
		leaderCh: make(chan struct{}),
	}
	if m.url == "" {
		scheme := "https://"
		if cfg.Insecure {
			scheme = "http://"
		}
		m.url = scheme + ln.Addr().String()
	}
	if cfg.TLS != nil {
		// A bearer token may stand in for a certificate: the Guard
		// refuses a request with neither.
		m.ln = tls.NewListener(ln, cfg.TLS.ServerConfig(tls.VerifyClientCertIfGiven))
	}
	m.agentTransport = http.DefaultTransport.(*http.Transport).Clone()
	if cfg.TLS != nil {
		// Agents answer masters' certificates; the master expects an
		// agent's.
		m.agentTransport = cfg.TLS.Transport(auth.KindAgent)
	}
	m.ledger = new(ledger)
	m.metrics = newMetrics(m)
	m.handler = m.routes()
	return m, nil
}

// Run starts a master with cfg and serves until ctx ends.
func Run(ctx context.Context, cfg Config) error {
	m, err := New(cfg)
	if err != nil {
		return err
	}
	return m.Run(ctx)
}

// URL returns the URL this master serves at.
func (m *Master) URL() string { return m.url }

// IsLeader reports whether the master leads now.
func (m *Master) IsLeader() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cur != nil
}

// leaderChanged returns a channel closed at the next change of leadership
// of this master, for tests.
func (m *Master) leaderChanged() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.leaderCh
}

// Run serves HTTP, follows the agents in etcd and takes part in the leader
// election until ctx ends. It closes the listener before it returns and
// resigns the leadership, so that a follower takes over at once.
func (m *Master) Run(ctx context.Context) error {
	m.mu.Lock()
	if m.ran {
		m.mu.Unlock()
		return errors.New("master: Run called twice")
	}
	m.ran = true
	m.mu.Unlock()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	srv := &http.Server{Handler: m.handler, ReadHeaderTimeout: 10 * time.Second,
		BaseContext: func(net.Listener) context.Context { return ctx }}
	var wg sync.WaitGroup
	errc := make(chan error, 3)
	wg.Go(func() {
		if err := srv.Serve(m.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("master: serve: %w", err)
			cancel()
		}
	})
	changes := m.view.Subscribe()
	wg.Go(func() {
		if err := m.view.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			errc <- fmt.Errorf("master: cluster view: %w", err)
			cancel()
		}
	})
	wg.Go(func() { m.followChanges(ctx, changes.C()) })
	wg.Go(func() { m.campaignLoop(ctx) })

	<-ctx.Done()
	changes.Close()
	shutdownCtx, stop := context.WithTimeout(context.Background(), 5*time.Second)
	defer stop()
	_ = srv.Shutdown(shutdownCtx)
	_ = m.view.Close()
	wg.Wait()
	m.agentTransport.CloseIdleConnections()
	select {
	case err := <-errc:
		return err
	default:
		return nil
	}
}
