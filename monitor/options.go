package monitor

import (
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Defaults used when an option is not given.
const (
	DefaultInterval = time.Second
	DefaultHistory  = 300
)

// A SamplerOption configures NewSampler. Every HostOption is also a
// SamplerOption, for the host the Sampler reads.
type SamplerOption interface {
	applySampler(*config)
}

// A HostOption configures NewHost and NewSampler: where the host is read
// from and what of it is reported.
type HostOption interface {
	SamplerOption
	applyHost(*config)
}

type hostOption func(*config)

func (o hostOption) applyHost(c *config)    { o(c) }
func (o hostOption) applySampler(c *config) { o(c) }

type samplerOption func(*config)

func (o samplerOption) applySampler(c *config) { o(c) }

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

func defaultConfig() *config {
	return &config{
		procRoot: "/proc",
		sysRoot:  "/sys",
		mounts:   []string{"/"},
		interval: DefaultInterval,
		history:  DefaultHistory,
		logger:   slog.New(slog.DiscardHandler),
	}
}

// err returns the first bad option value the options recorded.
func (c *config) err() error {
	if len(c.bad) > 0 {
		return c.bad[0]
	}
	return nil
}

// invalid records a bad option value, for the constructor to return:
// "monitor: invalid input: WithInterval(0s): must be positive".
func (c *config) invalid(option string, value any, reason string) {
	if s, ok := value.(string); ok {
		value = strconv.Quote(s)
	}
	c.bad = append(c.bad, fmt.Errorf("%w: %s(%v): %s", ErrInvalid, option, value, reason))
}

// WithProcRoot reads /proc from dir instead (a fixture tree, or a host's
// /proc mounted elsewhere). NewHost and NewSampler take it.
func WithProcRoot(dir string) HostOption {
	return hostOption(func(c *config) {
		if dir == "" {
			c.invalid("WithProcRoot", dir, "must name a directory")
		}
		c.procRoot = dir
	})
}

// WithSysRoot reads /sys from dir instead. NewHost and NewSampler take it.
func WithSysRoot(dir string) HostOption {
	return hostOption(func(c *config) {
		if dir == "" {
			c.invalid("WithSysRoot", dir, "must name a directory")
		}
		c.sysRoot = dir
	})
}

// WithMounts sets the mount points whose space is reported (default "/").
// No arguments reports none. A mount point that cannot be statted fails
// the sample, like an unreadable /proc file. NewHost and NewSampler take
// it.
func WithMounts(points ...string) HostOption {
	return hostOption(func(c *config) {
		for i, p := range points {
			switch {
			case p == "":
				c.invalid("WithMounts", p, "must name a mount point")
			case slices.Contains(points[:i], p):
				// Two series with the same labels: the Collector's
				// scrape would fail.
				c.invalid("WithMounts", p, "given twice")
			}
		}
		c.mounts = points
	})
}

// WithDisks sets the block devices whose I/O rates are reported, by
// /proc/diskstats name ("vda", "nvme0n1"). By default every device in
// /sys/block except loop and ram devices is reported. NewHost and
// NewSampler take it.
func WithDisks(names ...string) HostOption {
	return hostOption(func(c *config) {
		for _, n := range names {
			if n == "" || strings.Contains(n, "/") {
				c.invalid("WithDisks", n, "must be a device name such as vda")
			}
		}
		c.disks = names
	})
}

// WithInterval sets how often the sampler reads (default 1 s). NewSampler
// takes it.
func WithInterval(d time.Duration) SamplerOption {
	return samplerOption(func(c *config) {
		if d <= 0 {
			c.invalid("WithInterval", d, "must be positive")
		}
		c.interval = d
	})
}

// WithHistory sets how many samples the ring buffer keeps (default 300).
// NewSampler takes it.
func WithHistory(n int) SamplerOption {
	return samplerOption(func(c *config) {
		if n < 1 {
			c.invalid("WithHistory", n, "must be at least 1")
		}
		c.history = n
	})
}

// WithLogger sets where sampling errors are logged (default: nowhere).
// NewSampler takes it.
func WithLogger(l *slog.Logger) SamplerOption {
	return samplerOption(func(c *config) {
		if l != nil {
			c.logger = l
		}
	})
}

// WithProcessTree makes the sampler measure Gleaner's own usage as the
// process pid and all its descendants. NewSampler takes it; it excludes
// WithCgroup.
func WithProcessTree(pid int) SamplerOption {
	return samplerOption(func(c *config) {
		if pid <= 0 {
			c.invalid("WithProcessTree", pid, "must be a process ID")
		}
		c.treePID = pid
	})
}

// WithCgroup makes the sampler measure Gleaner's own usage as the cgroup at
// path (relative to the cgroup mount, for example "/gleaner"). Cgroup v2 is
// used when the cgroup root holds cgroup.controllers, otherwise the v1
// cpuacct and memory hierarchies are. NewSampler takes it; it excludes
// WithProcessTree.
func WithCgroup(path string) SamplerOption {
	return samplerOption(func(c *config) {
		if path == "" {
			c.invalid("WithCgroup", path, "must name a cgroup")
		}
		c.cgroupPath = path
	})
}

// WithCgroupRoot sets where cgroups are mounted for WithCgroup (default
// <sys root>/fs/cgroup). On a hybrid host, pass the unified mount
// (/sys/fs/cgroup/unified) to use cgroup v2. NewSampler takes it.
func WithCgroupRoot(dir string) SamplerOption {
	return samplerOption(func(c *config) {
		if dir == "" {
			c.invalid("WithCgroupRoot", dir, "must name a directory")
		}
		c.cgroupRoot = dir
	})
}
