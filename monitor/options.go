package monitor

import (
	"fmt"
	"log/slog"
	"slices"
	"time"
)

// Defaults used when an option is not given.
const (
	DefaultInterval = time.Second
	DefaultHistory  = 300
)

// An Option configures NewHost or NewSampler. Options that concern only the
// sampler loop (interval, history, logger, own-usage targets) are ignored
// by NewHost.
type Option func(*config)

type config struct {
	procRoot   string
	sysRoot    string
	mounts     []string
	disks      []string
	interval   time.Duration
	history    int
	logger     *slog.Logger
	treePID    int
	cgroupPath string
	cgroupRoot string
	bad        []error
}

func newConfig(opts []Option) (*config, error) {
	c := &config{
		procRoot: "/proc",
		sysRoot:  "/sys",
		mounts:   []string{"/"},
		interval: DefaultInterval,
		history:  DefaultHistory,
		logger:   slog.New(slog.DiscardHandler),
	}
	for _, o := range opts {
		o(c)
	}
	if len(c.bad) > 0 {
		return nil, c.bad[0]
	}
	return c, nil
}

func (c *config) invalid(field string, value any) {
	c.bad = append(c.bad, fmt.Errorf("%w: option %s: %v", ErrInvalid, field, value))
}

// WithProcRoot reads /proc from dir instead (a fixture tree, or a host's
// /proc mounted elsewhere).
func WithProcRoot(dir string) Option {
	return func(c *config) {
		if dir == "" {
			c.invalid("proc root", `""`)
		}
		c.procRoot = dir
	}
}

// WithSysRoot reads /sys from dir instead.
func WithSysRoot(dir string) Option {
	return func(c *config) {
		if dir == "" {
			c.invalid("sys root", `""`)
		}
		c.sysRoot = dir
	}
}

// WithMounts sets the mount points whose space is reported (default "/").
// No arguments reports none. A mount point that cannot be statted fails
// the sample, like an unreadable /proc file.
func WithMounts(points ...string) Option {
	return func(c *config) {
		for i, p := range points {
			switch {
			case p == "":
				c.invalid("mount point", `""`)
			case slices.Contains(points[:i], p):
				// Two series with the same labels: the Collector's
				// scrape would fail.
				c.invalid("mount point (given twice)", p)
			}
		}
		c.mounts = points
	}
}

// WithDisks sets the block devices whose I/O rates are reported, by
// /proc/diskstats name ("vda", "nvme0n1"). By default every device in
// /sys/block except loop and ram devices is reported.
func WithDisks(names ...string) Option {
	return func(c *config) { c.disks = names }
}

// WithInterval sets how often the sampler reads (default 1 s).
func WithInterval(d time.Duration) Option {
	return func(c *config) {
		if d <= 0 {
			c.invalid("interval", d)
		}
		c.interval = d
	}
}

// WithHistory sets how many samples the ring buffer keeps (default 300).
func WithHistory(n int) Option {
	return func(c *config) {
		if n < 1 {
			c.invalid("history", n)
		}
		c.history = n
	}
}

// WithLogger sets where sampling errors are logged (default: nowhere).
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.logger = l
		}
	}
}

// WithProcessTree makes the sampler measure Gleaner's own usage as the
// process pid and all its descendants.
func WithProcessTree(pid int) Option {
	return func(c *config) {
		if pid <= 0 {
			c.invalid("process tree pid", pid)
		}
		c.treePID = pid
	}
}

// WithCgroup makes the sampler measure Gleaner's own usage as the cgroup at
// path (relative to the cgroup mount, for example "/gleaner"). Cgroup v2 is
// used when the cgroup root holds cgroup.controllers, otherwise the v1
// cpuacct and memory hierarchies are.
func WithCgroup(path string) Option {
	return func(c *config) {
		if path == "" {
			c.invalid("cgroup path", `""`)
		}
		c.cgroupPath = path
	}
}

// WithCgroupRoot sets where cgroups are mounted (default <sys
// root>/fs/cgroup). On a hybrid host, pass the unified mount
// (/sys/fs/cgroup/unified) to use cgroup v2.
func WithCgroupRoot(dir string) Option {
	return func(c *config) {
		if dir == "" {
			c.invalid("cgroup root", `""`)
		}
		c.cgroupRoot = dir
	}
}
