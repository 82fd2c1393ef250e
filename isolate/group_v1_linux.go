package isolate

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/cgroups/v3/cgroup1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// pather is the part of a cgroup1.Subsystem that knows its directory; the
// library keeps its own interface unexported.
type pather interface {
	Path(path string) string
}

// v1Subsystems builds the hierarchies isolate uses from the detected mounts.
// cpu and cpuacct may be separate mounts (as on hosts that mount every
// controller alone) or one co-mount reachable under both names; each
// subsystem gets the directory that holds its mount.
func v1Subsystems(feat Features) ([]cgroup1.Subsystem, error) {
	var subs []cgroup1.Subsystem
	for _, name := range v1Controllers {
		mnt, ok := feat.Mounts[name]
		if !ok {
			continue
		}
		root := filepath.Dir(mnt)
		if filepath.Base(mnt) != name && !exists(filepath.Join(root, name)) {
			return nil, fmt.Errorf("%w: cgroup v1 %s is mounted at %s, not reachable as %s",
				ErrNotSupported, name, mnt, filepath.Join(root, name))
		}
		switch name {
		case "cpu":
			subs = append(subs, cgroup1.NewCpu(root))
		case "cpuacct":
			subs = append(subs, cgroup1.NewCpuacct(root))
		case "memory":
			// kmem accounting is not limited here; skipping its files
			// keeps a stats read short.
			subs = append(subs, cgroup1.NewMemory(root, cgroup1.OptionalSwap(), cgroup1.IgnoreModules("kmem", "kmem.tcp")))
		case "pids":
			subs = append(subs, cgroup1.NewPids(root))
		case "freezer":
			subs = append(subs, cgroup1.NewFreezer(root))
		case "devices":
			subs = append(subs, cgroup1.NewDevices(root))
		}
	}
	return subs, nil
}

type v1Group struct {
	feat Features
	subs []cgroup1.Subsystem
	path string // e.g. /gleaner/task-1, relative to every hierarchy
	cg   cgroup1.Cgroup
	sr   statReader
}

func (g *v1Group) hierarchy() cgroup1.InitOpts {
	return cgroup1.WithHierarchy(func() ([]cgroup1.Subsystem, error) { return g.subs, nil })
}

// dirs returns the cgroup's directory in every hierarchy.
func (g *v1Group) dirs() []string {
	out := make([]string, 0, len(g.subs))
	for _, s := range g.subs {
		out = append(out, s.(pather).Path(g.path))
	}
	return out
}

func (g *v1Group) dir(name cgroup1.Name) string {
	for _, s := range g.subs {
		if s.Name() == name {
			return s.(pather).Path(g.path)
		}
	}
	return ""
}

// newV1Group creates the cgroup in every hierarchy, or loads it when create
// is false. A failed create removes the directories it made.
func newV1Group(feat Features, path string, l *Limits, mode CPUMode, parentQuotaUs int64, create bool) (*v1Group, error) {
	subs, err := v1Subsystems(feat)
	if err != nil {
		return nil, err
	}
	g := &v1Group{feat: feat, subs: subs, path: path}
	g.sr.files = v1StatFiles(g)
	if !create {
		g.cg, err = cgroup1.Load(cgroup1.StaticPath(path), g.hierarchy())
		if errors.Is(err, cgroup1.ErrCgroupDeleted) {
			return nil, fmt.Errorf("%w: cgroup %s", ErrNotFound, path)
		}
		return g, err
	}
	var made []string
	for _, d := range g.dirs() {
		if exists(d) {
			continue
		}
		made = append(made, d)
	}
	res := &specs.LinuxResources{}
	if l != nil {
		// A task: its limits and, set once here (rewriting it later
		// would deny every device for a moment), the device allowlist.
		res = v1Resources(*l, mode, feat.SwapAccounting, parentQuotaUs)
		if feat.Has("devices") {
			res.Devices = deviceRules()
		}
	}
	g.cg, err = cgroup1.New(cgroup1.StaticPath(path), res, g.hierarchy())
	if err != nil {
		for _, d := range slices.Backward(made) {
			_ = os.Remove(d)
		}
		return nil, fmt.Errorf("isolate: create cgroup %s: %w", path, err)
	}
	return g, nil
}

