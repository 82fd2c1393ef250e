//go:build linux

package agent

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/gleaner/gleaner/examples/internal/api"
	"github.com/gleaner/gleaner/isolate"
	"github.com/gleaner/gleaner/monitor"
	"github.com/gleaner/gleaner/reserve"
	"github.com/gleaner/gleaner/rootfs"
)

// task is one task the agent holds. Its fields are guarded by Agent.mu,
// except proc and cg, which are set once before other goroutines read them.
type task struct {
	id      string
	rec     record
	res     reserve.Resources
	sandbox string
	proc    *proc
	cg      *isolate.Task
	cred    *rootfs.Credential // the user the policy chose
	userNS  *rootfs.IDMap      // root mapped to an unprivileged host user
	poolUID uint32             // the ID of Config.TaskUIDs it holds, or 0
	root    string             // the task's root directory, once prepared

	cpuLimit float64         // current CPU quota: res.CPUCores unless throttled
	cpu      monitor.CPURate // over the cumulative readings
	cpuRate  float64         // cores, over the last sampling interval
	memBytes float64

	// throttledAt and evictedAt are the numbers of the samples (Agent.samples)
	// that first throttled and evicted the task, for tests.
	throttledAt, evictedAt uint64

	// logs are the task's stdout and stderr (logs.go); set once before the
	// task starts, or at adoption. stdout and stderr are the FIFOs' ends
	// the runtime gives the task, closed once it started.
	logs           *taskLogs
	stdout, stderr *os.File

	killState  api.TaskState // set when the agent kills the task: its final state
	killReason string
	killGrace  time.Duration // between SIGTERM and SIGKILL, once killState is set
	ended      time.Time
}

func (t *task) terminal() bool { return t.rec.State.Terminal() }

// setUser sets who t runs as; nil leaves it as the runtime's default (a
// task that is not isolated).
func (t *task) setUser(u *taskUser) {
	if u != nil {
		t.cred, t.userNS, t.poolUID = u.Cred, u.UserNS, u.PoolUID
	}
}

// poolUID is the ID of Config.TaskUIDs u holds, 0 for none or a nil u.
func (u *taskUser) poolUID() uint32 {
	if u == nil {
		return 0
	}
	return u.PoolUID
}

// releaseUID gives back an ID of Config.TaskUIDs; 0 is none.
func (a *Agent) releaseUID(uid uint32) {
	if uid != 0 && a.uids != nil {
		a.uids.release(uid)
	}
}

// launch starts a task, as a LAUNCH command from the master does. It returns
// an error matching ErrInvalid, naming the field, for a task that cannot be
// run; a task that fails to start is reported as TASK_FAILED instead.
func (a *Agent) launch(info api.TaskInfo) error {
	if err := isolate.ValidateName(info.TaskID); err != nil {
		return fmt.Errorf("%w: task_id %q: %w", ErrInvalid, info.TaskID, err)
	}
	if (info.Cmd == "") == (len(info.Args) == 0) {
		return fmt.Errorf("%w: task %s: exactly one of cmd and args must be set", ErrInvalid, info.TaskID)
	}
	res, err := taskResources(info.Resources)
	if err != nil {
		return fmt.Errorf("%w: task %s: resources: %w", ErrInvalid, info.TaskID, err)
	}
	if info.Network != "" && info.Network != "host" && info.Network != "none" {
		return fmt.Errorf("%w: task %s: network %q: want host or none", ErrInvalid, info.TaskID, info.Network)
	}
	if !a.rt.lends() {
		return fmt.Errorf("task %s: isolation %s: this agent lends nothing and runs no task", info.TaskID, a.rt.isolation())
	}
	if err := validChecks(info.HealthChecks); err != nil {
		return fmt.Errorf("%w: task %s: %w", ErrInvalid, info.TaskID, err)
	}
	var user *taskUser
	if isIsolated(a.rt.isolation()) {
		u, err := a.taskCredential(info, a.uids)
		if err != nil {
			return err
		}
		user = &u
	}
	a.mu.Lock()
	if old, ok := a.tasks[info.TaskID]; ok {
		if !old.terminal() {
			a.mu.Unlock()
			a.releaseUID(user.poolUID())
			return fmt.Errorf("%w: task_id %q: already running", ErrInvalid, info.TaskID)
		}
		a.dropLocked(old)
	}
	// A sandbox kept from an earlier task of the same ID goes: its logs
	// would mix with this one's.
	a.removeSandbox(info.TaskID)
	now := time.Now()
	t := &task{
		id:       info.TaskID,
		res:      res,
		sandbox:  filepath.Join(a.cfg.sandboxDir(), info.TaskID),
		cpuLimit: res.CPUCores,
		rec: record{Info: info, State: api.TaskStarting, Isolated: isIsolated(a.rt.isolation()),
			Started: now, Updated: now, User: user},
	}
	t.setUser(user)
	a.tasks[t.id] = t
	a.persistLocked(t)
	a.m.launches.Inc()
	a.taskWG.Add(1)
	a.mu.Unlock()
	a.kickReport()
	go a.runTask(t)
	return nil
}

