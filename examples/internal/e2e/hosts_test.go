//go:build linux

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/embed"

	"github.com/gleaner/gleaner/examples/demo/cluster"
	"github.com/gleaner/gleaner/examples/internal/agent"
	"github.com/gleaner/gleaner/examples/internal/api"
	"github.com/gleaner/gleaner/examples/internal/auth"
	"github.com/gleaner/gleaner/examples/internal/auth/authtest"
	"github.com/gleaner/gleaner/examples/internal/master"
	"github.com/gleaner/gleaner/internal/etcdtest"
	"github.com/gleaner/gleaner/internal/pki"
	"github.com/gleaner/gleaner/internal/pki/pkitest"
	"github.com/gleaner/gleaner/internal/testenv"
	"github.com/gleaner/gleaner/isolate"
)

// hosts is a cluster spread over simulated machines: etcd and the masters
// run on the test's side of a bridge, each agent in its own network
// namespace behind it; masters and agents are separate processes (this
// test binary, re-executed) so that a test can kill one outright and start
// it again, as a machine failure or an operator would.
type hosts struct {
	t          *testing.T
	srv        *etcdtest.Server
	net        *network
	etcd       string // etcd's endpoint on the bridge
	prefix     string
	cgroupRoot string
	dir        string
	masters    []*proc
	agents     map[string]*proc
	specs      map[string]cluster.AgentSpec
	machines   map[string]host
}

// proc is one re-executed part of the cluster.
type proc struct {
	cmd  *exec.Cmd
	url  string // a master's URL
	done chan struct{}
	err  error
}

// roleConfig is what a re-executed master or agent is told, as JSON in
// roleConfigEnv.
type roleConfig struct {
	ID         string
	Listen     string
	Etcd       []string
	Prefix     string
	Masters    []string
	Agent      cluster.AgentSpec
	Dir        string
	CgroupRoot string
	Interval   time.Duration
	TLS        pki.Files // the master's or agent's identity
}

const roleConfigEnv = "GLEANER_E2E_CONFIG"

// newHosts starts etcd listening on the bridge and n masters as processes.
func newHosts(t *testing.T, masters int) *hosts {
	t.Helper()
	testenv.RequireCgroupV1(t, "cpu", "memory")
	n := newNetwork(t)
	l, err := net.Listen("tcp", n.Addr()+":0")
	if err != nil {
		t.Fatal(err)
	}
	bridgeURL := url.URL{Scheme: "https", Host: l.Addr().String()}
	l.Close()
	srv := etcdtest.Start(t, func(cfg *embed.Config) {
		cfg.ListenClientUrls = append(cfg.ListenClientUrls, bridgeURL)
	})
	h := &hosts{srv: srv,
		t: t, net: n, etcd: bridgeURL.String(), prefix: "/" + uniqueName("hosts"),
		cgroupRoot: "/" + uniqueName("cg"), dir: t.TempDir(),
		agents: map[string]*proc{}, specs: map[string]cluster.AgentSpec{}, machines: map[string]host{},
	}
	t.Cleanup(h.close)
	// The framework's cluster reads etcd as its admin.
	authtest.Etcd(t, srv, h.prefix, cluster.Admin)
	for i := range masters {
		id := fmt.Sprintf("master-%d", i+1)
		p := auth.Principal{Kind: auth.KindMaster, Name: id}
		authtest.Etcd(t, srv, h.prefix, p)
		h.masters = append(h.masters, h.start(nil, roleConfig{
			ID: id, Listen: n.Addr() + ":0",
			Etcd: []string{h.etcd}, Prefix: h.prefix, Interval: interval,
			TLS: authtest.Files(t, p, n.Addr()),
		}, "master"))
	}
	return h
}

// client is a client of the given masters as the cluster's admin.
func (h *hosts) client(masters ...string) *api.Client {
	return api.NewClient(masters, api.WithHTTPClient(authtest.Client(h.t, cluster.Admin, auth.KindMaster)))
}

// MasterURLs are the masters' URLs, in start order.
func (h *hosts) MasterURLs() []string {
	var out []string
	for _, m := range h.masters {
		out = append(out, m.url)
	}
	return out
}

// framework starts the framework in the test process against the masters
// (a cluster without masters or agents of its own).
func (h *hosts) framework() *cluster.Cluster {
	h.t.Helper()
	return startCluster(h.t, cluster.Config{
		MasterURLs: h.MasterURLs(), Etcd: []string{h.etcd}, Prefix: h.prefix,
		CgroupRoot: h.cgroupRoot, Agents: []cluster.AgentSpec{}, CA: pkitest.CA(h.t),
	})
}

