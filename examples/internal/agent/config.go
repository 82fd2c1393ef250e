//go:build linux

package agent

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/gleaner/gleaner/attrs"
	"github.com/gleaner/gleaner/examples/internal/auth"
	"github.com/gleaner/gleaner/offer"
	"github.com/gleaner/gleaner/reserve"
	"github.com/gleaner/gleaner/rootfs"
)

// Isolation choices for Config.Isolation.
const (
	// IsolationAuto isolates every task (cgroups, its own root, an
	// unprivileged user, the rootfs sandbox); where the host does not
	// allow that, the agent fails closed: it lends nothing, runs no task
	// and says why.
	IsolationAuto = "auto"
	// IsolationNone runs tasks as plain child processes on the host's file
	// system, by the operator's explicit choice, which the agent reports
	// (the master shows it on the dashboard).
	IsolationNone = "none"
)

// Defaults used when a Config field is zero.
const (
	DefaultInterval       = time.Second // the agent command's -interval too
	defaultReportInterval = time.Second
	defaultDiskInterval   = 5 * time.Second
	defaultKillGrace      = 3 * time.Second
	// defaultPorts is the ports resource an agent offers, as Mesos's
	// default.
	defaultPorts       = "[31000-32000]"
	defaultBaseName    = "base"
	defaultBaseVersion = "1"
	// defaultRetention is how long a task that ended stays listed when no
	// master takes its final status.
	defaultRetention = 5 * time.Minute
	// defaultGrowAfter is how long the estimate must stay higher before the
	// reservation grows.
	defaultGrowAfter   = 30 * time.Second
	defaultTaskUser    = "nobody"
	defaultTaskPidsMax = 1024
)

// ErrInvalid reports a bad configuration or request; the error names the
// field and the value.
var ErrInvalid = errors.New("agent: invalid")

// ErrRestart, as the cause of Run's context (context.WithCancelCause), makes
// the agent exit leaving its tasks running, for the next agent on the same
// directory to adopt.
var ErrRestart = errors.New("agent: restart, keep tasks running")

