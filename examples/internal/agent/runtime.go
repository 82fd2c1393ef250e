//go:build linux

package agent

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/procfs"
	"golang.org/x/sys/unix"

	"github.com/gleaner/gleaner/monitor"
	"github.com/gleaner/gleaner/reserve"
	"github.com/gleaner/gleaner/rootfs"
)

// runtime runs tasks: isolated (cgroups and a root file system) when the
// host allows it, plain child processes otherwise. Both implementations are
// used: the second is what runs without root.
type runtime interface {
	// isolation describes the isolation for reports: "cgroup v1, pivot_root,
	// ...", "none: ..." (the operator's choice) or "unavailable: <why>".
	isolation() string
	// lends reports whether the agent may lend the machine: not when
	// isolation is unavailable (fail closed).
	lends() bool
	// ownCgroup is the cgroup the monitor measures as Gleaner's own usage;
	// "" means the agent's process tree.
	ownCgroup() string
	// start launches t and returns its process.
	start(ctx context.Context, t *task) (*proc, error)
	// adopt takes over a task a previous agent started; false when it is
	// no longer running.
	adopt(ctx context.Context, t *task) (*proc, bool)
	// usage reads the cumulative CPU seconds and memory bytes of t.
	usage(ctx context.Context, t *task) (cpuSeconds, memBytes float64, err error)
	// throttle sets t's CPU quota (cores).
	throttle(t *task, cpus float64) error
	// kill ends every process of t: SIGTERM, grace, then SIGKILL.
	kill(ctx context.Context, t *task, grace time.Duration) error
	// exec runs args as one of t's commands (a COMMAND health check),
	// where t runs, and reports whether it exited 0; ctx bounds it.
	exec(ctx context.Context, t *task, args []string) (bool, error)
	// oomKilled reports whether the kernel killed a process of t for
	// exceeding its memory limit.
	oomKilled(t *task) bool
	// release frees what t held once it ended: cgroup, root file system.
	release(ctx context.Context, t *task) error
	// resize follows the reservation with the parent cgroup.
	resize(r reserve.Resources) error
	// sweep kills and removes task cgroups that no task record names.
	sweep(ctx context.Context, known map[string]bool)
	// close ends the runtime; unless keep, it removes the parent cgroup.
	close(ctx context.Context, keep bool) error
}

// proc is a running task's main process.
type proc struct {
	pid        int
	startTicks uint64        // /proc/<pid>/stat start time, against PID reuse
	done       chan struct{} // closed when it has ended
	status     exitStatus    // valid once done is closed
}

// exitStatus is how a task's process ended; known is false for adopted
// tasks, whose exit status went to another parent.
type exitStatus struct {
	code   int
	signal syscall.Signal
	known  bool
}

func (s exitStatus) String() string {
	switch {
	case !s.known:
		return "exit status unknown (task adopted after an agent restart)"
	case s.signal != 0:
		return "killed by signal " + s.signal.String()
	default:
		return fmt.Sprintf("exit code %d", s.code)
	}
}

// startTicks reads a process's start time, in clock ticks since boot.
func startTicks(pid int) (uint64, error) {
	p, err := procfs.NewProc(pid)
	if err != nil {
		return 0, err
	}
	st, err := p.Stat()
	if err != nil {
		return 0, err
	}
	return st.Starttime, nil
}

// alive reports whether pid is the process that started at ticks and has
// not exited (a zombie has exited).
func alive(pid int, ticks uint64) bool {
	p, err := procfs.NewProc(pid)
	if err != nil {
		return false
	}
	st, err := p.Stat()
	if err != nil || st.Starttime != ticks {
		return false
	}
	return st.State != "Z" && st.State != "X"
}

// pollProc returns a proc that is done when stillRunning says so; adopted
// tasks are not our children, so they cannot be waited for.
func pollProc(ctx context.Context, pid int, ticks uint64, stillRunning func() bool) *proc {
	p := &proc{pid: pid, startTicks: ticks, done: make(chan struct{})}
	go func() {
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for stillRunning() {
			select {
			case <-ctx.Done():
				return // the agent stops; the task may still run
			case <-t.C:
			}
		}
		close(p.done)
	}()
	return p
}

// taskEnv is the environment of a task's command.
func taskEnv(t *task) []string {
	env := []string{
		"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
		"HOME=/",
		"GLEANER_TASK_ID=" + t.id,
		"GLEANER_APP_ID=" + t.rec.Info.AppID,
	}
	for k, v := range t.rec.Info.Env {
		env = append(env, k+"="+v)
	}
	return env
}

// taskArgs is the command line: /bin/sh -c cmd, or args.
func taskArgs(t *task) []string {
	if len(t.rec.Info.Args) > 0 {
		return t.rec.Info.Args
	}
	return []string{"/bin/sh", "-c", t.rec.Info.Cmd}
}