// runTask starts t and waits for it to end.
func (a *Agent) runTask(t *task) {
	defer a.taskWG.Done()
	if err := os.MkdirAll(t.sandbox, 0o755); err != nil {
		a.ended(t, exitStatus{}, fmt.Errorf("sandbox: %w", err))
		return
	}
	if err := a.openLogs(t, logsStart); err != nil {
		a.ended(t, exitStatus{}, fmt.Errorf("sandbox logs: %w", err))
		return
	}
	p, err := a.rt.start(a.starts, t)
	// The task holds the FIFOs now, or never will.
	t.stdout.Close()
	t.stderr.Close()
	if err != nil {
		a.ended(t, exitStatus{}, err)
		return
	}
	a.mu.Lock()
	t.proc = p
	t.rec.PID, t.rec.StartTicks = p.pid, p.startTicks
	killing, grace := t.killState != "", t.killGrace
	if !killing {
		t.rec.State = api.TaskRunning
		t.rec.Updated = time.Now()
	}
	a.persistLocked(t)
	a.mu.Unlock()
	a.log.Info("task running", "task", t.id, "pid", p.pid)
	a.kickReport()
	if killing {
		go a.rt.kill(a.bg, t, grace)
	}
	a.watchDisk(t)
	a.watchHealth(t)
	a.waitTask(t)
}

// waitTask waits for t's process to end, or for the agent to exit leaving
// it running.
func (a *Agent) waitTask(t *task) {
	select {
	case <-t.proc.done:
		a.ended(t, t.proc.status, nil)
	case <-a.stopping:
	}
}

// watchDisk enforces t's disk resources on its sandbox.
func (a *Agent) watchDisk(t *task) {
	if t.res.DiskBytes <= 0 {
		return
	}
	limit := int64(t.res.DiskBytes)
	err := a.disk.Watch(t.id, t.sandbox, limit, func(u isolate.DiskUsage) {
		reason := fmt.Sprintf("disk limit exceeded: sandbox holds %d MB of %d MB", u.Bytes/mb, limit/mb)
		a.m.diskKills.Inc()
		a.killTask(t.id, api.TaskFailed, reason)
	})
	if err != nil {
		a.log.Warn("watch task disk", "task", t.id, "err", err)
	}
}

