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

	"github.com/containerd/cgroups/v3/cgroup2"
	"golang.org/x/sys/unix"
)

// v2Group is a cgroup on a unified (v2) host.
type v2Group struct {
	feat  Features
	mount string
	path  string // e.g. /gleaner/task-1, relative to the mount
	m     *cgroup2.Manager
	sr    statReader
}

func (g *v2Group) dir() string { return filepath.Join(g.mount, g.path) }

// newV2Group creates the cgroup (enabling cpu, memory and pids for it in
// every ancestor's subtree_control) or loads it when create is false.
func newV2Group(feat Features, path string, l *Limits, mode CPUMode, create bool) (*v2Group, error) {
	g := &v2Group{feat: feat, mount: feat.Mounts["unified"], path: path}
	g.sr.files = v2StatFiles(g.dir(), feat)
	if !create {
		if !exists(g.dir()) {
			return nil, fmt.Errorf("%w: cgroup %s", ErrNotFound, path)
		}
		m, err := cgroup2.Load(path, cgroup2.WithMountpoint(g.mount))
		g.m = m
		return g, err
	}
	// A parent enables for its children those of cpu, memory and pids
	// the host has.
	res := &cgroup2.Resources{}
	if feat.Has("cpu") {
		res.CPU = &cgroup2.CPU{}
	}
	if feat.Has("memory") {
		res.Memory = &cgroup2.Memory{}
	}
	if feat.Has("pids") {
		res.Pids = &cgroup2.Pids{}
	}
	if l != nil {
		// A task: its limits and the device allowlist (an eBPF program
		// attached once, here).
		res = v2Resources(*l, mode, feat.SwapAccounting)
		res.Devices = deviceRules()
	}
	// NewManager removes the directory it made when enabling controllers
	// or writing limits fails.
	m, err := cgroup2.NewManager(g.mount, path, res)
	if err != nil {
		return nil, fmt.Errorf("isolate: create cgroup %s: %w", path, err)
	}
	g.m = m
	return g, nil
}

func (g *v2Group) apply(l Limits, mode CPUMode, _ int64) error {
	if err := g.m.Update(v2Resources(l, mode, g.feat.SwapAccounting)); err != nil {
		return fmt.Errorf("isolate: update cgroup %s: %w", g.path, err)
	}
	return nil
}

func (g *v2Group) resize(cpus float64, memoryBytes int64) error {
	if err := g.m.Update(v2ParentResources(cpus, memoryBytes)); err != nil {
		return fmt.Errorf("isolate: resize cgroup %s: %w", g.path, err)
	}
	return nil
}

// readLimits reads the limits back; cgroup2.Manager has no getter for
// configured limits.
func (g *v2Group) readLimits() (Limits, error) {
	var l Limits
	data, err := os.ReadFile(filepath.Join(g.dir(), "cpu.max"))
	if err != nil {
		return l, err
	}
	quota, period, _ := strings.Cut(strings.TrimSpace(string(data)), " ")
	if quota != "max" {
		q, err1 := strconv.ParseFloat(quota, 64)
		p, err2 := strconv.ParseFloat(period, 64)
		if err := errors.Join(err1, err2); err != nil {
			return l, fmt.Errorf("isolate: %s cpu.max %q: %w", g.path, data, err)
		}
		l.CPUs, l.CPUMode = q/p, Hard
	} else {
		w, err := readInt(filepath.Join(g.dir(), "cpu.weight"))
		if err != nil {
			return l, err
		}
		l.CPUs, l.CPUMode = float64(sharesForWeight(uint64(w)))/SharesPerCPU, Soft
	}
	if l.MemoryBytes, err = readInt(filepath.Join(g.dir(), "memory.max")); err != nil {
		return l, err
	}
	l.MemorySwapBytes = -1
	if g.feat.SwapAccounting {
		sw, err := os.ReadFile(filepath.Join(g.dir(), "memory.swap.max"))
		if err != nil {
			return l, err
		}
		if s := strings.TrimSpace(string(sw)); s != "max" {
			if l.MemorySwapBytes, err = strconv.ParseInt(s, 10, 64); err != nil {
				return l, fmt.Errorf("isolate: %s memory.swap.max %q: %w", g.path, s, err)
			}
		}
	}
	if g.feat.Pids {
		if l.PidsMax, err = readInt(filepath.Join(g.dir(), "pids.max")); err != nil {
			return l, err
		}
	}
	return l, nil
}

// sharesForWeight inverts containerd's shares-to-weight conversion: the
// smallest shares value that converts to at least w.
func sharesForWeight(w uint64) uint64 {
	lo, hi := uint64(MinShares), uint64(MaxShares)
	for lo < hi {
		mid := (lo + hi) / 2
		if cgroup2.ConvertCPUSharesToCgroupV2Value(mid) < w {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

func (g *v2Group) addProc(pid int) error {
	if err := g.m.AddProc(uint64(pid)); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%w: add pid %d to %s: %w", ErrNotFound, pid, g.path, err)
		}
		return fmt.Errorf("isolate: add pid %d to %s: %w", pid, g.path, err)
	}
	return nil
}

func (g *v2Group) procs() ([]int, error) {
	ps, err := g.m.Procs(true)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("isolate: list %s: %w", g.path, err)
	}
	pids := make([]int, len(ps))
	for i, p := range ps {
		pids[i] = int(p)
	}
	slices.Sort(pids)
	return pids, nil
}

func (g *v2Group) procsFiles() []string {
	return []string{filepath.Join(g.dir(), "cgroup.procs")}
}

func (g *v2Group) openDir() (*os.File, error) {
	f, err := os.OpenFile(g.dir(), os.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("isolate: open cgroup %s: %w", g.path, err)
	}
	return f, nil
}

func (g *v2Group) stats() (Stats, error) { return g.sr.read() }

func (g *v2Group) oomNotifier() (*os.File, error) {
	// inotify on memory.events (and cgroup.events, to notice the cgroup
	// emptying); the oom_kill counter tells what happened.
	fd, _, err := g.m.MemoryEventFD()
	if err != nil {
		return nil, fmt.Errorf("isolate: memory events of %s: %w", g.path, err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), "memory.events-inotify:"+g.path), nil
}

func (g *v2Group) oomKills() (uint64, error) {
	m, err := g.m.StatFiltered(cgroup2.StatMemoryEvents)
	if err != nil {
		return 0, err
	}
	return m.GetMemoryEvents().GetOomKill(), nil
}

func (g *v2Group) exists() bool { return exists(g.dir()) }

// kill uses cgroup.kill (the kernel's atomic kill-all, 5.14+); containerd
// falls back to freeze, SIGKILL, thaw on older kernels. Then it waits until
// the cgroup is empty.
func (g *v2Group) kill(ctx context.Context) error {
	if !g.exists() {
		return nil
	}
	if err := g.m.Kill(); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("isolate: kill %s: %w", g.path, err)
	}
	return waitEmpty(ctx, g, func(pids []int) {
		for _, pid := range pids {
			_ = unix.Kill(pid, unix.SIGKILL)
		}
	})
}

func (g *v2Group) remove() error {
	if g.exists() {
		if err := g.m.Delete(); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("isolate: remove cgroup %s: %w", g.path, err)
		}
	}
	// Closed after the rmdir: a Stats racing with it could otherwise
	// reopen the files and leak them.
	g.sr.close()
	return nil
}

func (g *v2Group) children() ([]string, error) {
	entries, err := os.ReadDir(g.dir())
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	return names, nil
}
