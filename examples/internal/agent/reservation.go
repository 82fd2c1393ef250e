//go:build linux

package agent

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/gleaner/gleaner/examples/internal/api"
	"github.com/gleaner/gleaner/monitor"
	"github.com/gleaner/gleaner/reserve"
)

// sampleLoop turns every monitor sample into a reservation (reserve, then the
// operator's bounds), applies it (QoS, then the parent cgroup) and reads the
// tasks' usage for the next QoS decision.
func (a *Agent) sampleLoop(ctx context.Context, sub *monitor.Subscription) {
	changes := a.res.Subscribe()
	defer changes.Close()
	for {
		select {
		case <-ctx.Done():
			return
		case c := <-changes.C():
			a.log.Info("reservation estimate changed", "from", c.From, "to", c.To, "reason", c.Reason)
			if err := saveJSON(a.cfg.estimateFile(), c.To); err != nil {
				a.log.Warn("reservation: cannot keep the estimate for a restart", "err", err)
			}
			a.mu.Lock()
			a.lastChange, a.lastChangeAt = c.Reason, c.Time
			a.mu.Unlock()
			a.m.changes.Inc()
		case s, ok := <-sub.C():
			if !ok {
				return
			}
			a.observe(ctx, s)
		}
	}
}

// observe handles one monitor sample.
func (a *Agent) observe(ctx context.Context, s monitor.Sample) {
	a.readTaskUsage(ctx, s.Host.Time)
	rs, ok := toReserve(s, a.capOverride, a.ownDisk())
	if !ok {
		return
	}
	if a.bizCgroup != nil && !a.businessFromCgroup(ctx, &rs) {
		return
	}
	if _, _, err := a.res.Observe(rs); err != nil {
		a.log.Warn("reservation: sample refused", "err", err)
		return
	}
	a.mu.Lock()
	a.capacity, a.business, a.own = rs.Capacity, rs.Business, ownUsage(s, a.ownDiskLocked())
	if a.rt.ownCgroup() == "" {
		// Without task cgroups the monitor measures the agent's own
		// process tree, which holds the agent (and, in the demo, every
		// other component): what is harvested is what the tasks use.
		a.own.CPUCores, a.own.MemoryBytes = a.taskUsageLocked()
	}
	a.estimate = a.res.Current()
	a.haveSample = true
	a.samples++
	a.mu.Unlock()
	a.apply()
}

// apply bounds the estimate by the operator's cap and floor, evicts and
// throttles what no longer fits, and resizes the parent cgroup.
func (a *Agent) apply() {
	a.applyMu.Lock()
	defer a.applyMu.Unlock()
	a.mu.Lock()
	if !a.haveSample {
		a.mu.Unlock()
		return
	}
	eff := bound(a.estimate, a.capacity, a.limit, a.floor)
	if !a.rt.lends() {
		eff = reserve.Resources{} // fail closed: no isolation, nothing lent
	}
	prev := a.effective
	a.effective = eff
	business := a.business
	tasks := a.qosTasksLocked()
	a.mu.Unlock()
	a.m.setReservation(eff)
	if eff != prev {
		a.kickReport()
	}

	// Growing, the parent grows first so that raised task quotas fit in it
	// (cgroup v1 refuses a child quota above its parent's); shrinking, tasks
	// are throttled and evicted first.
	growing := eff.CPUCores >= prev.CPUCores
	if growing {
		a.resize(eff)
	}
	actions, err := a.cfg.QoS.Decide(eff, business, tasks)
	if err != nil {
		a.log.Warn("qos", "err", err)
	}
	throttled := map[string]float64{}
	for _, act := range actions {
		switch act.Kind {
		case reserve.Evict:
			if a.killTask(act.TaskID, api.TaskKilled, api.ReasonEvicted+": "+act.Reason) {
				a.m.evictions.Inc()
				a.mu.Lock()
				if t := a.tasks[act.TaskID]; t != nil && t.evictedAt == 0 {
					t.evictedAt = a.samples
					t.rec.Eviction = &api.Eviction{Resource: act.Resource, Priority: t.rec.Info.Priority, Winner: act.Winner}
				}
				a.mu.Unlock()
				a.log.Info("task evicted", "task", act.TaskID, "reason", act.Reason, "winner", act.Winner)
			}
		case reserve.Throttle:
			throttled[act.TaskID] = act.CPULimit
		}
	}
	a.setQuotas(throttled, actions)
	if !growing {
		a.resize(eff)
	}
}