// plainRuntime runs tasks as child processes on the host's file system,
// each in its own process group in its sandbox directory, when the operator
// chose -isolation=none (operator). Otherwise it stands for isolation that
// is unavailable (reason): the agent then lends nothing and refuses every
// task, failing closed.
type plainRuntime struct {
	operator bool   // -isolation=none: run tasks unisolated
	reason   string // why isolation is unavailable
	fetcher  *rootfs.Fetcher
}

// isolationNone is what an agent run with -isolation=none reports.
const isolationNone = "none: tasks run unisolated as plain processes (-isolation=none)"

func (r *plainRuntime) isolation() string {
	if r.operator {
		return isolationNone
	}
	return "unavailable: " + r.reason
}

func (r *plainRuntime) ownCgroup() string { return "" }

// lends reports whether the agent may lend its machine.
func (r *plainRuntime) lends() bool { return r.operator }

func (r *plainRuntime) start(ctx context.Context, t *task) (*proc, error) {
	if !r.operator {
		return nil, fmt.Errorf("isolation unavailable (%s): this agent runs no task (its operator may start it with -isolation=none)", r.reason)
	}
	if t.rec.Info.Network == "none" {
		return nil, fmt.Errorf("network none needs isolation; this agent runs tasks unisolated (-isolation=none)")
	}
	if _, err := fetchArtifacts(ctx, r.fetcher, t.rec.Info.Fetch, t.sandbox, int64(t.res.DiskBytes)); err != nil {
		return nil, err
	}
	args := taskArgs(t)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = t.sandbox
	cmd.Env = taskEnv(t)
	cmd.Stdout, cmd.Stderr = t.stdout, t.stderr
	// Own process group, so that kill reaches the whole task; no
	// parent-death signal, so that tasks outlive an agent restart. The
	// task runs as the agent's own user: the operator chose no isolation.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	ticks, _ := startTicks(cmd.Process.Pid)
	p := &proc{pid: cmd.Process.Pid, startTicks: ticks, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		err := cmd.Wait()
		p.status = exitStatus{known: true}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			ws := ee.Sys().(syscall.WaitStatus)
			p.status.code = ws.ExitStatus()
			if ws.Signaled() {
				p.status.signal = ws.Signal()
			}
		} else if err != nil {
			p.status.code = -1
		}
	}()
	return p, nil
}

func (r *plainRuntime) adopt(ctx context.Context, t *task) (*proc, bool) {
	pid, ticks := t.rec.PID, t.rec.StartTicks
	if pid <= 0 || !alive(pid, ticks) {
		return nil, false
	}
	return pollProc(ctx, pid, ticks, func() bool { return alive(pid, ticks) }), true
}

func (r *plainRuntime) usage(ctx context.Context, t *task) (float64, float64, error) {
	if t.proc == nil {
		return 0, 0, nil
	}
	tree, err := monitor.NewProcessTree("/proc", t.proc.pid)
	if err != nil {
		return 0, 0, err
	}
	u, err := tree.Usage(ctx)
	return u.CPUSeconds, float64(u.MemoryBytes), err
}

func (r *plainRuntime) throttle(*task, float64) error {
	return errors.New("no CPU limits without cgroups")
}

func (r *plainRuntime) kill(ctx context.Context, t *task, grace time.Duration) error {
	p := t.proc
	if p == nil {
		return nil
	}
	signal := func(sig syscall.Signal) {
		if alive(p.pid, p.startTicks) {
			// The process group has the task's PID as its ID.
			if err := unix.Kill(-p.pid, sig); err != nil {
				unix.Kill(p.pid, sig)
			}
		}
	}
	signal(unix.SIGTERM)
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-p.done:
		return nil
	case <-timer.C:
	case <-ctx.Done():
	}
	signal(unix.SIGKILL)
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (r *plainRuntime) exec(ctx context.Context, t *task, args []string) (bool, error) {
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Dir = t.sandbox
	cmd.Env = taskEnv(t)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return unix.Kill(-cmd.Process.Pid, unix.SIGKILL) }
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		return false, fmt.Errorf("timed out: %w", ctx.Err())
	case errors.As(err, &ee):
		return false, nil
	case err != nil:
		return false, err
	}
	return true, nil
}

func (r *plainRuntime) oomKilled(*task) bool                   { return false }
func (r *plainRuntime) release(context.Context, *task) error   { return nil }
func (r *plainRuntime) resize(reserve.Resources) error         { return nil }
func (r *plainRuntime) sweep(context.Context, map[string]bool) {}
func (r *plainRuntime) close(context.Context, bool) error      { return nil }

// why explains a failed isolation probe in one short line.
func why(err error) string {
	s := strings.ReplaceAll(err.Error(), "\n", " ")
	if len(s) > 160 {
		s = s[:160] + "..."
	}
	return s
}
