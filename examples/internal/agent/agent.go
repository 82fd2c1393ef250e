//go:build linux

package agent

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/gleaner/gleaner/attrs"
	"github.com/gleaner/gleaner/examples/internal/api"
	"github.com/gleaner/gleaner/examples/internal/auth"
	"github.com/gleaner/gleaner/isolate"
	"github.com/gleaner/gleaner/monitor"
	"github.com/gleaner/gleaner/reserve"
	"github.com/gleaner/gleaner/rootfs"
)

// Agent is one running agent. Create it with New, then call Run once.
type Agent struct {
	cfg         Config
	log         *slog.Logger
	rt          runtime
	uids        *uidPool // Config.TaskUIDs; nil when unset
	fetcher     *rootfs.Fetcher
	sampler     *monitor.Sampler
	res         *reserve.Reservation
	disk        *isolate.DiskWatcher
	ln          net.Listener // HTTPS (or plaintext, insecure)
	opLn        net.Listener // the operator socket
	url         string       // of ln
	reg         *prometheus.Registry
	m           *metrics
	capOverride partial
	bizCgroup   *monitor.Cgroup // Config.BusinessCgroup; read by sampleLoop only
	bizCPU      monitor.CPURate // its CPU rate; sampleLoop only
	local       attrs.Attributes
	etcd        *clientv3.Client
	ownEtcd     bool
	syncer      *attrs.Syncer
	registrar   *attrs.Registrar
	client      *api.AgentClient

	bg         context.Context // task work; outlives Run's ctx for the shutdown
	cancelBg   context.CancelFunc
	starts     context.Context // launches in progress (fetch, unpack); ends with Run's ctx
	stopStarts context.CancelFunc
	stopping   chan struct{} // closed when Run exits leaving tasks running
	kick       chan struct{} // report soon
	taskWG     sync.WaitGroup
	applyMu    sync.Mutex         // serialises apply
	resized    *reserve.Resources // what the parent cgroup was last set to; guarded by applyMu

	mu           sync.Mutex
	tasks        map[string]*task
	limit, floor partial // the operator's cap and floor
	estimate     reserve.Resources
	effective    reserve.Resources
	capacity     reserve.Resources
	business     reserve.Resources
	own          reserve.Resources
	haveSample   bool
	samples      uint64 // samples observed, to count intervals in tests
	// seeded is closed when seedAttributes has decided (written the
	// configured attributes, or found them written before), so that tests
	// can check etcd after it rather than sleep.
	seeded       chan struct{}
	lastChange   string
	lastChangeAt time.Time
	registered   bool
	draining     bool // the master said so in its last answer
}

// Run runs an agent with cfg until ctx ends; see New and Agent.Run.
func Run(ctx context.Context, cfg Config) error {
	a, err := New(cfg)
	if err != nil {
		return err
	}
	return a.Run(ctx)
}