// resize sets the parent cgroup to eff unless it already is; applyMu is
// held.
func (a *Agent) resize(eff reserve.Resources) {
	if a.resized != nil && *a.resized == eff {
		return
	}
	if err := a.rt.resize(eff); err != nil {
		a.log.Warn("resize parent cgroup", "reservation", eff, "err", err)
		a.resized = nil // try again with the next sample
		return
	}
	a.resized = &eff
}

// businessFromCgroup replaces the business CPU and memory of rs by the
// usage of Config.BusinessCgroup. It returns false until it has the two
// readings a CPU rate needs, or when the cgroup cannot be read.
func (a *Agent) businessFromCgroup(ctx context.Context, rs *reserve.Sample) bool {
	u, err := a.bizCgroup.Usage(ctx)
	if err != nil {
		a.log.Warn("business cgroup", "cgroup", a.cfg.BusinessCgroup, "err", err)
		a.bizCPU.Reset()
		return false
	}
	cores, ok := a.bizCPU.Observe(u.CPUSeconds, rs.Time)
	if !ok {
		return false
	}
	rs.Business.CPUCores = cores
	rs.Business.MemoryBytes = float64(u.MemoryBytes)
	return true
}

// setQuotas throttles the tasks QoS named and gives the others their full
// quota back.
func (a *Agent) setQuotas(throttled map[string]float64, actions []reserve.Action) {
	a.mu.Lock()
	var todo []*task
	want := map[*task]float64{}
	for _, t := range a.tasks {
		if t.terminal() || t.killState != "" || t.proc == nil {
			continue
		}
		q, ok := throttled[t.id]
		if !ok {
			q = t.res.CPUCores
		}
		if abs(q-t.cpuLimit) < 0.005 {
			continue
		}
		todo = append(todo, t)
		want[t] = q
	}
	a.mu.Unlock()
	for _, t := range todo {
		q := want[t]
		if err := a.rt.throttle(t, q); err != nil {
			a.log.Debug("set task CPU quota", "task", t.id, "cpus", q, "err", err)
			continue
		}
		a.mu.Lock()
		down := q < t.cpuLimit
		t.cpuLimit = q
		if down && t.throttledAt == 0 {
			t.throttledAt = a.samples
		}
		a.mu.Unlock()
		if down {
			a.m.throttles.Inc()
			a.log.Info("task throttled", "task", t.id, "cpus", q, "reason", reasonOf(actions, t.id))
		} else {
			a.log.Info("task quota raised", "task", t.id, "cpus", q)
		}
	}
}

func reasonOf(actions []reserve.Action, id string) string {
	for _, a := range actions {
		if a.TaskID == id {
			return a.Reason
		}
	}
	return ""
}

func abs(v float64) float64 { return max(v, -v) }

// qosTasksLocked lists the running tasks as QoS sees them; a.mu is held.
func (a *Agent) qosTasksLocked() []reserve.Task {
	out := make([]reserve.Task, 0, len(a.tasks))
	for _, t := range a.tasks {
		if t.terminal() || t.killState != "" || t.proc == nil {
			continue
		}
		out = append(out, reserve.Task{
			ID:          t.id,
			Priority:    t.rec.Info.Priority,
			Revocable:   t.rec.Info.Revocable,
			Start:       t.rec.Started,
			CPULimit:    t.res.CPUCores,
			CPUUsage:    t.cpuRate,
			MemoryLimit: t.res.MemoryBytes,
			MemoryUsage: t.memBytes,
		})
	}
	return out
}

// readTaskUsage reads every running task's CPU and memory use.
func (a *Agent) readTaskUsage(ctx context.Context, now time.Time) {
	a.mu.Lock()
	var running []*task
	for _, t := range a.tasks {
		if !t.terminal() && t.proc != nil {
			running = append(running, t)
		}
	}
	a.mu.Unlock()
	for _, t := range running {
		cpu, mem, err := a.rt.usage(ctx, t)
		if err != nil {
			continue
		}
		a.mu.Lock()
		if cores, ok := t.cpu.Observe(cpu, now); ok {
			t.cpuRate = cores
		}
		t.memBytes = mem
		a.mu.Unlock()
	}
}

// ownDisk is what the task sandboxes hold, as last measured.
func (a *Agent) ownDisk() float64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.ownDiskLocked()
}

func (a *Agent) ownDiskLocked() float64 {
	var sum float64
	for id := range a.tasks {
		if u, ok := a.disk.Usage(id); ok {
			sum += float64(u.Bytes)
		}
	}
	return sum
}

