//go:build linux

package cluster

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"

	"github.com/gleaner/gleaner/attrs"
	"github.com/gleaner/gleaner/examples/internal/agent"
	"github.com/gleaner/gleaner/examples/internal/api"
	"github.com/gleaner/gleaner/examples/internal/auth"
	"github.com/gleaner/gleaner/examples/internal/framework"
	"github.com/gleaner/gleaner/examples/internal/master"
	"github.com/gleaner/gleaner/internal/pki"
	"github.com/gleaner/gleaner/reserve"
)

// AgentSpec describes one agent of the cluster.
type AgentSpec struct {
	ID         string
	Attributes map[string]string
	// Capacity is what the agent takes as its machine, in Mesos text
	// (agents of one host share it, so each gets a slice).
	Capacity string
	// BusinessCgroup, if set, is the cgroup whose usage the agent takes as
	// the business's, instead of the host's usage minus its own (tests
	// that make the business load themselves on a shared machine).
	BusinessCgroup string
	// Ports are the host ports the agent offers, as Mesos ranges; the
	// agents of one cluster share the host's network, so each gets its
	// own thousand from 31000 by default.
	Ports string
}

// DefaultAgents are the demo's three agents, one per rack, over two zones.
func DefaultAgents() []AgentSpec {
	return []AgentSpec{
		{ID: "agent-1", Attributes: map[string]string{"rack": "r1", "zone": "east"}, Capacity: "cpus:1;mem:512"},
		{ID: "agent-2", Attributes: map[string]string{"rack": "r2", "zone": "east"}, Capacity: "cpus:1;mem:512"},
		{ID: "agent-3", Attributes: map[string]string{"rack": "r3", "zone": "west"}, Capacity: "cpus:1;mem:512"},
	}
}

// Config describes a cluster. The zero value is the demo.
type Config struct {
	// Dir holds etcd's data and every agent's directory; default: a new
	// temporary directory, removed by Close.
	Dir string
	// Listen is the master's address (default "127.0.0.1:0").
	Listen string
	// MasterURLs, if set, are masters the caller runs; then none is
	// started here.
	MasterURLs []string
	// Etcd, if set, is an etcd the caller runs; default: one embedded in
	// the process.
	Etcd []string
	// Prefix is the cluster's etcd key prefix (default "/gleaner").
	Prefix string
	// Agents are started in-process (default DefaultAgents). A non-nil
	// empty slice starts none.
	Agents []AgentSpec
	// Apps are app definitions in Marathon's JSON that the framework runs
	// from the start.
	Apps [][]byte
	// CgroupRoot is the cgroup under which every agent gets its subtree
	// (default "/gleaner-demo-<random>").
	CgroupRoot string
	// SimulatedBusiness gives each agent without a BusinessCgroup a cgroup
	// of its own holding a simulated business (CPU rising and falling in a
	// slow wave) and makes the agent take that as the business, instead of
	// the host's usage: on a machine shared with other work the demo then
	// still has something to lend. It needs writable cgroups; without them
	// the agents measure the host. Programs using it call Init first.
	SimulatedBusiness bool
	// Interval is the sampling, reporting and allocation interval
	// (default 1 s).
	Interval time.Duration
	// CA signs the certificate of every component, written with them to
	// <Dir>/pki (default: a new throwaway CA). With MasterURLs or Etcd, the
	// caller's masters and etcd trust it, and the caller gives the cluster's
	// principals (Admin, agent/<id>) their etcd users (auth.ProvisionEtcd).
	CA *pki.CA
	// Insecure runs every component plaintext, authenticating nobody.
	Insecure bool
	// InitHelper is the agents' launch helper (rootfs/cmd/gleaner-init);
	// empty: the agents re-execute this program (slower launches).
	InitHelper string
	// Logger receives every component's log (default: discarded).
	Logger *slog.Logger
}

// Cluster is a running cluster.
type Cluster struct {
	cfg     Config
	dir     string
	ownDir  bool
	etcd    *embed.Etcd
	cli     *clientv3.Client
	log     *slog.Logger
	ctx     context.Context // parent of every component's context
	cancel  context.CancelFunc
	master  *component // nil with Config.MasterURLs
	urls    []string
	fw      *component
	fwURL   string
	etcdURL []string

	business []*business
	agents   []*component
	closed   bool

	sec  *security          // nil when insecure
	clis []*clientv3.Client // etcd clients the cluster made, c.cli first
}

// component is one running part, stopped by cancelling its context.
type component struct {
	cancel context.CancelCauseFunc
	done   chan struct{}
	err    error // Run's result, once done is closed
}