// New prepares an agent: its directory, its isolation (or the reason there
// is none), its HTTP listener, its sampler and reservation, and adopts the
// tasks a previous agent on the same directory left running. Call Run, which
// owns everything New started.
func New(cfg Config) (_ *Agent, err error) {
	cfg, err = cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	for _, d := range []string{cfg.Dir, cfg.stateDir(), cfg.sandboxDir(), cfg.basesDir()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("agent: %w", err)
		}
	}
	a := &Agent{
		cfg:      cfg,
		log:      cfg.Logger.With("agent", cfg.ID),
		reg:      prometheus.NewRegistry(),
		tasks:    map[string]*task{},
		stopping: make(chan struct{}),
		uids:     poolOf(cfg.TaskUIDs),
		kick:     make(chan struct{}, 1),
		seeded:   make(chan struct{}),
	}
	a.bg, a.cancelBg = context.WithCancel(context.Background())
	a.starts, a.stopStarts = context.WithCancel(a.bg)
	var cleanup []func()
	defer func() {
		if err != nil {
			for i := len(cleanup) - 1; i >= 0; i-- {
				cleanup[i]()
			}
		}
	}()
	cleanup = append(cleanup, a.cancelBg)
	a.capOverride, _ = parseCapacity(cfg.Capacity)
	a.local, _ = attrs.Parse(cfg.Attributes)
	if a.limit, a.floor, err = loadOverride(cfg.overrideFile()); err != nil {
		a.log.Warn("operator bounds not restored", "err", err)
		err = nil
	}

	if a.fetcher, err = rootfs.NewFetcher(cfg.cacheDir(), rootfs.WithLogger(a.log),
		rootfs.WithFileRoots(cfg.FetchFileDirs...), rootfs.WithS3Buckets(cfg.FetchS3Buckets...)); err != nil {
		return nil, fmt.Errorf("agent: image cache: %w", err)
	}
	cleanup = append(cleanup, func() { a.fetcher.Close() })

	// Fail closed: without isolation the agent lends nothing unless the
	// operator said -isolation=none.
	a.rt = &plainRuntime{operator: true, fetcher: a.fetcher}
	if cfg.Isolation == IsolationAuto && os.Geteuid() != 0 {
		a.rt = &plainRuntime{reason: "not root", fetcher: a.fetcher}
	} else if cfg.Isolation == IsolationAuto {
		if err := seedBase(context.Background(), rootfs.Bases{Dir: cfg.basesDir()}, cfg.BaseName, cfg.BaseVersion, cfg.BasePrograms); err != nil {
			a.rt = &plainRuntime{reason: "no base rootfs: " + why(err), fetcher: a.fetcher}
		} else if iso, err := newIsolatedRuntime(cfg, a.fetcher); err != nil {
			a.rt = &plainRuntime{reason: why(err), fetcher: a.fetcher}
		} else {
			a.rt = iso
			// A failed New leaves a cgroup only if it adopted one.
			cleanup = append(cleanup, func() { iso.close(context.Background(), true) })
		}
	}
	a.log.Info("isolation", "isolation", a.rt.isolation())

	opts := []monitor.SamplerOption{monitor.WithInterval(cfg.Interval), monitor.WithMounts(cfg.Dir),
		monitor.WithLogger(a.log), monitor.WithHistory(60)}
	if cg := a.rt.ownCgroup(); cg != "" {
		opts = append(opts, monitor.WithCgroup(cg))
	} else {
		opts = append(opts, monitor.WithProcessTree(os.Getpid()))
	}
	if a.sampler, err = monitor.NewSampler(opts...); err != nil {
		return nil, fmt.Errorf("agent: monitor: %w", err)
	}
	if cfg.BusinessCgroup != "" {
		if a.bizCgroup, err = monitor.NewCgroup(cfg.CgroupRoot, cfg.BusinessCgroup); err != nil {
			return nil, fmt.Errorf("%w: Config.BusinessCgroup %q: %w", ErrInvalid, cfg.BusinessCgroup, err)
		}
	}
	if a.res, err = reserve.NewReservation(cfg.Policy, *cfg.Hysteresis); err != nil {
		return nil, fmt.Errorf("%w: policy or hysteresis: %w", ErrInvalid, err)
	}
	// A restarted agent lends what it lent before rather than growing from
	// zero, which would make its QoS evict the tasks it adopts; the first
	// sample still shrinks it at once if the business needs more.
	if est, ok, err := loadEstimate(cfg.estimateFile()); err != nil {
		a.log.Warn("reservation: previous estimate unreadable, starting from zero", "err", err)
	} else if ok {
		if err := a.res.Restore(est); err != nil {
			a.log.Warn("reservation: previous estimate refused, starting from zero", "err", err)
		}
	}
	if a.disk, err = isolate.NewDiskWatcher(isolate.WithDiskInterval(cfg.DiskInterval), isolate.WithLogger(a.log)); err != nil {
		return nil, fmt.Errorf("%w: Config.DiskInterval: %w", ErrInvalid, err)
	}

	if a.ln, err = net.Listen("tcp", cfg.Listen); err != nil {
		return nil, fmt.Errorf("agent: listen: %w", err)
	}
	cleanup = append(cleanup, func() { a.ln.Close() })
	a.url = "http://" + a.ln.Addr().String()
	if cfg.TLS != nil {
		a.url = "https://" + a.ln.Addr().String()
		a.ln = tls.NewListener(a.ln, cfg.TLS.ServerConfig(tls.RequireAndVerifyClientCert))
	}
	if a.opLn, err = listenOperator(cfg.OperatorSocket); err != nil {
		return nil, fmt.Errorf("%w: Config.OperatorSocket %q: %w", ErrInvalid, cfg.OperatorSocket, err)
	}
	cleanup = append(cleanup, func() { a.opLn.Close() })
	a.m = newMetrics(a.reg, a)
	a.reg.MustRegister(monitor.NewCollector(a.sampler))

	if len(cfg.Masters) > 0 {
		var opts []api.ClientOption
		if cfg.TLS != nil {
			// Only a master's certificate makes a master.
			opts = append(opts, api.WithHTTPClient(cfg.TLS.HTTPClient(auth.KindMaster)))
		}
		a.client = api.NewAgentClient(cfg.Masters, opts...)
	}
	a.etcd = cfg.EtcdClient
	if a.etcd == nil && len(cfg.Etcd) > 0 {
		if a.etcd, err = auth.NewEtcdClient(cfg.Etcd, cfg.TLS); err != nil {
			return nil, fmt.Errorf("agent: etcd: %w", err)
		}
		a.ownEtcd = true
		cleanup = append(cleanup, func() { a.etcd.Close() })
	}
	if a.etcd != nil {
		prefix, logger := attrs.WithPrefix(cfg.EtcdPrefix), attrs.WithLogger(a.log)
		if a.syncer, err = attrs.NewSyncer(a.etcd, cfg.ID, prefix, logger); err != nil {
			return nil, fmt.Errorf("agent: attributes: %w", err)
		}
		if a.registrar, err = attrs.NewRegistrar(a.etcd, cfg.ID, prefix, logger, attrs.WithLeaseTTL(cfg.LeaseTTL)); err != nil {
			return nil, fmt.Errorf("agent: liveness: %w", err)
		}
	}
	// Take over what a previous agent on this directory left, before any
	// Launch can add tasks.
	a.adopt()
	return a, nil
}

