package isolate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
)

// DefaultParent is the parent cgroup's path when WithParent is not given.
const DefaultParent = "/gleaner"

// Isolator owns the parent cgroup and the task cgroups under it. It is safe
// for concurrent use. It starts no goroutines.
type Isolator struct {
	feat     Features
	parent   string
	fallback bool
	log      *slog.Logger

	mu            sync.Mutex
	pg            group
	parentQuotaUs int64 // the parent's CFS quota, -1 when unlimited
	tasks         map[string]*Task
}

// New detects the host's cgroup features and creates the parent cgroup, or
// adopts it if it exists (its limits are kept until the next Resize). A bad
// option value gives a *FieldError naming the option.
func New(opts ...IsolatorOption) (*Isolator, error) {
	c := isolatorConfig{parent: DefaultParent, logger: slog.New(slog.DiscardHandler), parentPids: DefaultParentPidsMax}
	for _, o := range opts {
		o.applyIsolator(&c)
	}
	if c.parentErr != nil {
		return nil, c.parentErr
	}
	if c.parentPids <= 0 {
		return nil, invalid("WithParentPidsMax", c.parentPids, "must be positive")
	}
	if c.features == nil {
		f, err := Detect()
		if err != nil {
			return nil, err
		}
		c.features = &f
	}
	feat := *c.features
	if feat.Mode.Version() == 0 {
		return nil, fmt.Errorf("%w: no cgroup file system mounted", ErrNotSupported)
	}
	if !feat.Memory || !feat.CPUShares {
		return nil, fmt.Errorf("%w: needs the cpu and memory controllers, host has %s", ErrNotSupported, feat)
	}
	i := &Isolator{
		feat:          feat,
		parent:        c.parent,
		fallback:      c.fallback,
		log:           c.logger,
		parentQuotaUs: -1,
		tasks:         map[string]*Task{},
	}
	pg, err := i.newGroup(c.parent, nil, Hard, true)
	if err != nil {
		return nil, err
	}
	i.pg = pg
	if feat.Pids {
		if err := writePidsMax(pg, c.parentPids); err != nil {
			return nil, fmt.Errorf("isolate: parent %s: pids.max: %w", c.parent, err)
		}
	}
	if feat.Mode.Version() == 1 {
		q, err := readInt(filepath.Join(pg.(*v1Group).dir("cpu"), "cpu.cfs_quota_us"))
		if err == nil && q > 0 {
			i.parentQuotaUs = q
		}
	}
	i.log.Debug("isolate: ready", "parent", c.parent, "features", feat.String())
	return i, nil
}

func (i *Isolator) newGroup(p string, l *Limits, mode CPUMode, create bool) (group, error) {
	if i.feat.Mode.Version() == 2 {
		return newV2Group(i.feat, p, l, mode, create)
	}
	return newV1Group(i.feat, p, l, mode, i.parentQuotaUs, create)
}

// Features reports what the host offers.
func (i *Isolator) Features() Features { return i.feat }

// Parent returns the parent cgroup's path.
func (i *Isolator) Parent() string { return i.parent }