// ReservationInfo is what GET /reservation answers. Resources are Mesos
// text, mem and disk in MB.
type ReservationInfo struct {
	// Reservation is what the agent lends now: the estimate within the
	// operator's cap and floor.
	Reservation string `json:"reservation"`
	// Estimate is what reserve's policy and hysteresis say.
	Estimate string `json:"estimate"`
	Capacity string `json:"capacity"`
	Business string `json:"business"`
	// Harvested is what the agent's tasks use.
	Harvested string `json:"harvested"`
	// Cap and Floor are the operator's bounds ("" when unset).
	Cap   string `json:"cap"`
	Floor string `json:"floor"`
	// Guaranteed is what the agent lends whatever the business does: the
	// floor within capacity and cap, with the ports. Tasks placed within
	// it are not revocable.
	Guaranteed string `json:"guaranteed"`
	// Policy names the estimator; LastChange says why the estimate last
	// changed, at LastChangeTime.
	Policy         string    `json:"policy"`
	LastChange     string    `json:"last_change,omitempty"`
	LastChangeTime time.Time `json:"last_change_time,omitzero"`
	Isolation      string    `json:"isolation"`
	// Ready is false until the first two samples have been read.
	Ready bool `json:"ready"`
	// Draining is the master's word that the agent is being drained: it
	// gets no new tasks and reports itself drained once it holds none.
	Draining bool `json:"draining"`
}

// ReservationOverride is the body of PUT /reservation: an operator's cap and
// floor on the reservation, in Mesos text with any of cpus, mem and disk
// (mem and disk in MB). An empty or missing field clears that bound.
type ReservationOverride struct {
	Cap   string `json:"cap"`
	Floor string `json:"floor"`
}

// reservation returns the reservation and what it was made from.
func (a *Agent) reservation() ReservationInfo {
	a.mu.Lock()
	defer a.mu.Unlock()
	return ReservationInfo{
		Reservation:    a.withPorts(mesos(a.effective), a.effective.CPUCores > 0 || a.effective.MemoryBytes > 0),
		Estimate:       mesos(a.estimate),
		Capacity:       a.withPorts(mesos(a.capacity), true),
		Business:       mesos(a.business),
		Harvested:      mesos(a.own),
		Cap:            a.limit.String(),
		Floor:          a.floor.String(),
		Guaranteed:     a.withPorts(mesos(guaranteed(a.capacity, a.limit, a.floor)), true),
		Policy:         a.cfg.Policy.String(),
		LastChange:     a.lastChange,
		LastChangeTime: a.lastChangeAt,
		Isolation:      a.rt.isolation(),
		Ready:          a.haveSample,
		Draining:       a.draining,
	}
}

// setReservation sets the operator's cap and floor and applies them at once:
// the parent cgroup is resized and tasks that no longer fit are throttled or
// evicted, with no restart. The bounds are kept in the agent's directory and
// hold after a restart too. Errors match ErrInvalid and name the field.
func (a *Agent) setReservation(o ReservationOverride) (ReservationInfo, error) {
	limit, err := parsePartial(strings.TrimSpace(o.Cap))
	if err != nil {
		return ReservationInfo{}, fmt.Errorf("%w: cap %q: %w", ErrInvalid, o.Cap, err)
	}
	floor, err := parsePartial(strings.TrimSpace(o.Floor))
	if err != nil {
		return ReservationInfo{}, fmt.Errorf("%w: floor %q: %w", ErrInvalid, o.Floor, err)
	}
	for _, pair := range []struct {
		name   string
		hi, lo *float64
	}{{"cpus", limit.CPU, floor.CPU}, {"mem", limit.Mem, floor.Mem}, {"disk", limit.Disk, floor.Disk}} {
		if pair.hi != nil && pair.lo != nil && *pair.lo > *pair.hi {
			return ReservationInfo{}, fmt.Errorf("%w: floor %s %v is above cap %v", ErrInvalid, pair.name, *pair.lo, *pair.hi)
		}
	}
	a.mu.Lock()
	a.limit, a.floor = limit, floor
	a.mu.Unlock()
	if err := saveOverride(a.cfg.overrideFile(), ReservationOverride{Cap: limit.String(), Floor: floor.String()}); err != nil {
		a.log.Warn("save operator bounds", "err", err)
	}
	a.log.Info("operator bounds set", "cap", limit.String(), "floor", floor.String())
	a.apply()
	return a.reservation(), nil
}

// taskUsageLocked sums the CPU (cores) and memory (bytes) the running tasks
// used at the last reading; a.mu is held.
func (a *Agent) taskUsageLocked() (cpu, mem float64) {
	for _, t := range a.tasks {
		if !t.terminal() {
			cpu += t.cpuRate
			mem += t.memBytes
		}
	}
	return cpu, mem
}