// URL is the base URL of the agent's HTTPS endpoint.
func (a *Agent) URL() string { return a.url }

// OperatorSocket is the path of the unix socket serving /reservation.
func (a *Agent) OperatorSocket() string { return a.cfg.OperatorSocket }

// Isolation describes how tasks are isolated, or why they are not.
func (a *Agent) Isolation() string { return a.rt.isolation() }

// seedAttributes writes the configured attributes into etcd at the agent's
// first start, leaving alone names etcd already has; from then on etcd is
// authoritative (an operator's change or deletion there stands, also over
// restarts). A marker file in the agent's directory says it was done.
func (a *Agent) seedAttributes(ctx context.Context) {
	defer close(a.seeded)
	marker := filepath.Join(a.cfg.Dir, "state", "attributes-seeded")
	if _, err := os.Stat(marker); err == nil || len(a.local) == 0 {
		return
	}
	store, err := attrs.NewEtcdStore(a.etcd, attrs.WithPrefix(a.cfg.EtcdPrefix))
	if err != nil {
		a.log.Warn("attributes not written to etcd", "err", err)
		return
	}
	for {
		err := func() error {
			for _, at := range a.local {
				if _, err := store.CompareAndSet(ctx, a.cfg.ID, at.Name, at.Value, 0); err != nil && !errors.Is(err, attrs.ErrConflict) {
					return err
				}
			}
			return os.WriteFile(marker, nil, 0o644)
		}()
		if err == nil {
			a.log.Info("attributes written to etcd", "attributes", a.local.String())
			return
		}
		a.log.Warn("write attributes to etcd", "err", err)
		if !pause(ctx, time.Second) {
			return
		}
	}
}

// attributes returns the agent's attributes: etcd's, or without etcd the
// configured ones.
func (a *Agent) attributes() map[string]string {
	if a.syncer != nil {
		return a.syncer.Attributes().Map()
	}
	return a.local.Map()
}