// Resize sets the parent cgroup's CPU quota and memory limit to the current
// reservation, online: together the tasks can never use more, whatever
// their own limits. On cgroup v1 a child's quota may not exceed its
// parent's, so tasks whose quota is larger are capped first (and restored
// when the reservation grows again), which is what v2 does by itself.
// Shrinking memory below what the tasks use fails (the kernel cannot
// reclaim it); evict first.
func (i *Isolator) Resize(cpus float64, memoryBytes int64) error {
	if err := validateCPUs("cpus", cpus); err != nil {
		return err
	}
	if err := validateMemory("memoryBytes", memoryBytes); err != nil {
		return err
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.pg == nil {
		return fmt.Errorf("%w: parent %s destroyed", ErrNotFound, i.parent)
	}
	oldQuota, newQuota := i.parentQuotaUs, quotaUs(cpus)
	v1 := i.feat.Mode.Version() == 1
	// Lower tasks above the new quota before the parent, raise capped ones
	// after it: v1 rejects any moment where a child exceeds its parent.
	if v1 {
		if err := i.recap(oldQuota, newQuota, func(now, next int64) bool { return next < now }); err != nil {
			return err
		}
	}
	err := i.pg.resize(cpus, memoryBytes)
	if !v1 {
		if err != nil {
			return err
		}
	} else {
		// The CPU write may have succeeded where the memory one failed:
		// trust the file, and raise the capped tasks to whatever it says.
		i.parentQuotaUs = newQuota
		if q, rerr := readInt(filepath.Join(i.pg.(*v1Group).dir("cpu"), "cpu.cfs_quota_us")); rerr == nil {
			i.parentQuotaUs = q
		}
		cerr := i.recap(oldQuota, i.parentQuotaUs, func(now, next int64) bool { return next > now })
		if err := errors.Join(err, cerr); err != nil {
			return err
		}
	}
	i.log.Debug("isolate: resized parent", "parent", i.parent, "cpus", cpus, "memory", memoryBytes)
	return nil
}

// recap reapplies the limits of hard-limited tasks whose quota under the
// parent's new quota differs from the one under its old quota in the
// direction pick accepts.
func (i *Isolator) recap(oldQuota, parentQuota int64, pick func(now, next int64) bool) error {
	for _, t := range i.tasks {
		t.mu.Lock()
		if t.mode == Hard && !t.destroyed {
			want := quotaUs(t.limits.CPUs)
			now, next := capQuota(want, oldQuota), capQuota(want, parentQuota)
			if pick(now, next) {
				if err := t.g.apply(t.limits, t.mode, parentQuota); err != nil {
					t.mu.Unlock()
					return wrap(err, "cap task %s to the parent's quota", t.name)
				}
			}
		}
		t.mu.Unlock()
	}
	return nil
}

func capQuota(q, parent int64) int64 {
	if parent > 0 {
		return min(q, parent)
	}
	return q
}

// Create makes a task cgroup under the parent with limits l. It fails with
// ErrExists if the cgroup exists (use Load to adopt it), with a *FieldError
// for bad input, and with ErrNotSupported when the host cannot enforce l.
// A failed Create leaves nothing behind.
func (i *Isolator) Create(name string, l Limits) (*Task, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	if err := l.Validate(); err != nil {
		return nil, err
	}
	mode, fellBack, err := cpuMode(l, i.feat, i.fallback)
	if err != nil {
		return nil, err
	}
	if l.PidsMax > 0 && !i.feat.Pids {
		return nil, fmt.Errorf("%w: PidsMax needs the pids controller", ErrNotSupported)
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.pg == nil {
		return nil, fmt.Errorf("%w: parent %s destroyed", ErrNotFound, i.parent)
	}
	if _, ok := i.tasks[name]; ok {
		return nil, fmt.Errorf("%w: task %q", ErrExists, name)
	}
	p := path.Join(i.parent, name)
	if existing, err := i.newGroup(p, nil, mode, false); err == nil && existing.exists() {
		return nil, fmt.Errorf("%w: task %q: cgroup %s", ErrExists, name, p)
	}
	g, err := i.newGroup(p, &l, mode, true)
	if err != nil {
		return nil, err
	}
	t := &Task{iso: i, name: name, g: g, limits: l, mode: mode, fellBack: fellBack}
	i.tasks[name] = t
	i.log.Debug("isolate: created task", "task", name, "cpus", l.CPUs, "mode", mode, "fallback", fellBack, "memory", l.MemoryBytes)
	return t, nil
}

// Load adopts the task cgroups found under the parent, after an agent
// restart, so that running tasks are managed again rather than orphaned.
// Their limits are read back from the kernel (so they come back rounded to
// the cgroup files' units). Tasks already known are returned as they are.
func (i *Isolator) Load() ([]*Task, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.pg == nil {
		return nil, fmt.Errorf("%w: parent %s destroyed", ErrNotFound, i.parent)
	}
	names, err := i.pg.children()
	if err != nil {
		return nil, fmt.Errorf("isolate: list %s: %w", i.parent, err)
	}
	var errs []error
	for _, name := range names {
		if _, ok := i.tasks[name]; ok || ValidateName(name) != nil {
			continue
		}
		g, err := i.newGroup(path.Join(i.parent, name), nil, Hard, false)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		l, err := g.readLimits()
		if err != nil {
			errs = append(errs, wrap(err, "read limits of %s", name))
			continue
		}
		i.tasks[name] = &Task{iso: i, name: name, g: g, limits: l, mode: l.CPUMode}
		i.log.Debug("isolate: adopted task", "task", name, "limits", l)
	}
	tasks := slices.SortedFunc(maps.Values(i.tasks), func(a, b *Task) int {
		switch {
		case a.name < b.name:
			return -1
		case a.name > b.name:
			return 1
		}
		return 0
	})
	return tasks, errors.Join(errs...)
}

// Task returns the task named name, or an error matching ErrNotFound.
func (i *Isolator) Task(name string) (*Task, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if t, ok := i.tasks[name]; ok {
		return t, nil
	}
	return nil, fmt.Errorf("%w: task %q", ErrNotFound, name)
}

// Destroy kills and removes every task (known or found under the parent)
// and then the parent cgroup itself: what an uninstall does. It is
// idempotent.
func (i *Isolator) Destroy(ctx context.Context) error {
	tasks, err := i.Load()
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	var errs []error
	errs = append(errs, err)
	for _, t := range tasks {
		errs = append(errs, t.Destroy(ctx))
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if err := i.pg.kill(ctx); err != nil {
		return err
	}
	if err := i.pg.remove(); err != nil {
		return err
	}
	i.pg = nil
	return nil
}

func (i *Isolator) forget(name string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	delete(i.tasks, name)
}

// writePidsMax sets a group's pids.max (containerd's managers only write it
// along with other limits).
func writePidsMax(g group, n int64) error {
	var dir string
	switch g := g.(type) {
	case *v1Group:
		dir = g.dir("pids")
	case *v2Group:
		dir = g.dir()
	}
	return os.WriteFile(filepath.Join(dir, "pids.max"), []byte(strconv.FormatInt(n, 10)), 0)
}
