package isolate

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Disk-watcher defaults, after Mesos's disk/du isolator.
const (
	DefaultDiskInterval = 15 * time.Second
	// DefaultDiskBudget is how many directory entries one tick may stat,
	// across all tasks.
	DefaultDiskBudget = 100_000
)

// DiskUsage is one completed measurement of a task's sandbox.
type DiskUsage struct {
	Task       string
	Dir        string
	Bytes      int64 // allocated bytes, as du -s reports them
	LimitBytes int64
	Time       time.Time
}

// DiskWatcher measures the disk usage of task sandboxes periodically, like
// du -s (allocated blocks; hard links counted once; symlinks not followed;
// other file systems mounted inside not entered), and calls a task's
// callback when a completed measurement is over its limit. One goroutine,
// Run's, does all scanning, one task at a time, with a bounded number of
// entries per tick, so many large sandboxes cannot hog the disk.
type DiskWatcher struct {
	interval time.Duration
	budget   int
	log      *slog.Logger

	mu    sync.Mutex
	tasks map[string]*diskTask
	order []string // round-robin order
	next  int
}

type diskTask struct {
	name   string
	dir    string
	limit  int64
	onOver func(DiskUsage)
	scan   *duScan
	last   *DiskUsage
}

// NewDiskWatcher returns a watcher; call Run to start it. A bad option
// value gives a *FieldError naming the option.
func NewDiskWatcher(opts ...DiskWatcherOption) (*DiskWatcher, error) {
	c := diskWatcherConfig{
		interval: DefaultDiskInterval,
		budget:   DefaultDiskBudget,
		logger:   slog.New(slog.DiscardHandler),
	}
	for _, o := range opts {
		o.applyDiskWatcher(&c)
	}
	switch {
	case c.interval <= 0:
		return nil, invalid("WithDiskInterval", c.interval, "must be positive")
	case c.budget <= 0:
		return nil, invalid("WithDiskBudget", c.budget, "must be positive")
	}
	return &DiskWatcher{interval: c.interval, budget: c.budget, log: c.logger, tasks: map[string]*diskTask{}}, nil
}

// Watch starts measuring dir for task name, calling onOver (from Run's
// goroutine; keep it short) whenever a measurement exceeds limitBytes.
// Watching a name again replaces its entry.
func (w *DiskWatcher) Watch(name, dir string, limitBytes int64, onOver func(DiskUsage)) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	if limitBytes <= 0 {
		return invalid("limitBytes", limitBytes, "must be positive")
	}
	if !filepath.IsAbs(dir) {
		return invalid("dir", dir, "must be an absolute path")
	}
	if onOver == nil {
		return invalid("onOver", "nil", "must be set")
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if old, ok := w.tasks[name]; ok {
		old.scan.close()
	} else {
		w.order = append(w.order, name)
	}
	w.tasks[name] = &diskTask{name: name, dir: dir, limit: limitBytes, onOver: onOver}
	return nil
}

// Unwatch stops measuring task name.
func (w *DiskWatcher) Unwatch(name string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	t, ok := w.tasks[name]
	if !ok {
		return
	}
	t.scan.close()
	delete(w.tasks, name)
	for i, n := range w.order {
		if n == name {
			w.order = append(w.order[:i], w.order[i+1:]...)
			break
		}
	}
}

// Usage returns the last completed measurement of task name.
func (w *DiskWatcher) Usage(name string) (DiskUsage, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if t, ok := w.tasks[name]; ok && t.last != nil {
		return *t.last, true
	}
	return DiskUsage{}, false
}

// Run works one tick per interval until ctx is done, then returns ctx's
// error. The first tick runs at once.
func (w *DiskWatcher) Run(ctx context.Context) error {
	t := time.NewTicker(w.interval)
	defer t.Stop()
	defer w.closeScans()
	for {
		w.Tick(ctx)
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-t.C:
		}
	}
}

func (w *DiskWatcher) closeScans() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, t := range w.tasks {
		t.scan.close()
		t.scan = nil
	}
}