// Run runs the agent until ctx ends. Then, unless ctx's cause is
// ErrRestart, it kills its tasks, reports them to the master and removes
// their cgroups, mounts and sandboxes and its parent cgroup; with
// ErrRestart it leaves them running for the next agent. Run returns nil
// after a normal stop.
func (a *Agent) Run(ctx context.Context) error {
	defer a.cancelBg()

	var wg sync.WaitGroup
	goRun := func(f func()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f()
		}()
	}
	sub := a.sampler.Subscribe(4)
	goRun(func() { a.sampler.Run(ctx) })
	goRun(func() { a.sampleLoop(ctx, sub) })
	goRun(func() { a.disk.Run(ctx) })
	goRun(func() { a.sandboxGC(ctx) })

	// Followed logs end with ctx, rather than hold the shutdown up.
	srv := &http.Server{Handler: a.handler(), ReadHeaderTimeout: 5 * time.Second,
		BaseContext: func(net.Listener) context.Context { return ctx }}
	goRun(func() {
		if err := srv.Serve(a.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("http server", "err", err)
		}
	})
	opSrv := &http.Server{Handler: a.operatorHandler(), ReadHeaderTimeout: 5 * time.Second}
	goRun(func() {
		if err := opSrv.Serve(a.opLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("operator socket", "err", err)
		}
	})
	if a.syncer != nil {
		goRun(func() { a.seedAttributes(ctx) })
		changes := a.syncer.Subscribe()
		goRun(func() { a.syncer.Run(ctx) })
		goRun(func() { a.registrar.Run(ctx) })
		goRun(func() {
			defer changes.Close()
			for {
				select {
				case <-ctx.Done():
					return
				case c, ok := <-changes.C():
					if !ok {
						return
					}
					a.log.Info("attribute changed", "name", c.Name, "kind", c.Kind, "value", c.New.String())
					a.kickReport()
				}
			}
		})
	}
	if a.client != nil {
		goRun(func() { a.masterLoop(ctx) })
		goRun(func() { a.pollLoop(ctx) })
	} else {
		goRun(func() { a.janitor(ctx) })
	}
	a.log.Info("agent running", "url", a.URL(), "operator-socket", a.cfg.OperatorSocket, "dir", a.cfg.Dir)

	<-ctx.Done()
	a.stopStarts() // a launch still fetching its image fails rather than hold the stop up
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(shutdownCtx)
	opSrv.Shutdown(shutdownCtx)
	wg.Wait()
	sub.Close()

	keep := errors.Is(context.Cause(ctx), ErrRestart)
	var errs []error
	if keep {
		a.log.Info("agent exiting; tasks keep running for the next agent")
		close(a.stopping)
		a.taskWG.Wait()
		a.mu.Lock()
		for _, t := range a.tasks {
			a.persistLocked(t)
			if t.logs != nil {
				t.logs.close() // the FIFOs hold what comes until the next agent
			}
		}
		a.mu.Unlock()
	} else {
		errs = append(errs, a.stopTasks(shutdownCtx))
	}
	errs = append(errs, a.rt.close(context.Background(), keep))
	if a.syncer != nil {
		errs = append(errs, a.syncer.Close())
		if !keep {
			errs = append(errs, a.registrar.Close()) // gone at once, not after the TTL
		}
	}
	errs = append(errs, a.fetcher.Close())
	if a.ownEtcd {
		errs = append(errs, a.etcd.Close())
	}
	a.log.Info("agent stopped")
	return errors.Join(errs...)
}

// stopTasks kills every task, tells the master, and removes every sandbox.
func (a *Agent) stopTasks(ctx context.Context) error {
	a.mu.Lock()
	ids := make([]string, 0, len(a.tasks))
	for id := range a.tasks {
		ids = append(ids, id)
	}
	a.mu.Unlock()
	for _, id := range ids {
		a.killTask(id, api.TaskKilled, "agent stopped")
	}
	a.taskWG.Wait()
	if a.client != nil {
		if _, err := a.client.Report(ctx, a.buildReport()); err != nil {
			a.log.Warn("final report to master", "err", err)
		}
	}
	a.mu.Lock()
	for _, t := range a.tasks {
		a.dropLocked(t)
	}
	a.mu.Unlock()
	return os.RemoveAll(a.cfg.sandboxDir())
}

// janitor forgets ended tasks after the retention when no master takes
// their final status.
func (a *Agent) janitor(ctx context.Context) {
	t := time.NewTicker(max(a.cfg.Retention/10, time.Second))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			a.dropReported(nil)
		}
	}
}