// Config is everything the agent needs. Only Dir is required.
type Config struct {
	// Dir holds all the agent's files: state, sandboxes, bases, cache.
	Dir string
	// ID names the agent to the master and in etcd; default: the agent ID
	// in the TLS certificate, else the host name. With TLS it must be the
	// certificate's.
	ID string
	// Hostname is reported to the master; default: the host name.
	Hostname string
	// Listen is the address of the agent's HTTPS endpoint (/tasks,
	// /metrics, /healthz); default "127.0.0.1:0".
	Listen string
	// TLS is the agent's identity, a certificate naming agent/<ID>: it
	// authenticates the agent to the masters and etcd (as etcd user
	// agent/<ID>), and serves Listen, which takes operators' and masters'
	// certificates of the same CA. Required unless Insecure.
	TLS *auth.TLS
	// Insecure speaks plaintext to the masters and etcd and on Listen,
	// authenticating nobody.
	Insecure bool
	// OperatorSocket is the unix socket of GET and PUT /reservation
	// (default <Dir>/operator/agent.sock): it is in a directory of mode
	// 0700 and answers only root and the agent's own user, so tasks, which
	// run as other users, cannot lend the machine.
	OperatorSocket string

	// Masters are the masters' base URLs; none runs the agent standalone.
	Masters []string
	// EtcdClient, or else Etcd endpoints, is the etcd holding attributes and
	// liveness; neither runs without attributes from etcd.
	EtcdClient *clientv3.Client
	Etcd       []string
	// EtcdPrefix is the cluster's key prefix (default attrs.DefaultPrefix).
	EtcdPrefix string
	// Attributes are the agent's attributes in Mesos text
	// ("rack:r1;zone:east"). With etcd they are written there at the
	// agent's first start, for names etcd does not have yet, and etcd is
	// authoritative from then on; without etcd they are the attributes.
	Attributes string
	// LeaseTTL is the liveness lease's TTL (default attrs.DefaultLeaseTTL).
	LeaseTTL time.Duration

	// Capacity bounds what the agent considers the machine's resources, in
	// Mesos text ("cpus:2;mem:4096;disk:10240", MB for mem and disk), like
	// Mesos's --resources; resources left out are the host's.
	Capacity string
	// BusinessCgroup, when set, is a cgroup (path relative to the
	// hierarchies' roots, e.g. "/business") whose CPU and memory usage is
	// taken as the business's, instead of the host's usage minus Gleaner's
	// own. It is for demos and tests on hosts that also run other work that
	// must not count as business.
	BusinessCgroup string
	// CgroupRoot is where cgroups are mounted (default /sys/fs/cgroup).
	CgroupRoot string
	// Interval is the sampling interval (default 1 s).
	Interval time.Duration
	// ReportInterval is how often the agent reports to the master, unless
	// the master asks for another (default 1 s).
	ReportInterval time.Duration
	// Policy and Hysteresis estimate the reservation (default
	// reserve.DefaultPolicy, and reserve.DefaultHysteresis growing after
	// 30 s rather than 15 minutes, so that a new agent lends
	// within a minute).
	Policy     reserve.Policy
	Hysteresis *reserve.Hysteresis
	// QoS decides throttles and evictions.
	QoS reserve.QoS

	// Isolation is IsolationAuto (default) or IsolationNone.
	Isolation string
	// CgroupParent is the parent cgroup of the agent's tasks (default
	// "/gleaner-<ID>").
	CgroupParent string
	// LaunchMode says how tasks enter their roots (default rootfs.ModeAuto:
	// pivot_root where possible, else chroot).
	LaunchMode rootfs.LaunchMode
	// BaseName and BaseVersion name the base root file system tasks without
	// an image run on (default "base", "1"). When missing it is made from
	// the host's own BasePrograms (default: sh, sleep, true and the usual
	// tools, and busybox's applets for the rest when the host has busybox)
	// and their libraries with patchelf.Bundle: no package needed.
	BaseName, BaseVersion string
	BasePrograms          []string
	// InitHelper is the launch helper (rootfs/cmd/gleaner-init); default
	// bin/gleaner-init in Dir, as the install puts it, else the one next
	// to the agent's binary, else the agent re-executes itself (slower).
	InitHelper string

	// TaskUser runs tasks that name no user (default "nobody"): a host
	// user name or "uid[:gid]". Every such task then shares that user with
	// the others and with whatever of the host runs as it: in chroot mode,
	// which shares the host's PID namespace, a task can signal and trace
	// their processes. TaskUIDs closes that.
	TaskUser string
	// TaskUIDs, when set, is a range of host user IDs that no account of
	// the machine uses, reserved by the operator (as for systemd's
	// DynamicUser): a task that names no user runs as an ID of the range
	// of its own (group: the same number), held until its processes are
	// gone, instead of as TaskUser; so does the host side of a root task
	// mapped into a user namespace. No host process and no other task then
	// shares a task's user. Default: unset.
	TaskUIDs UIDRange
	// RootRoles are the framework roles whose tasks may run as the host's
	// root (a user of UID 0); "*" allows every role. Default none: a task
	// of another role asking for root runs as root inside a user namespace
	// of its own that is TaskUser on the host (pivot_root mode, where the
	// kernel has user namespaces), and fails with the reason elsewhere.
	RootRoles []string
	// TaskPidsMax caps each task's processes and threads (pids.max;
	// default 1024): a fork bomb stops there.
	TaskPidsMax int64
	// FetchFileDirs are the host directories a task's file:// URIs (image
	// or fetch) may name files in; none by default, so a task cannot read
	// the host's files ("file:///etc/shadow").
	FetchFileDirs []string
	// FetchS3Buckets are the buckets the agent's S3 credentials (from the
	// AWS environment) are used for; a task's s3:// URI for any other
	// bucket is fetched anonymously.
	FetchS3Buckets []string
	// DiskInterval is how often sandboxes are measured (default 5 s).
	DiskInterval time.Duration
	// KillGrace is how long a killed task has between SIGTERM and SIGKILL,
	// unless its launch or the kill says otherwise.
	KillGrace time.Duration
	// Ports are the host ports the agent offers, as Mesos ranges
	// ("[31000-32000]", the default defaultPorts; "[]" offers none).
	// Tasks get theirs in PORT0..N; the agent lends them whatever the
	// reservation, as they cost the business nothing.
	Ports string
	// Retention bounds how long ended tasks are kept when no master takes
	// their final status (default 5 min).
	Retention time.Duration
	// LogMaxBytes bounds what each of a task's stdout and stderr keeps in
	// its sandbox: the current file and the one rotated out before it
	// (default 8 MiB).
	LogMaxBytes int64
	// SandboxRetention is how long the sandbox of an ended task is kept
	// (Mesos's gc_delay; default 24 h), and SandboxDiskWatermark the
	// fraction of the disk holding Dir above which kept sandboxes go
	// sooner, oldest first (default 0.9).
	SandboxRetention     time.Duration
	SandboxDiskWatermark float64

	// Logger receives the agent's logs (default: discarded).
	Logger *slog.Logger
}