func (g *v1Group) apply(l Limits, mode CPUMode, parentQuotaUs int64) error {
	res := v1Resources(l, mode, g.feat.SwapAccounting, parentQuotaUs)
	if err := g.raiseMemsw(res.Memory); err != nil {
		return fmt.Errorf("isolate: update cgroup %s: %w", g.path, err)
	}
	if err := g.cg.Update(res); err != nil {
		return fmt.Errorf("isolate: update cgroup %s: %w", g.path, err)
	}
	if l.PidsMax == 0 && g.feat.Pids {
		// cgroup1's pids controller only writes positive limits; lifting
		// one takes "max", written here.
		if err := os.WriteFile(filepath.Join(g.dir(cgroup1.Pids), "pids.max"), []byte("max"), 0); err != nil {
			return fmt.Errorf("isolate: update cgroup %s: %w", g.path, err)
		}
	}
	return nil
}

// raiseMemsw writes memory.memsw.limit_in_bytes ahead of a memory limit
// that would exceed its current value, which the kernel refuses. cgroup1's
// Update means to do this but swaps the memory limit with the soft limit
// instead of with memsw, so raising memory with swap accounted fails.
func (g *v1Group) raiseMemsw(m *specs.LinuxMemory) error {
	if m == nil || m.Swap == nil || m.Limit == nil {
		return nil
	}
	file := filepath.Join(g.dir(cgroup1.Memory), "memory.memsw.limit_in_bytes")
	cur, err := readInt(file)
	if err != nil {
		return err
	}
	if *m.Limit <= cur {
		return nil
	}
	return os.WriteFile(file, []byte(strconv.FormatInt(*m.Swap, 10)), 0)
}

func (g *v1Group) resize(cpus float64, memoryBytes int64) error {
	if err := g.cg.Update(v1ParentResources(cpus, memoryBytes)); err != nil {
		return fmt.Errorf("isolate: resize cgroup %s: %w", g.path, err)
	}
	return nil
}

// readLimits reads the limits back. containerd's cgroup1 has no getter for
// configured limits, so the few control files are read here.
func (g *v1Group) readLimits() (Limits, error) {
	var l Limits
	cpu := g.dir(cgroup1.Cpu)
	sh, err := readInt(filepath.Join(cpu, "cpu.shares"))
	if err != nil {
		return l, err
	}
	quota, err := readInt(filepath.Join(cpu, "cpu.cfs_quota_us"))
	if err != nil {
		return l, err
	}
	period, err := readInt(filepath.Join(cpu, "cpu.cfs_period_us"))
	if err != nil {
		return l, err
	}
	l.CPUs, l.CPUMode = float64(sh)/SharesPerCPU, Soft
	if quota > 0 {
		l.CPUMode = Hard
		// The quota is exact unless a parent's smaller quota capped it;
		// then the shares still hold the request.
		if q := float64(quota) / float64(period); q > l.CPUs || l.CPUs-q < 1.0/SharesPerCPU {
			l.CPUs = q
		}
	}
	mem := g.dir(cgroup1.Memory)
	if l.MemoryBytes, err = readInt(filepath.Join(mem, "memory.limit_in_bytes")); err != nil {
		return l, err
	}
	l.MemorySwapBytes = -1
	if g.feat.SwapAccounting {
		memsw, err := readInt(filepath.Join(mem, "memory.memsw.limit_in_bytes"))
		if err != nil {
			return l, err
		}
		if memsw < 1<<62 {
			l.MemorySwapBytes = memsw - l.MemoryBytes
		}
	}
	if g.feat.Pids {
		if l.PidsMax, err = readInt(filepath.Join(g.dir(cgroup1.Pids), "pids.max")); err != nil {
			return l, err
		}
	}
	return l, nil
}

