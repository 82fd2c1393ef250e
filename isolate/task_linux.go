package isolate

import (
	"context"
	"fmt"
	"os"
	"sync"
)

// Task is one task's cgroup under the parent. It is safe for concurrent use.
type Task struct {
	iso  *Isolator
	name string
	g    group

	mu        sync.Mutex
	limits    Limits
	mode      CPUMode
	fellBack  bool
	destroyed bool
}

// Name returns the task's name (its cgroup's directory name).
func (t *Task) Name() string { return t.name }

// Limits returns the limits as last set (or, for a loaded task, as read back).
func (t *Task) Limits() Limits {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.limits
}

// CPUMode returns how the CPU limit is enforced: Soft for a Hard request
// that fell back to shares (see CPUFallback).
func (t *Task) CPUMode() CPUMode {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.mode
}

// CPUFallback reports whether a Hard CPU request is enforced with shares
// because the kernel lacks CFS bandwidth control (WithSoftCPUFallback).
func (t *Task) CPUFallback() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.fellBack
}

// Update changes the limits of a running task, e.g. to throttle it when
// the reservation shrinks. Lowering memory below the task's use fails.
func (t *Task) Update(l Limits) error {
	if err := l.Validate(); err != nil {
		return err
	}
	i := t.iso
	mode, fellBack, err := cpuMode(l, i.feat, i.fallback)
	if err != nil {
		return err
	}
	if l.PidsMax > 0 && !i.feat.Pids {
		return fmt.Errorf("%w: PidsMax needs the pids controller", ErrNotSupported)
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.destroyed {
		return fmt.Errorf("%w: task %q destroyed", ErrNotFound, t.name)
	}
	if err := t.g.apply(l, mode, i.parentQuotaUs); err != nil {
		return err
	}
	t.limits, t.mode, t.fellBack = l, mode, fellBack
	return nil
}

// AddPID moves process pid (with all its threads) into the task's cgroup.
func (t *Task) AddPID(pid int) error {
	if pid <= 0 {
		return invalid("pid", pid, "must be positive")
	}
	return t.g.addProc(pid)
}

// PIDs lists the processes in the task's cgroup.
func (t *Task) PIDs() ([]int, error) { return t.g.procs() }

// ProcsFiles returns the absolute path of the task cgroup's cgroup.procs in
// every hierarchy (one on cgroup v2). A launcher that must place a child
// before it runs user code has the child (a re-executed init helper) write
// its own PID into each file before it execs the task.
func (t *Task) ProcsFiles() []string { return t.g.procsFiles() }

// OpenDir opens the task's cgroup directory, for
// syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(f.Fd())}, which
// starts the child inside the cgroup (clone3 CLONE_INTO_CGROUP). It needs
// cgroup v2: on v1 it fails with ErrNotSupported (use ProcsFiles). The
// caller closes the file once the child has started.
func (t *Task) OpenDir() (*os.File, error) { return t.g.openDir() }

// Stats reads the task's usage; its memory is the working set, counted as
// package monitor counts a business cgroup (see Stats.MemoryBytes). A
// control file that does not parse gives an error wrapping ErrMalformed, a
// removed cgroup ErrNotFound.
func (t *Task) Stats() (Stats, error) { return t.g.stats() }

// Kill SIGKILLs every process in the task's cgroup and waits until the
// cgroup is empty. Nothing escapes by forking: on cgroup v2 the kernel kills
// the whole cgroup (cgroup.kill); on v1, when a process appeared between
// listing and signalling, the cgroup is frozen, killed and thawed.
func (t *Task) Kill(ctx context.Context) error {
	return t.g.kill(ctx)
}

// Destroy kills every process and removes the task's cgroup. It is
// idempotent: destroying a destroyed (or vanished) task returns nil.
func (t *Task) Destroy(ctx context.Context) error {
	t.mu.Lock()
	if t.destroyed {
		t.mu.Unlock()
		return nil
	}
	err := t.g.kill(ctx)
	if err == nil {
		err = t.g.remove()
	}
	if err == nil {
		t.destroyed = true
	}
	t.mu.Unlock()
	if err != nil {
		return wrap(err, "destroy task %q", t.name)
	}
	t.iso.forget(t.name)
	t.iso.log.Debug("isolate: destroyed task", "task", t.name)
	return nil
}
