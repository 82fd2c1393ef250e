package monitor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/prometheus/procfs"
)

// ResourceUsage is a reading of what a process tree or a cgroup uses.
type ResourceUsage struct {
	// CPUSeconds is cumulative CPU time; rates come from its differences.
	// A ProcessTree's never decreases. A Cgroup's is the kernel's counter,
	// which starts again from zero if the cgroup is removed and created
	// again (a Sampler counts such a step as no use).
	CPUSeconds float64
	// MemoryBytes is resident memory (see OwnUsage.MemoryBytes).
	MemoryBytes uint64
	// Processes counts the processes in a tree; 0 for a cgroup.
	Processes int
}

// ProcessTree measures a process and all its descendants by walking /proc.
// It is not safe for concurrent use.
//
// CPU time is counted so that it survives processes exiting: each process
// adds its own time plus the time of the children it has waited for
// (utime+stime+cutime+cstime), so a child reaped inside the tree moves its
// time to its parent instead of losing it. A process that leaves the tree
// without being reaped inside it (reparented to init) keeps the time it
// used while in the tree but adds nothing after. CPUSeconds never goes
// backwards.
type ProcessTree struct {
	fs   procfs.FS
	root string
	pid  int

	started  bool
	cpuTotal float64 // reported cumulative seconds
	lastSum  uint64  // ticks summed over the tree at the last walk
	last     map[int]procEntry
	next     map[int]procEntry
	children map[int][]int
}

// NewProcessTree watches pid and its descendants under procRoot ("/proc"
// for the live host).
func NewProcessTree(procRoot string, pid int) (*ProcessTree, error) {
	if pid <= 0 {
		return nil, fmt.Errorf("%w: pid %d", ErrInvalid, pid)
	}
	pfs, err := procfs.NewFS(procRoot)
	if err != nil {
		return nil, fmt.Errorf("monitor: proc root: %w", err)
	}
	return &ProcessTree{
		fs: pfs, root: procRoot, pid: pid,
		last: map[int]procEntry{}, next: map[int]procEntry{}, children: map[int][]int{},
	}, nil
}

type procEntry struct {
	ppid  int
	ticks uint64 // utime+stime+cutime+cstime
	own   uint64 // utime+stime
	rss   uint64 // bytes
}

// Usage walks /proc once. Processes that exit during the walk are skipped:
// a tree shrinking while it is read is normal. It returns an error wrapping
// ErrNotFound when the root process itself is gone.
func (t *ProcessTree) Usage(ctx context.Context) (ResourceUsage, error) {
	procs, err := t.fs.AllProcs()
	if err != nil {
		return ResourceUsage{}, fmt.Errorf("monitor: list processes: %w", err)
	}
	clear(t.children)
	entries := make(map[int]procEntry, len(procs))
	for i, p := range procs {
		if i%64 == 0 {
			if err := ctx.Err(); err != nil {
				return ResourceUsage{}, err
			}
		}
		st, err := p.Stat()
		if err != nil {
			if gone(err) {
				continue
			}
			return ResourceUsage{}, &ParseError{File: filepath.Join(t.root, strconv.Itoa(p.PID), "stat"), Line: 1, Field: "stat", Err: err}
		}
		entries[p.PID] = procEntry{
			ppid:  st.PPID,
			own:   uint64(st.UTime + st.STime),
			ticks: uint64(st.UTime+st.STime) + uint64(max(st.CUTime, 0)+max(st.CSTime, 0)),
			rss:   uint64(max(st.ResidentMemory(), 0)),
		}
		t.children[st.PPID] = append(t.children[st.PPID], p.PID)
	}
	if _, ok := entries[t.pid]; !ok {
		return ResourceUsage{}, fmt.Errorf("%w: process %d (tree root)", ErrNotFound, t.pid)
	}

	var u ResourceUsage
	var sum, live uint64
	clear(t.next)
	stack := []int{t.pid}
	for len(stack) > 0 {
		pid := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if _, seen := t.next[pid]; seen {
			// /proc is not read atomically: a PID reused during the walk,
			// or a doctored fixture, can make a parent loop.
			continue
		}
		e := entries[pid]
		u.Processes++
		u.MemoryBytes += e.rss
		sum += e.ticks
		if prev, ok := t.last[pid]; ok && e.own >= prev.own {
			live += e.own - prev.own
		} else {
			live += e.own // new, or a reused PID
		}
		t.next[pid] = e
		stack = append(stack, t.children[pid]...)
	}
	if !t.started {
		t.cpuTotal = float64(sum) / userHZ
		t.started = true
	} else {
		// The sum dropped the last ticks of every process no longer in
		// the tree. That is right for one that exited and was reaped
		// inside the tree (its time is now in its parent's cutime), and
		// wrong for one still alive elsewhere: add those back.
		grew := int64(sum) - int64(t.lastSum)
		for pid, prev := range t.last {
			if _, inTree := t.next[pid]; inTree {
				continue
			}
			if _, alive := entries[pid]; alive {
				grew += int64(prev.ticks)
			}
		}
		// A process that left and was then reaped outside the tree
		// cannot be told apart from one reaped inside; the growth of
		// the processes seen both times is a floor.
		t.cpuTotal += float64(max(grew, int64(live))) / userHZ
	}
	t.lastSum = sum
	t.last, t.next = t.next, t.last
	u.CPUSeconds = t.cpuTotal
	return u, nil
}

// gone reports an error from reading a process that exited meanwhile.
func gone(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH) || errors.Is(err, os.ErrProcessDone)
}