func (g *v1Group) addProc(pid int) error {
	if err := g.cg.AddProc(uint64(pid)); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%w: add pid %d to %s: %w", ErrNotFound, pid, g.path, err)
		}
		return fmt.Errorf("isolate: add pid %d to %s: %w", pid, g.path, err)
	}
	return nil
}

// procs lists the processes in the cgroup and its descendants in every
// hierarchy. It reads cgroup.procs itself: containerd's Processes walks the
// tree with filepath.Walk, which lstat()s every control file (about 30 per
// directory, five hierarchies), and that dominated a task's teardown.
func (g *v1Group) procs() ([]int, error) {
	var pids []int
	for _, d := range g.dirs() {
		var err error
		if pids, err = appendProcs(pids, d); err != nil {
			return nil, fmt.Errorf("isolate: list %s: %w", g.path, err)
		}
	}
	slices.Sort(pids)
	return slices.Compact(pids), nil
}

// appendProcs appends the PIDs in dir/cgroup.procs and in every
// descendant's; a directory that vanished has none.
func appendProcs(pids []int, dir string) ([]int, error) {
	data, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ENODEV) {
			return pids, nil
		}
		return nil, err
	}
	for _, f := range strings.Fields(string(data)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	for _, e := range entries {
		if e.IsDir() {
			if pids, err = appendProcs(pids, filepath.Join(dir, e.Name())); err != nil {
				return nil, err
			}
		}
	}
	return pids, nil
}

func (g *v1Group) procsFiles() []string {
	dirs := g.dirs()
	for i, d := range dirs {
		dirs[i] = filepath.Join(d, "cgroup.procs")
	}
	return dirs
}

func (g *v1Group) openDir() (*os.File, error) {
	return nil, fmt.Errorf("%w: a cgroup directory FD (CLONE_INTO_CGROUP) needs cgroup v2; on v1 write the PID into ProcsFiles", ErrNotSupported)
}

func (g *v1Group) stats() (Stats, error) { return g.sr.read() }

func (g *v1Group) oomNotifier() (*os.File, error) {
	// The eventfd registered on memory.oom_control fires on every OOM in
	// the cgroup and also when the cgroup is removed.
	efd, err := g.cg.OOMEventFD()
	if err != nil {
		return nil, fmt.Errorf("isolate: oom eventfd for %s: %w", g.path, err)
	}
	if err := unix.SetNonblock(int(efd), true); err != nil {
		unix.Close(int(efd))
		return nil, err
	}
	return os.NewFile(efd, "oom-eventfd:"+g.path), nil
}

// oomKills reads oom_kill from memory.oom_control (one small file, where a
// full Stat reads a dozen).
func (g *v1Group) oomKills() (uint64, error) {
	data, err := os.ReadFile(filepath.Join(g.dir(cgroup1.Memory), "memory.oom_control"))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "oom_kill "); ok {
			return strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		}
	}
	return 0, nil
}

func (g *v1Group) exists() bool {
	for _, d := range g.dirs() {
		if exists(d) {
			return true
		}
	}
	return false
}