// ended records how t ended and frees what it held. startErr is set when it
// never started.
func (a *Agent) ended(t *task, st exitStatus, startErr error) {
	a.disk.Unwatch(t.id)
	oom := startErr == nil && a.rt.oomKilled(t)
	if err := a.rt.release(a.bg, t); err != nil {
		// Something of the task may still run: its ID stays taken.
		a.log.Warn("release task", "task", t.id, "err", err)
	} else {
		a.releaseUID(t.poolUID)
	}
	// The root and the image are no longer needed; stdout and stderr stay
	// with the sandbox until its garbage collection.
	os.RemoveAll(filepath.Join(t.sandbox, "rootfs"))
	os.RemoveAll(filepath.Join(t.sandbox, "bundle"))
	// What the task wrote last is in the files before its end is told.
	if t.logs != nil {
		t.logs.drain(logDrainWait)
	}

	a.mu.Lock()
	state, reason, msg := api.TaskFinished, "", st.String()
	switch {
	case t.killState != "":
		state, reason = t.killState, t.killReason
	case startErr != nil:
		state, reason, msg = api.TaskFailed, "launch failed", startErr.Error()
	case oom:
		state = api.TaskFailed
		reason = fmt.Sprintf("memory limit exceeded: the kernel killed the task at its limit of %d MB", int64(t.res.MemoryBytes)/mb)
	case !st.known || st.code != 0 || st.signal != 0:
		state = api.TaskFailed
	}
	t.rec.State, t.rec.Reason, t.rec.Message, t.rec.Updated = state, reason, msg, time.Now()
	t.ended = time.Now()
	a.persistLocked(t)
	a.m.ended.WithLabelValues(string(state)).Inc()
	a.mu.Unlock()
	a.log.Info("task ended", "task", t.id, "state", state, "reason", reason, "message", msg)
	a.kickReport()
}

// kill kills a task, as a KILL command from the master does; the task ends
// as TASK_KILLED with reason.
func (a *Agent) kill(taskID, reason string) error {
	if !a.killTask(taskID, api.TaskKilled, reason) {
		return fmt.Errorf("%w: task_id %q: no such running task", ErrInvalid, taskID)
	}
	return nil
}

// killTask kills a running task; it ends in state with reason. It reports
// false when no such task is running.
func (a *Agent) killTask(id string, state api.TaskState, reason string) bool {
	return a.killTaskWithin(id, state, reason, 0)
}

// killTaskWithin is killTask with the time between SIGTERM and SIGKILL:
// graceSeconds when positive, else the task's own (TaskInfo.KillGraceSeconds),
// else the agent's Config.KillGrace.
func (a *Agent) killTaskWithin(id string, state api.TaskState, reason string, graceSeconds float64) bool {
	a.mu.Lock()
	t, ok := a.tasks[id]
	if !ok || t.terminal() || t.killState != "" {
		running := ok && !t.terminal()
		a.mu.Unlock()
		return running
	}
	t.killState, t.killReason = state, reason
	started := t.proc != nil
	if graceSeconds <= 0 {
		graceSeconds = t.rec.Info.KillGraceSeconds
	}
	grace := a.cfg.KillGrace
	if graceSeconds > 0 {
		grace = time.Duration(graceSeconds * float64(time.Second))
	}
	t.killGrace = grace
	a.mu.Unlock()
	a.log.Info("killing task", "task", id, "state", state, "reason", reason)
	if started {
		a.taskWG.Add(1)
		go func() {
			defer a.taskWG.Done()
			if err := a.rt.kill(a.bg, t, grace); err != nil {
				a.log.Warn("kill task", "task", id, "err", err)
			}
		}()
	}
	return true
}

// taskStatuses returns the status of every task the agent holds, sorted by ID.
func (a *Agent) taskStatuses() []api.TaskStatus {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]api.TaskStatus, 0, len(a.tasks))
	for _, t := range a.tasks {
		out = append(out, t.rec.status(a.cfg.ID))
	}
	slices.SortFunc(out, func(x, y api.TaskStatus) int { return strings.Compare(x.TaskID, y.TaskID) })
	return out
}

// persistLocked writes t's record; a.mu is held.
func (a *Agent) persistLocked(t *task) {
	if err := saveRecord(a.cfg.stateDir(), t.rec); err != nil {
		a.log.Warn("save task state", "task", t.id, "err", err)
	}
}

// dropLocked forgets an ended task, whose final status the master took:
// its record goes, its sandbox stays for the garbage collection
// (sandboxGC), marked with the time the task ended; a.mu is held.
func (a *Agent) dropLocked(t *task) {
	delete(a.tasks, t.id)
	if err := removeRecord(a.cfg.stateDir(), t.id); err != nil {
		a.log.Warn("remove task state", "task", t.id, "err", err)
	}
	if t.logs != nil {
		t.logs.close()
	}
	if err := markEnded(a.cfg.sandboxDir(), t.id, t.ended); err != nil {
		a.log.Warn("keep sandbox", "task", t.id, "err", err)
	}
}

