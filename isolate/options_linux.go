package isolate

import (
	"log/slog"
	"time"
)

// An IsolatorOption configures New.
type IsolatorOption interface {
	applyIsolator(*isolatorConfig)
}

// A DiskWatcherOption configures NewDiskWatcher.
type DiskWatcherOption interface {
	applyDiskWatcher(*diskWatcherConfig)
}

// An Option configures both New and NewDiskWatcher.
type Option interface {
	IsolatorOption
	DiskWatcherOption
}

type isolatorConfig struct {
	parent     string
	parentErr  error
	fallback   bool
	logger     *slog.Logger
	features   *Features
	parentPids int64
}

type diskWatcherConfig struct {
	interval time.Duration
	budget   int
	logger   *slog.Logger
}

type isolatorOption func(*isolatorConfig)

func (o isolatorOption) applyIsolator(c *isolatorConfig) { o(c) }

type diskWatcherOption func(*diskWatcherConfig)

func (o diskWatcherOption) applyDiskWatcher(c *diskWatcherConfig) { o(c) }

// WithParent sets the parent cgroup, relative to every hierarchy's root,
// e.g. "/gleaner" or "/agents/gleaner" (default DefaultParent). New takes
// it.
func WithParent(parent string) IsolatorOption {
	return isolatorOption(func(c *isolatorConfig) {
		c.parent, c.parentErr = validateParent(parent)
	})
}

// WithSoftCPUFallback lets a Hard CPU request fall back to shares where the
// kernel lacks CFS bandwidth control. The task then reports CPUMode() ==
// Soft and CPUFallback() == true. Without it such a request fails with
// ErrNotSupported. New takes it.
func WithSoftCPUFallback() IsolatorOption {
	return isolatorOption(func(c *isolatorConfig) { c.fallback = true })
}

// withFeatures replaces detection, for tests that pretend a kernel lacks
// something.
func withFeatures(f Features) IsolatorOption {
	return isolatorOption(func(c *isolatorConfig) { c.features = &f })
}

// WithDiskInterval sets how often the watcher works (default
// DefaultDiskInterval). NewDiskWatcher takes it.
func WithDiskInterval(d time.Duration) DiskWatcherOption {
	return diskWatcherOption(func(c *diskWatcherConfig) { c.interval = d })
}

// WithDiskBudget bounds the directory entries examined per tick, across
// all tasks (default DefaultDiskBudget); a sandbox larger than that is
// measured over several ticks. NewDiskWatcher takes it.
func WithDiskBudget(entries int) DiskWatcherOption {
	return diskWatcherOption(func(c *diskWatcherConfig) { c.budget = entries })
}

// WithLogger sets the logger (default: discard). New and NewDiskWatcher
// take it.
func WithLogger(l *slog.Logger) Option { return loggerOption{l} }

type loggerOption struct{ l *slog.Logger }

func (o loggerOption) applyIsolator(c *isolatorConfig) {
	if o.l != nil {
		c.logger = o.l
	}
}

func (o loggerOption) applyDiskWatcher(c *diskWatcherConfig) {
	if o.l != nil {
		c.logger = o.l
	}
}

// WithParentPidsMax caps the processes and threads of all tasks together
// in the parent cgroup's pids.max (default DefaultParentPidsMax). New
// takes it.
func WithParentPidsMax(n int64) IsolatorOption {
	return isolatorOption(func(c *isolatorConfig) { c.parentPids = n })
}
