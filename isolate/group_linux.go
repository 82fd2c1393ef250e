package isolate

import (
	"context"
	"os"
	"time"
)

// group is one cgroup, task or parent, as the two cgroup versions implement
// it. Only the mapping and these few operations differ between v1 and v2.
type group interface {
	// apply writes a task's limits. parentQuotaUs is the parent's CFS
	// quota (or -1), which v1 needs to cap the task's.
	apply(l Limits, mode CPUMode, parentQuotaUs int64) error
	// resize writes a parent's CPU quota and memory limit.
	resize(cpus float64, memoryBytes int64) error
	// readLimits reads the limits back from the kernel.
	readLimits() (Limits, error)
	addProc(pid int) error
	procs() ([]int, error)
	procsFiles() []string
	openDir() (*os.File, error)
	stats() (Stats, error)
	// oomNotifier returns a pollable file that becomes readable on memory
	// events; oomKills reads the cumulative OOM-kill count.
	oomNotifier() (*os.File, error)
	oomKills() (uint64, error)
	exists() bool
	// kill SIGKILLs every process and waits until the cgroup is empty.
	kill(ctx context.Context) error
	// remove deletes an empty cgroup; removing a missing one is not an error.
	remove() error
	// children lists the names of the child cgroups.
	children() ([]string, error)
}

// Polling for an emptied cgroup backs off from killPollMin to killPollMax:
// a killed process usually exits within microseconds on an idle machine,
// and within milliseconds on a busy one.
const (
	killPollMin = 50 * time.Microsecond
	killPollMax = 5 * time.Millisecond
)

// waitEmpty polls until g has no process left, SIGKILLing stragglers (a
// process that forked while being listed) on each round.
func waitEmpty(ctx context.Context, g group, signal func(pids []int)) error {
	delay := killPollMin
	for {
		pids, err := g.procs()
		if err != nil {
			return err
		}
		if len(pids) == 0 {
			return nil
		}
		signal(pids)
		if err := sleepCtx(ctx, delay); err != nil {
			return err
		}
		delay = min(2*delay, killPollMax)
	}
}

// sleepCtx sleeps for d or until ctx is done, whichever comes first.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}