// Tick does one tick of work: it continues or starts scans, task after
// task from where the previous tick stopped, until the budget is spent or
// every task has been measured once. Run calls it; it is exported for
// callers that drive their own loop.
func (w *DiskWatcher) Tick(ctx context.Context) {
	var over []func()
	defer func() {
		// Callbacks run after the lock is released, so they may Unwatch.
		for _, f := range over {
			f()
		}
	}()
	w.mu.Lock()
	defer w.mu.Unlock()
	budget := w.budget
	for visited := 0; visited < len(w.order) && budget > 0 && ctx.Err() == nil; visited++ {
		w.next %= len(w.order)
		t := w.tasks[w.order[w.next]]
		if t.scan == nil {
			s, err := newDuScan(t.dir)
			if err != nil {
				w.log.Warn("isolate: disk scan", "task", t.name, "dir", t.dir, "err", err)
				w.next++
				continue
			}
			t.scan = s
		}
		var done bool
		budget, done = t.scan.step(budget)
		if !done {
			break // budget spent; resume this task next tick
		}
		u := DiskUsage{Task: t.name, Dir: t.dir, Bytes: t.scan.bytes, LimitBytes: t.limit, Time: time.Now()}
		t.scan.close()
		t.scan = nil
		t.last = &u
		w.next++
		if u.Bytes > t.limit {
			w.log.Info("isolate: task over its disk limit", "task", t.name, "bytes", u.Bytes, "limit", t.limit)
			over = append(over, func() { t.onOver(u) })
		}
	}
}

// duScan is a resumable du -s of one directory tree. The tree belongs to a
// running task, which may swap any directory for a symlink at any moment,
// so no path is ever opened from the host's root: every directory is
// opened below an os.Root on the sandbox, and only when it is still the
// directory (device and inode) that its parent listed.
type duScan struct {
	root    *os.Root
	dev     uint64
	bytes   int64
	seen    map[[2]uint64]bool // (dev, ino) of files with more than one link
	pending []duDir            // directories still to read
	cur     *os.File           // directory being read
	curPath string             // relative to root
}

// duDir is a directory to read: its path below the root and the inode a
// listing found there.
type duDir struct {
	rel string
	ino uint64
}

func newDuScan(dir string) (*duScan, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("isolate: open %s: %w", dir, err)
	}
	top, err := root.Open(".")
	if err != nil {
		root.Close()
		return nil, fmt.Errorf("isolate: open %s: %w", dir, err)
	}
	defer top.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(top.Fd()), &st); err != nil {
		root.Close()
		return nil, fmt.Errorf("isolate: stat %s: %w", dir, err)
	}
	s := &duScan{root: root, dev: st.Dev, seen: map[[2]uint64]bool{}}
	s.bytes = st.Blocks * 512
	s.pending = []duDir{{rel: ".", ino: st.Ino}}
	return s, nil
}

// step examines up to budget entries and returns the budget left and
// whether the tree is done.
func (s *duScan) step(budget int) (int, bool) {
	for budget > 0 {
		if s.cur == nil {
			if len(s.pending) == 0 {
				return budget, true
			}
			d := s.pending[len(s.pending)-1]
			s.pending = s.pending[:len(s.pending)-1]
			s.cur = s.openDir(d)
			s.curPath = d.rel
			if s.cur == nil {
				continue // removed, replaced or unreadable since it was listed
			}
		}
		names, err := s.cur.Readdirnames(min(budget, 512))
		for _, n := range names {
			s.account(n)
		}
		budget -= max(len(names), 1)
		if err != nil { // io.EOF, or a read error: this directory is done
			s.cur.Close()
			s.cur = nil
		}
	}
	return 0, s.cur == nil && len(s.pending) == 0
}

// openDir opens d below the root, or returns nil when it is no longer the
// directory that was listed: O_NOFOLLOW|O_DIRECTORY refuse a symlink in its
// place, and the inode check a directory moved in from elsewhere in the
// tree (os.Root still follows links in the middle of the path, never out
// of the root).
func (s *duScan) openDir(d duDir) *os.File {
	f, err := s.root.OpenFile(d.rel, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_DIRECTORY, 0)
	if err != nil {
		return nil
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil || st.Dev != s.dev || st.Ino != d.ino {
		f.Close()
		return nil
	}
	return f
}

func (s *duScan) account(name string) {
	var st unix.Stat_t
	if err := unix.Fstatat(int(s.cur.Fd()), name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return // removed meanwhile
	}
	if st.Dev != s.dev {
		return // a mount point: du -x does not count or enter it
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR && st.Nlink > 1 {
		key := [2]uint64{st.Dev, st.Ino}
		if s.seen[key] {
			return
		}
		s.seen[key] = true
	}
	s.bytes += st.Blocks * 512
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		s.pending = append(s.pending, duDir{rel: path.Join(s.curPath, name), ino: st.Ino})
	}
}

func (s *duScan) close() {
	if s == nil {
		return
	}
	if s.cur != nil {
		s.cur.Close()
		s.cur = nil
	}
	if s.root != nil {
		s.root.Close()
		s.root = nil
	}
}
