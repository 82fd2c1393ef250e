package framework

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gleaner/gleaner/examples/internal/api"
	"github.com/gleaner/gleaner/examples/internal/auth"
	"github.com/gleaner/gleaner/internal/pki"
	"github.com/gleaner/gleaner/offer"
)

// Defaults of Config.
const (
	DefaultName        = "marathon"
	DefaultListen      = "127.0.0.1:8080"
	DefaultRefuse      = 5 * time.Second
	DefaultStableAfter = 30 * time.Second
	defaultTick        = time.Second
)

// Config configures a Framework.
type Config struct {
	// Masters are the base URLs of the masters ("http://127.0.0.1:5050");
	// the client follows the leader among them.
	Masters []string
	// Name, Role and Weight are what the framework subscribes with
	// (default name DefaultName, role "*", weight 1).
	Name   string
	Role   string
	Weight float64
	// FrameworkID resumes a framework the master knows, with its tasks;
	// empty asks for a new ID.
	FrameworkID string

	// Listen is the address of the HTTP API and /metrics (default
	// DefaultListen; port 0 picks a free port, see Framework.Addr).
	Listen string
	// AppsDir, when set, is read at start (every *.json file is one app),
	// and apps created, changed or deleted over HTTP are saved there.
	AppsDir string
	// Apps are more apps to run from the start.
	Apps []App

	// Strategy ranks offers (default offer.BinPack).
	Strategy offer.Strategy
	// Refuse is how long declined offers, and the unused rest of accepted
	// ones, stay away (default DefaultRefuse).
	Refuse time.Duration
	// StableAfter is how long a task must run for its app's backoff to
	// reset (default DefaultStableAfter).
	StableAfter time.Duration
	// Tick is how often timed work runs: backoff expiry, kill retries
	// (default defaultTick).
	Tick time.Duration

	// TLS is the framework's identity, a certificate naming
	// framework/<principal>: it authenticates the framework to the masters
	// (the frameworks it subscribes are bound to that principal) and serves
	// the HTTP API over TLS 1.3. Required unless Insecure.
	TLS *auth.TLS
	// MasterToken, when set, authenticates the framework to the masters
	// with this bearer token instead of its certificate.
	MasterToken string
	// APITokens are the bearer tokens the HTTP API accepts, besides
	// operators' certificates of the CA (nil: none).
	APITokens *auth.Tokens
	// Hosts are names the HTTP API is reached at besides its certificate's
	// and IP addresses: a request naming another Host is refused (DNS
	// rebinding).
	Hosts []string
	// Insecure speaks plaintext to the masters and on the HTTP API, and
	// authenticates nobody.
	Insecure bool

	// Logger receives the framework's logs (default: discarded).
	Logger *slog.Logger
	// HTTPClient calls the masters (default: one holding TLS, expecting
	// masters' certificates).
	HTTPClient *http.Client
}

// Framework is a running Marathon-like framework: a scheduler loop
// subscribed to the master and an HTTP API.
type Framework struct {
	cfg     Config
	log     *slog.Logger
	client  *api.SchedulerClient
	ln      net.Listener
	url     string // of ln
	srv     *http.Server
	metrics *metrics
	wake    chan struct{}
	// ownTransport is the masters' transport when the framework made it.
	ownTransport *http.Transport

	mu          sync.Mutex // guards the fields below
	sched       *scheduler
	files       map[string]string // app ID → the file it is saved in
	frameworkID string
	connected   bool
	running     bool
}

// New checks cfg, loads the apps and binds the HTTP listener; Run starts
// the work. Close releases the listener of a Framework that never ran.
func New(cfg Config) (*Framework, error) {
	if len(cfg.Masters) == 0 {
		return nil, fmt.Errorf("%w: no master URL", errInvalid)
	}
	if cfg.Name == "" {
		cfg.Name = DefaultName
	}
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if cfg.Refuse <= 0 {
		cfg.Refuse = DefaultRefuse
	}
	if cfg.Tick <= 0 {
		cfg.Tick = defaultTick
	}
	if cfg.Weight < 0 {
		return nil, fmt.Errorf("%w: weight %v is negative", errInvalid, cfg.Weight)
	}
	switch {
	case cfg.TLS == nil && !cfg.Insecure:
		return nil, fmt.Errorf("%w: %w: Config.TLS is required (or Insecure for plaintext)", errInvalid, auth.ErrNoTLS)
	case cfg.TLS != nil && cfg.Insecure:
		return nil, fmt.Errorf("%w: Config.TLS and Config.Insecure: choose one", errInvalid)
	case cfg.TLS != nil && cfg.TLS.Certificate() == nil:
		return nil, fmt.Errorf("%w: Config.TLS: no certificate to serve the API with", errInvalid)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f := &Framework{
		cfg:         cfg,
		log:         log,
		sched:       newScheduler(schedulerConfig{Strategy: cfg.Strategy, StableAfter: cfg.StableAfter}),
		files:       make(map[string]string),
		wake:        make(chan struct{}, 1),
		frameworkID: cfg.FrameworkID,
	}
	hc := cfg.HTTPClient
	if hc == nil {
		// A transport of its own, so that Run can close its idle
		// connections (and their goroutines) when it ends.
		var err error
		if f.ownTransport, err = masterTransport(cfg); err != nil {
			return nil, err
		}
		hc = &http.Client{Transport: f.ownTransport}
	}
	opts := []api.ClientOption{api.WithHTTPClient(hc)}
	if cfg.MasterToken != "" {
		opts = append(opts, api.WithBearerToken(cfg.MasterToken))
	}
	f.client = api.NewSchedulerClient(cfg.Masters, opts...)

	var apps []App
	if cfg.AppsDir != "" {
		var err error
		if apps, f.files, err = readAppDir(cfg.AppsDir); err != nil {
			return nil, err
		}
	}
	for _, a := range cfg.Apps {
		if err := a.normalize(); err != nil {
			return nil, err
		}
		if _, ok := f.files[a.ID]; ok || slicesContainsID(apps, a.ID) {
			return nil, fmt.Errorf("app %q given twice: %w", a.ID, errExists)
		}
		apps = append(apps, a)
	}
	for _, a := range apps {
		f.sched.PutApp(a)
	}

	f.metrics = newMetrics(f)
	f.srv = &http.Server{Handler: f.handler(), ReadHeaderTimeout: 10 * time.Second}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("framework API: %w", err)
	}
	f.url = "http://" + ln.Addr().String()
	if cfg.TLS != nil {
		f.url = "https://" + ln.Addr().String()
		// A bearer token may stand in for a certificate.
		ln = tls.NewListener(ln, cfg.TLS.ServerConfig(tls.VerifyClientCertIfGiven))
	}
	f.ln = ln
	return f, nil
}