// stop cancels p and waits until it returns or ctx is done.
func (p *component) stop(ctx context.Context) error {
	p.cancel(nil)
	select {
	case <-p.done:
	case <-ctx.Done():
		return fmt.Errorf("still running: %w", context.Cause(ctx))
	}
	if errors.Is(p.err, context.Canceled) {
		return nil
	}
	return p.err
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Start starts the cluster and returns once its masters serve. Agents and
// the framework connect in the background; the dashboard shows them as
// they come.
func Start(ctx context.Context, cfg Config) (_ *Cluster, err error) {
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "/gleaner"
	}
	if cfg.Agents == nil {
		cfg.Agents = DefaultAgents()
	}
	if cfg.CgroupRoot == "" {
		cfg.CgroupRoot = "/gleaner-demo-" + randomHex(4)
	}
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Cluster{cfg: cfg, log: cfg.Logger}
	c.ctx, c.cancel = context.WithCancel(context.WithoutCancel(ctx))
	defer func() {
		if err != nil {
			_ = c.Close(context.WithoutCancel(ctx))
		}
	}()
	if c.dir = cfg.Dir; c.dir == "" {
		if c.dir, err = os.MkdirTemp("", "gleaner-demo-"); err != nil {
			return nil, fmt.Errorf("cluster: %w", err)
		}
		c.ownDir = true
	}
	if !cfg.Insecure {
		if c.sec, err = newSecurity(cfg.CA, filepath.Join(c.dir, "pki")); err != nil {
			return nil, err
		}
	}
	endpoints := cfg.Etcd
	if len(endpoints) == 0 {
		var ep string
		var root pki.Files
		if c.etcd, ep, root, err = startEtcd(filepath.Join(c.dir, "etcd"), c.sec); err != nil {
			return nil, err
		}
		endpoints = []string{ep}
		if c.sec != nil {
			// etcd's users: each component limited to its key prefixes.
			principals := []auth.Principal{masterPrincipal, Admin}
			for _, a := range cfg.Agents {
				principals = append(principals, AgentPrincipal(a.ID))
			}
			rootCli, err := c.etcdClient(endpoints, root)
			if err != nil {
				return nil, err
			}
			if err := provision(ctx, rootCli, cfg.Prefix, principals...); err != nil {
				return nil, err
			}
		}
	}
	c.etcdURL = endpoints
	if c.cli, err = c.etcdClientAs(Admin); err != nil {
		return nil, err
	}
	c.urls = append(c.urls, cfg.MasterURLs...)
	if len(c.urls) == 0 {
		if err := c.startMaster(); err != nil {
			return nil, err
		}
	}
	if err := c.startFramework(); err != nil {
		return nil, err
	}
	if cfg.SimulatedBusiness && cgroupsWritable() {
		for i := range cfg.Agents {
			spec := &cfg.Agents[i]
			if spec.BusinessCgroup != "" {
				continue
			}
			parent := cfg.CgroupRoot + "/business-" + spec.ID
			b, err := startBusiness(parent, float64(i)/float64(len(cfg.Agents)))
			if err != nil {
				return nil, fmt.Errorf("cluster: agent %s: %w", spec.ID, err)
			}
			c.business = append(c.business, b)
			spec.BusinessCgroup = parent + "/load"
		}
		c.cfg.Agents = cfg.Agents
	}
	for i, spec := range cfg.Agents {
		if spec.Ports == "" {
			spec.Ports = fmt.Sprintf("[%d-%d]", 31000+1000*i, 31999+1000*i)
		}
		if err := c.startAgent(spec); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (c *Cluster) startFramework() error {
	var apps []framework.App
	for i, b := range c.cfg.Apps {
		a, err := framework.DecodeApp(bytes.NewReader(b))
		if err != nil {
			return fmt.Errorf("cluster: app %d: %w", i+1, err)
		}
		apps = append(apps, a)
	}
	fcfg := framework.Config{
		Masters:  c.urls,
		Name:     "marathon",
		Listen:   "127.0.0.1:0",
		Apps:     apps,
		Refuse:   2 * c.cfg.Interval,
		Tick:     c.cfg.Interval / 4,
		Insecure: c.sec == nil,
		Logger:   c.log.With("component", "framework"),
	}
	if c.sec != nil {
		var err error
		if fcfg.TLS, err = c.sec.identity(frameworkPrincipal); err != nil {
			return err
		}
	}
	f, err := framework.New(fcfg)
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	c.fwURL = f.Addr()
	c.fw = c.run(f.Run)
	return nil
}

func (c *Cluster) startMaster() error {
	ln, err := net.Listen("tcp", c.cfg.Listen)
	if err != nil {
		return fmt.Errorf("cluster: master: %w", err)
	}
	mcfg := master.Config{
		Prefix:             c.cfg.Prefix,
		ID:                 "master-1",
		Listener:           ln,
		AllocationInterval: c.cfg.Interval,
		ReportInterval:     c.cfg.Interval,
		SessionTTL:         2 * time.Second,
		AgentGrace:         10 * c.cfg.Interval,
		Insecure:           c.sec == nil,
		// The demo's one framework may order its work by priority.
		MaxPriority: map[string]int{"*": 100},
		Logger:      c.log.With("component", "master"),
	}
	if mcfg.Etcd, err = c.etcdClientAs(masterPrincipal); err != nil {
		ln.Close()
		return err
	}
	if c.sec != nil {
		if mcfg.TLS, err = c.sec.identity(masterPrincipal); err != nil {
			ln.Close()
			return err
		}
		mcfg.ACL, mcfg.Tokens = Policy(), c.sec.tokens
	}
	m, err := master.New(mcfg)
	if err != nil {
		ln.Close()
		return fmt.Errorf("cluster: %w", err)
	}
	c.urls = append(c.urls, m.URL())
	c.master = c.run(m.Run)
	return nil
}

// run starts fn in a goroutine with its own context under the cluster's.
func (c *Cluster) run(fn func(context.Context) error) *component {
	ctx, cancel := context.WithCancelCause(c.ctx)
	p := &component{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		p.err = fn(ctx)
	}()
	return p
}

// AgentConfig is the configuration of the agent spec describes, in a
// cluster with the given masters, etcd and cgroup root, keeping its files
// in dir; the caller gives it its TLS identity (or Insecure). The
// end-to-end tests use it for agents they run as processes.
// The agent writes spec's attributes into etcd when it first starts; from
// then on etcd holds them, where operators change them (attrctl).
func AgentConfig(spec AgentSpec, dir string, masters, etcd []string, prefix, cgroupRoot string, interval time.Duration) (agent.Config, error) {
	as, err := attrs.FromMap(spec.Attributes)
	if err != nil {
		return agent.Config{}, fmt.Errorf("cluster: agent %s: %w", spec.ID, err)
	}
	return agent.Config{
		Dir:            dir,
		ID:             spec.ID,
		Hostname:       spec.ID,
		Masters:        masters,
		Etcd:           etcd,
		EtcdPrefix:     prefix,
		Attributes:     as.String(),
		Capacity:       spec.Capacity,
		Ports:          spec.Ports,
		Interval:       interval,
		ReportInterval: interval,
		CgroupParent:   cgroupRoot + "/" + spec.ID,
		// A task that ignores SIGTERM (a PID 1 without handlers does) holds
		// its resources for the whole grace; two intervals keep moves and
		// evictions prompt in fast test clusters, and one second in the demo.
		KillGrace:      min(time.Second, 2*interval),
		BusinessCgroup: spec.BusinessCgroup,
		// Lend what the business leaves now, keeping 10% of its usage and
		// 4% of capacity back; grow again after five quiet intervals, so
		// that the demo's charts show the reservation following the
		// business within seconds (agents default to a 15-minute window).
		Policy:     reserve.Headroom{Margin: reserve.Margin{OfUsage: 10, OfCapacity: 4}},
		Hysteresis: &reserve.Hysteresis{GrowAfter: 5 * interval, MinChangePercent: 1},
	}, nil
}

// startAgent starts the agent spec describes, in-process.
func (c *Cluster) startAgent(spec AgentSpec) error {
	cfg, err := AgentConfig(spec, c.agentDir(spec.ID), c.urls, c.etcdURL, c.cfg.Prefix, c.cfg.CgroupRoot, c.cfg.Interval)
	if err != nil {
		return err
	}
	if c.sec == nil {
		cfg.Insecure = true
	} else if cfg.TLS, err = c.sec.identity(AgentPrincipal(spec.ID)); err != nil {
		return err
	}
	cfg.InitHelper = c.cfg.InitHelper
	cfg.Logger = c.log.With("component", "agent", "agent", spec.ID)
	c.agents = append(c.agents, c.run(func(ctx context.Context) error { return agent.Run(ctx, cfg) }))
	return nil
}

// DashboardURL is the first master's dashboard, with a read-only bearer
// token in its fragment when the cluster is secure.
func (c *Cluster) DashboardURL() string {
	if c.sec == nil {
		return c.urls[0] + api.PathUI
	}
	return c.urls[0] + api.PathUI + "#token=" + c.sec.dashToken
}

// Masters are the masters' URLs.
func (c *Cluster) Masters() []string { return append([]string(nil), c.urls...) }

// Client is a client of the masters as Admin, who may read the state.
func (c *Cluster) Client() *api.Client { return c.apiClient() }

// HTTPClient is an HTTP client of Admin, for the framework's API (and the
// masters'); plaintext when the cluster is insecure.
func (c *Cluster) HTTPClient() *http.Client {
	if c.sec == nil {
		return &http.Client{}
	}
	return c.sec.admin
}

// Files are the TLS files of a principal the cluster issued a certificate
// to (Admin, agent/<id>, ...), and whether it did.
func (c *Cluster) Files(p auth.Principal) (pki.Files, bool) {
	if c.sec == nil {
		return pki.Files{}, false
	}
	f, ok := c.sec.files[p]
	return f, ok
}

func (c *Cluster) agentDir(id string) string { return filepath.Join(c.dir, "agents", id) }

// AgentSocket is the operator socket (GET/PUT /reservation) of the agent
// the cluster runs with the given ID.
func (c *Cluster) AgentSocket(id string) string {
	return agent.DefaultOperatorSocket(c.agentDir(id))
}

// Secure reports whether the cluster runs with TLS and authentication.
func (c *Cluster) Secure() bool { return c.sec != nil }

// etcdClientAs returns a new etcd client of the cluster's etcd with p's
// certificate, closed by Close.
func (c *Cluster) etcdClientAs(p auth.Principal) (*clientv3.Client, error) {
	var files pki.Files
	if c.sec != nil {
		if _, err := c.sec.identity(p); err != nil {
			return nil, err
		}
		files = c.sec.files[p]
	}
	return c.etcdClient(c.etcdURL, files)
}

// etcdClient returns a new etcd client of endpoints with files (none:
// plaintext), closed by Close.
func (c *Cluster) etcdClient(endpoints []string, files pki.Files) (*clientv3.Client, error) {
	var id *auth.TLS
	if files.CA != "" {
		var err error
		if id, err = auth.LoadTLS(files); err != nil {
			return nil, err
		}
	}
	cli, err := auth.NewEtcdClient(endpoints, id)
	if err != nil {
		return nil, err
	}
	c.clis = append(c.clis, cli)
	return cli, nil
}

// Business says where the agents' business usage comes from.
func (c *Cluster) Business() string {
	if len(c.business) > 0 {
		return "simulated: a CPU wave in cgroups " + c.cfg.CgroupRoot + "/business-*"
	}
	return "the host's usage minus Gleaner's own"
}

// FrameworkURL is the base URL of the framework's Marathon-style API.
func (c *Cluster) FrameworkURL() string { return c.fwURL }

// EtcdEndpoint is the first etcd endpoint, for attrctl.
func (c *Cluster) EtcdEndpoint() string { return c.etcdURL[0] }

// Etcd is the cluster's etcd client, as Admin, owned by the cluster.
func (c *Cluster) Etcd() *clientv3.Client { return c.cli }

// Prefix is the cluster's etcd key prefix.
func (c *Cluster) Prefix() string { return c.cfg.Prefix }

// Dir is the directory holding the cluster's files.
func (c *Cluster) Dir() string { return c.dir }

// CgroupRoot is the cgroup holding every agent's subtree, or "" when this
// process cannot make cgroups (not root): the agents run without isolation.
func (c *Cluster) CgroupRoot() string {
	if !cgroupsWritable() {
		return ""
	}
	return c.cfg.CgroupRoot
}

// Close stops the framework, the agents (which kill their tasks) and the
// masters, waiting for each until ctx is done, then removes the cluster's cgroups, unmounts whatever is still
// mounted under its directory and removes the directory if it made it.
// Calls after the first return nil; Close is not safe to call concurrently.
func (c *Cluster) Close(ctx context.Context) error {
	if c.closed {
		return nil
	}
	c.closed = true

	var errs []error
	if c.fw != nil {
		if err := c.fw.stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("framework: %w", err))
		}
	}
	var wg sync.WaitGroup
	var emu sync.Mutex
	for i, p := range c.agents {
		wg.Go(func() {
			if err := p.stop(ctx); err != nil {
				emu.Lock()
				errs = append(errs, fmt.Errorf("agent %s: %w", c.cfg.Agents[i].ID, err))
				emu.Unlock()
			}
		})
	}
	wg.Wait()
	if c.master != nil {
		if err := c.master.stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("master: %w", err))
		}
	}
	for _, b := range c.business {
		if err := b.stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("business: %w", err))
		}
	}
	c.cancel()
	for _, cli := range c.clis {
		cli.Close()
	}
	if c.etcd != nil {
		c.etcd.Close()
	}
	if len(c.cfg.Agents) > 0 {
		var parents []string
		for _, s := range c.cfg.Agents {
			parents = append(parents, c.cfg.CgroupRoot+"/"+s.ID)
		}
		if err := removeCgroups(ctx, append(parents, c.cfg.CgroupRoot)...); err != nil {
			errs = append(errs, err)
		}
	}
	if err := unmountUnder(c.dir); err != nil {
		errs = append(errs, err)
	}
	if c.ownDir {
		if err := os.RemoveAll(c.dir); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("cluster: close: %w", err)
	}
	return nil
}