// startAgent starts (or restarts) an agent in its own machine.
func (h *hosts) startAgent(spec cluster.AgentSpec) {
	h.t.Helper()
	m, ok := h.machines[spec.ID]
	if !ok {
		m = h.net.addHost(h.t)
		h.machines[spec.ID] = m
	}
	if old, ok := h.specs[spec.ID]; ok {
		spec.BusinessCgroup = old.BusinessCgroup
	} else {
		idleBusiness(h.t, &spec)
		// Cleanups run last-registered first: stop the agents before this
		// host's namespace and business cgroup, registered above, go.
		h.t.Cleanup(h.stopAgents)
	}
	h.specs[spec.ID] = spec
	p := cluster.AgentPrincipal(spec.ID)
	authtest.Etcd(h.t, h.srv, h.prefix, p)
	h.agents[spec.ID] = h.start(&m, roleConfig{
		ID: spec.ID, Etcd: []string{h.etcd}, Prefix: h.prefix, Masters: h.MasterURLs(), TLS: authtest.Files(h.t, p),
		Agent: spec, Dir: filepath.Join(h.dir, spec.ID), CgroupRoot: h.cgroupRoot, Interval: interval,
	}, "agent")
}

// kill kills p at once (SIGKILL) and waits for it.
func (p *proc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

func (h *hosts) start(m *host, cfg roleConfig, role string) *proc {
	h.t.Helper()
	b, err := json.Marshal(cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	var cmd *exec.Cmd
	if m != nil {
		cmd = h.net.Command(*m, os.Args[0])
	} else {
		cmd = exec.Command(os.Args[0])
	}
	cmd.Env = append(os.Environ(), roleEnv+"="+role, roleConfigEnv+"="+string(b))
	logFile, err := os.Create(filepath.Join(h.dir, fmt.Sprintf("%s-%d.log", cfg.ID, time.Now().UnixNano())))
	if err != nil {
		h.t.Fatal(err)
	}
	cmd.Stderr = logFile
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		h.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "url "); ok {
				ready <- u
			}
		}
		close(ready)
	}()
	go func() {
		p.err = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	select {
	case u, ok := <-ready:
		if !ok {
			<-p.done
			log, _ := os.ReadFile(logFile.Name())
			h.t.Fatalf("%s %s exited before it was ready: %v\n%s", role, cfg.ID, p.err, log)
		}
		p.url = u
	case <-time.After(30 * time.Second):
		// Not yet in h.masters or h.agents, so close would not stop it.
		p.kill()
		h.t.Fatalf("%s %s not ready after 30s", role, cfg.ID)
	}
	return p
}

// close stops every process: agents with SIGTERM (they kill their tasks
// and remove their cgroups), then masters; logs are shown if the test
// failed.
func (h *hosts) close() {
	h.stopAgents()
	for _, p := range h.masters {
		p.kill()
	}
	if iso, err := isolate.New(isolate.WithParent(h.cgroupRoot)); err == nil {
		if err := iso.Destroy(context.Background()); err != nil {
			h.t.Errorf("removing %s: %v", h.cgroupRoot, err)
		}
	}
	if h.t.Failed() {
		logs, _ := filepath.Glob(filepath.Join(h.dir, "*.log"))
		for _, l := range logs {
			b, _ := os.ReadFile(l)
			h.t.Logf("%s:\n%s", filepath.Base(l), b)
		}
	}
}

// stopAgents stops every agent with SIGTERM (they kill their tasks and
// remove their cgroups), or SIGKILL after 20 s; agents already stopped are
// left alone.
func (h *hosts) stopAgents() {
	for _, p := range h.agents {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	for _, p := range h.agents {
		select {
		case <-p.done:
		case <-time.After(20 * time.Second):
			p.kill()
		}
	}
}

// runMaster and runAgent are the re-executed roles: they run until SIGTERM
// (or die by SIGKILL) and print "url <URL>" once they serve.
func runMaster() error {
	cfg, err := readRoleConfig()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	id, err := auth.LoadTLS(cfg.TLS)
	if err != nil {
		return err
	}
	cli, err := auth.NewEtcdClient(cfg.Etcd, id)
	if err != nil {
		return err
	}
	defer cli.Close()
	m, err := master.New(master.Config{
		TLS: id, ACL: cluster.Policy(),
		Etcd: cli, Prefix: cfg.Prefix, ID: cfg.ID, Listen: cfg.Listen,
		AllocationInterval: cfg.Interval, ReportInterval: cfg.Interval,
		SessionTTL: 2 * time.Second, AgentGrace: 20 * cfg.Interval,
	})
	if err != nil {
		return err
	}
	fmt.Println("url", m.URL())
	return m.Run(ctx)
}

func runAgent() error {
	cfg, err := readRoleConfig()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	acfg, err := cluster.AgentConfig(cfg.Agent, cfg.Dir, cfg.Masters, cfg.Etcd, cfg.Prefix, cfg.CgroupRoot, cfg.Interval)
	if err != nil {
		return err
	}
	if acfg.TLS, err = auth.LoadTLS(cfg.TLS); err != nil {
		return err
	}
	fmt.Println("url agent")
	err = agent.Run(ctx, acfg)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

func readRoleConfig() (roleConfig, error) {
	var cfg roleConfig
	err := json.Unmarshal([]byte(os.Getenv(roleConfigEnv)), &cfg)
	return cfg, err
}