// kill freezes the cgroup so nothing forks, SIGKILLs every process, thaws
// so the signals are delivered, and waits until the cgroup is empty.
//
// Freezing and thawing cost about 0.8 ms, most of a teardown, so a first
// pass tries without: SIGKILL what is listed, list again, and if nothing
// new appeared no process can fork any more (the kernel refuses fork to a
// task with a fatal signal pending), so waiting for the listed ones to exit
// is enough. Anything new (a child forked between listing and signalling)
// sends it down the freezer path.
func (g *v1Group) kill(ctx context.Context) error {
	pids, err := g.procs()
	if err != nil || len(pids) == 0 {
		return err
	}
	killed := make(map[int]bool, len(pids))
	for _, pid := range pids {
		_ = unix.Kill(pid, unix.SIGKILL)
		killed[pid] = true
	}
	again, err := g.procs()
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(again, func(pid int) bool { return !killed[pid] }) {
		return waitEmpty(ctx, g, func(pids []int) {
			for _, pid := range pids {
				_ = unix.Kill(pid, unix.SIGKILL)
			}
		})
	}
	freezer := ""
	if g.feat.Freezer {
		freezer = g.dir(cgroup1.Freezer)
	}
	frozen := false
	if freezer != "" && exists(freezer) {
		if err := setFreezerState(ctx, freezer, "FROZEN"); err != nil {
			_ = setFreezerState(context.WithoutCancel(ctx), freezer, "THAWED")
			return fmt.Errorf("isolate: freeze %s: %w", g.path, err)
		}
		frozen = true
	}
	thaw := func() error {
		if !frozen {
			return nil
		}
		frozen = false
		return setFreezerState(context.WithoutCancel(ctx), freezer, "THAWED")
	}
	var thawErr error
	err = waitEmpty(ctx, g, func(pids []int) {
		for _, pid := range pids {
			_ = unix.Kill(pid, unix.SIGKILL)
		}
		if err := thaw(); err != nil {
			thawErr = err
		}
	})
	return errors.Join(err, thawErr, thaw())
}

// setFreezerState writes freezer.state and waits, until ctx is done, for the
// kernel to reach it. Written by hand because cgroup1's Freeze and Thaw poll
// every 1 ms with no way to give up: half the teardown budget on an idle
// machine, and forever on a task stuck in uninterruptible sleep.
func setFreezerState(ctx context.Context, dir, state string) error {
	file := filepath.Join(dir, "freezer.state")
	delay := 20 * time.Microsecond
	for {
		if err := os.WriteFile(file, []byte(state), 0); err != nil {
			return err
		}
		cur, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		if strings.TrimSpace(string(cur)) == state {
			return nil
		}
		if err := sleepCtx(ctx, delay); err != nil {
			return err
		}
		delay = min(2*delay, time.Millisecond)
	}
}

// remove deletes the (empty) cgroup, descendants first, in every
// hierarchy. It calls rmdir itself: containerd's Delete first re-lists
// every hierarchy with filepath.Walk (see procs), which the caller's kill
// has just done.
func (g *v1Group) remove() error {
	var errs []error
	for _, d := range g.dirs() {
		errs = append(errs, rmdirTree(d))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("isolate: remove cgroup %s: %w", g.path, err)
	}
	// Closed after the rmdir: a Stats racing with it could otherwise
	// reopen the files and leak them.
	g.sr.close()
	return nil
}

// rmdirTree removes a cgroup directory and its child cgroups. The kernel
// may answer EBUSY for a moment after the last process exited; that is
// retried briefly.
func rmdirTree(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := rmdirTree(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	delay := 100 * time.Microsecond
	for try := 0; ; try++ {
		err := unix.Rmdir(dir)
		if err == nil || errors.Is(err, unix.ENOENT) {
			return nil
		}
		if !errors.Is(err, unix.EBUSY) || try == 12 {
			return &os.PathError{Op: "rmdir", Path: dir, Err: err}
		}
		time.Sleep(delay)
		delay = min(2*delay, 50*time.Millisecond)
	}
}

func (g *v1Group) children() ([]string, error) {
	seen := map[string]bool{}
	for _, d := range g.dirs() {
		entries, err := os.ReadDir(d)
		if err != nil {
			if os.IsNotExist(err) {
				continue
			}
			return nil, err
		}
		for _, e := range entries {
			if e.IsDir() {
				seen[e.Name()] = true
			}
		}
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	slices.Sort(names)
	return names, nil
}

// readInt reads a one-number control file; "max" reads as 0 (no limit).
func readInt(path string) (int64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	s := strings.TrimSpace(string(data))
	if s == "max" {
		return 0, nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		// memory.limit_in_bytes reads 9223372036854771712 when unlimited.
		if u, uerr := strconv.ParseUint(s, 10, 64); uerr == nil {
			return int64(min(u, 1<<63-1)), nil
		}
		return 0, fmt.Errorf("%s: %w", path, err) // unprefixed, as os.ReadFile's: the callers say "isolate:"
	}
	return v, nil
}