// withDefaults returns c with zero fields filled in, or an error naming a bad
// field.
func (c Config) withDefaults() (Config, error) {
	if c.Dir == "" {
		return c, fmt.Errorf("%w: Config.Dir is empty", ErrInvalid)
	}
	dir, err := filepath.Abs(c.Dir)
	if err != nil {
		return c, fmt.Errorf("%w: Config.Dir %q: %w", ErrInvalid, c.Dir, err)
	}
	c.Dir = dir
	switch {
	case c.TLS == nil && !c.Insecure:
		return c, fmt.Errorf("%w: %w: Config.TLS is required (or Insecure for plaintext)", ErrInvalid, auth.ErrNoTLS)
	case c.TLS != nil && c.Insecure:
		return c, fmt.Errorf("%w: Config.TLS and Config.Insecure: choose one", ErrInvalid)
	case c.TLS != nil:
		p := c.TLS.Principal()
		if p.Kind != auth.KindAgent {
			return c, fmt.Errorf("%w: Config.TLS: certificate %s names %s, not agent/<id>", ErrInvalid, c.TLS.Files().Cert, p)
		}
		if c.ID == "" {
			c.ID = p.Name
		}
		if c.ID != p.Name {
			return c, fmt.Errorf("%w: Config.ID %q: the certificate is agent %q's; an agent acts only as the ID in its certificate", ErrInvalid, c.ID, p.Name)
		}
	}
	host, _ := os.Hostname()
	if c.Hostname == "" {
		c.Hostname = host
	}
	if c.ID == "" {
		c.ID = c.Hostname
	}
	if err := attrs.ValidateName(c.ID); err != nil {
		return c, fmt.Errorf("%w: Config.ID %q: %w", ErrInvalid, c.ID, err)
	}
	if c.Listen == "" {
		c.Listen = "127.0.0.1:0"
	}
	if c.OperatorSocket == "" {
		c.OperatorSocket = DefaultOperatorSocket(c.Dir)
	}
	if c.EtcdPrefix == "" {
		c.EtcdPrefix = attrs.DefaultPrefix
	}
	if _, err := attrs.Parse(c.Attributes); err != nil {
		return c, fmt.Errorf("%w: Config.Attributes %q: %w", ErrInvalid, c.Attributes, err)
	}
	if _, err := parseCapacity(c.Capacity); err != nil {
		return c, fmt.Errorf("%w: Config.Capacity: %w", ErrInvalid, err)
	}
	if c.Ports == "" {
		c.Ports = defaultPorts
	}
	if _, err := offer.ParseResources("ports:" + c.Ports); err != nil {
		return c, fmt.Errorf("%w: Config.Ports %q: %w", ErrInvalid, c.Ports, err)
	}
	durations := []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"Interval", &c.Interval, DefaultInterval},
		{"ReportInterval", &c.ReportInterval, defaultReportInterval},
		{"DiskInterval", &c.DiskInterval, defaultDiskInterval},
		{"KillGrace", &c.KillGrace, defaultKillGrace},
		{"Retention", &c.Retention, defaultRetention},
		{"SandboxRetention", &c.SandboxRetention, defaultSandboxRetention},
		{"LeaseTTL", &c.LeaseTTL, attrs.DefaultLeaseTTL},
	}
	for _, d := range durations {
		if *d.v < 0 {
			return c, fmt.Errorf("%w: Config.%s %v is negative", ErrInvalid, d.name, *d.v)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	switch {
	case c.LogMaxBytes < 0:
		return c, fmt.Errorf("%w: Config.LogMaxBytes %d is negative", ErrInvalid, c.LogMaxBytes)
	case c.LogMaxBytes == 0:
		c.LogMaxBytes = defaultLogMaxBytes
	}
	switch w := c.SandboxDiskWatermark; {
	case w == 0:
		c.SandboxDiskWatermark = defaultDiskWatermark
	case !(w > 0 && w <= 1):
		return c, fmt.Errorf("%w: Config.SandboxDiskWatermark %v: want a fraction in (0, 1]", ErrInvalid, w)
	}
	if c.Policy == nil {
		c.Policy = reserve.DefaultPolicy()
	}
	if c.Hysteresis == nil {
		h := reserve.DefaultHysteresis()
		h.GrowAfter = defaultGrowAfter
		c.Hysteresis = &h
	}
	switch c.Isolation {
	case "":
		c.Isolation = IsolationAuto
	case IsolationAuto, IsolationNone:
	default:
		return c, fmt.Errorf("%w: Config.Isolation %q: want %q or %q", ErrInvalid, c.Isolation, IsolationAuto, IsolationNone)
	}
	if c.CgroupParent == "" {
		c.CgroupParent = "/gleaner-" + c.ID
	}
	if c.BaseName == "" {
		c.BaseName = defaultBaseName
	}
	if c.BaseVersion == "" {
		c.BaseVersion = defaultBaseVersion
	}
	if c.CgroupRoot == "" {
		c.CgroupRoot = "/sys/fs/cgroup"
	}
	if c.BasePrograms == nil {
		c.BasePrograms = defaultBasePrograms
	}
	if c.InitHelper == "" {
		c.InitHelper = filepath.Join(c.Dir, "bin", rootfs.HelperName)
		if _, err := os.Stat(c.InitHelper); err != nil {
			c.InitHelper = "" // rootfs's default: next to the binary, else itself
		}
	}
	if c.TaskUser == "" {
		c.TaskUser = defaultTaskUser
	}
	if err := c.TaskUIDs.validate(); err != nil {
		return c, fmt.Errorf("Config.TaskUIDs: %w", err)
	}
	if c.TaskPidsMax == 0 {
		c.TaskPidsMax = defaultTaskPidsMax
	}
	if c.TaskPidsMax < 0 {
		return c, fmt.Errorf("%w: Config.TaskPidsMax %d is negative", ErrInvalid, c.TaskPidsMax)
	}
	for _, d := range c.FetchFileDirs {
		if !filepath.IsAbs(d) {
			return c, fmt.Errorf("%w: Config.FetchFileDirs %q: want absolute directories", ErrInvalid, d)
		}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// DefaultOperatorSocket is the operator socket of an agent in dir when
// Config.OperatorSocket is not set.
func DefaultOperatorSocket(dir string) string { return filepath.Join(dir, "operator", "agent.sock") }

// Paths inside Config.Dir.
func (c Config) stateDir() string   { return filepath.Join(c.Dir, "state", "tasks") }
func (c Config) sandboxDir() string { return filepath.Join(c.Dir, "sandboxes") }
func (c Config) basesDir() string   { return filepath.Join(c.Dir, "bases") }
func (c Config) cacheDir() string   { return filepath.Join(c.Dir, "cache") }
func (c Config) overrideFile() string {
	return filepath.Join(c.Dir, "state", "reservation.json")
}

// estimateFile keeps the last published estimate, restored by the next agent
// on the same directory.
func (c Config) estimateFile() string {
	return filepath.Join(c.Dir, "state", "estimate.json")
}