// masterTransport is the transport to the masters: TLS expecting a
// master's certificate, presenting the framework's unless a token stands
// in for it.
func masterTransport(cfg Config) (*http.Transport, error) {
	switch {
	case cfg.TLS == nil:
		return http.DefaultTransport.(*http.Transport).Clone(), nil
	case cfg.MasterToken != "":
		caOnly, err := auth.LoadTLS(pki.Files{CA: cfg.TLS.Files().CA})
		if err != nil {
			return nil, fmt.Errorf("framework: %w", err)
		}
		return caOnly.Transport(auth.KindMaster), nil
	}
	return cfg.TLS.Transport(auth.KindMaster), nil
}

func slicesContainsID(apps []App, id string) bool {
	for _, a := range apps {
		if a.ID == id {
			return true
		}
	}
	return false
}

// Addr returns the base URL of the HTTP API, "https://127.0.0.1:8080".
func (f *Framework) Addr() string { return f.url }

// FrameworkID returns the ID the master gave, or "" before the first
// subscription.
func (f *Framework) FrameworkID() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.frameworkID
}

// Close releases the listener of a Framework whose Run was never called.
func (f *Framework) Close() error {
	f.mu.Lock()
	running := f.running
	f.mu.Unlock()
	if running {
		return nil
	}
	if err := f.ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		return err
	}
	return nil
}

// Run serves the HTTP API and subscribes to the master, resubscribing with
// a growing delay whenever the subscription ends, until ctx ends. It then
// stops serving and returns nil, or the error that stopped the HTTP server.
// It may be called once.
func (f *Framework) Run(ctx context.Context) error {
	f.mu.Lock()
	if f.running {
		f.mu.Unlock()
		return errors.New("framework: Run called twice")
	}
	f.running = true
	f.mu.Unlock()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	served := make(chan error, 1)
	go func() {
		err := f.srv.Serve(f.ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		served <- err
		cancel()
	}()

	f.schedule(ctx)

	shutdown, stop := context.WithTimeout(context.Background(), 5*time.Second)
	defer stop()
	if err := f.srv.Shutdown(shutdown); err != nil {
		f.srv.Close()
	}
	if f.ownTransport != nil {
		f.ownTransport.CloseIdleConnections()
	}
	return <-served
}

// schedule keeps a subscription to the master until ctx ends.
func (f *Framework) schedule(ctx context.Context) {
	const minDelay, maxDelay = 100 * time.Millisecond, 5 * time.Second
	delay := minDelay
	for ctx.Err() == nil {
		start := time.Now()
		err := f.session(ctx)
		f.setConnected(false)
		if ctx.Err() != nil {
			return
		}
		if time.Since(start) > 10*time.Second {
			delay = minDelay
		}
		f.log.Warn("subscription to the master ended; subscribing again", "err", err, "in", delay)
		f.metrics.subscriptionErrors.Inc()
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		delay = min(2*delay, maxDelay)
	}
}

func (f *Framework) setConnected(c bool) {
	f.mu.Lock()
	f.connected = c
	f.mu.Unlock()
}

// poke wakes the scheduler loop to act on a change made over HTTP.
func (f *Framework) poke() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// ParseStrategy reads a strategy name: "binpack", "spread" or "firstfit"
// (any case, as offer.Strategy.String prints them too).
func ParseStrategy(s string) (offer.Strategy, error) {
	for _, st := range []offer.Strategy{offer.BinPack, offer.Spread, offer.FirstFit} {
		if strings.EqualFold(s, st.String()) {
			return st, nil
		}
	}
	return 0, fmt.Errorf("%w: strategy %q (want binpack, spread or firstfit)", errInvalid, s)
}