// dropReported forgets ended tasks whose final status the master has taken
// (reported holds the IDs and states sent), and, without a master, ended
// tasks older than the retention.
func (a *Agent) dropReported(reported map[string]api.TaskState) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for id, t := range a.tasks {
		if !t.terminal() {
			continue
		}
		if st, ok := reported[id]; ok && st == t.rec.State {
			a.dropLocked(t)
		} else if reported == nil && time.Since(t.ended) > a.cfg.Retention {
			a.dropLocked(t)
		}
	}
}

// adopt takes over the tasks in the records a previous agent left: those
// still running are watched again, those that ended meanwhile are reported
// failed, and task cgroups nobody records are removed.
func (a *Agent) adopt() {
	recs, errs := loadRecords(a.cfg.stateDir())
	for _, err := range errs {
		a.log.Warn("task state", "err", err)
	}
	known := map[string]bool{}
	for _, r := range recs {
		res, err := taskResources(r.Info.Resources)
		if err != nil {
			a.log.Warn("task state: bad resources; dropping", "task", r.Info.TaskID, "err", err)
			removeRecord(a.cfg.stateDir(), r.Info.TaskID)
			continue
		}
		t := &task{id: r.Info.TaskID, rec: r, res: res, cpuLimit: res.CPUCores,
			sandbox: filepath.Join(a.cfg.sandboxDir(), r.Info.TaskID)}
		if r.User == nil && r.Isolated && !t.terminal() {
			// A record from before users were recorded: the policy
			// without Config.TaskUIDs chose its user then.
			if u, err := a.taskCredential(r.Info, nil); err == nil {
				r.User = &u
			}
		}
		t.setUser(r.User)
		if a.uids != nil && t.poolUID != 0 && !t.terminal() {
			a.uids.hold(t.poolUID, t.id)
		}
		known[t.id] = true
		a.tasks[t.id] = t
		if t.terminal() {
			t.ended = r.Updated
			if err := a.openLogs(t, logsEnded); err != nil {
				a.log.Warn("task logs", "task", t.id, "err", err)
			}
			continue
		}
		// Copy the task's output again from where the last agent left it
		// in the FIFOs; a task that ended meanwhile leaves them empty.
		if err := a.openLogs(t, logsAdopt); err != nil {
			a.log.Warn("task logs", "task", t.id, "err", err)
		}
		var p *proc
		ok := false
		if r.Isolated == isIsolated(a.rt.isolation()) {
			p, ok = a.rt.adopt(a.bg, t)
		}
		if !ok {
			a.log.Info("task ended while the agent was away", "task", t.id)
			a.taskWG.Add(1)
			go func() {
				defer a.taskWG.Done()
				a.ended(t, exitStatus{}, nil)
			}()
			continue
		}
		t.proc = p
		a.m.adopted.Inc()
		a.log.Info("adopted running task", "task", t.id, "pid", p.pid)
		a.taskWG.Add(1)
		go func() {
			defer a.taskWG.Done()
			a.watchDisk(t)
			a.watchHealth(t)
			a.waitTask(t)
		}()
	}
	a.rt.sweep(a.bg, known)
	// Sandboxes nobody records are kept ones (marked ended) or what an
	// interrupted launch or drop left.
	if entries, err := os.ReadDir(a.cfg.sandboxDir()); err == nil {
		for _, e := range entries {
			if _, kept := endedAt(a.cfg.sandboxDir(), e.Name()); !known[e.Name()] && !kept {
				p := filepath.Join(a.cfg.sandboxDir(), e.Name())
				if err := unmountRoot(p); err != nil {
					a.log.Warn("stale sandbox", "dir", p, "err", err)
				}
				os.RemoveAll(p)
			}
		}
	}
}
