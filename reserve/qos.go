package reserve

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Task is a running harvested task as QoS sees it.
type Task struct {
	ID       string
	Priority int       // higher is more important; evicted last
	Start    time.Time // younger tasks are evicted first within a priority
	// Revocable marks a task placed on resources the business may take
	// back, as Mesos's oversubscription marks revocable resources. Every
	// revocable task is evicted before any task that is not (one placed
	// within what the operator guarantees to lend), whatever their
	// priorities.
	Revocable bool
	// CPULimit is the task's CFS quota in cores; 0 means no quota, and the
	// task then holds what it uses.
	CPULimit, CPUUsage float64
	// MemoryUsage is what the task holds in memory (bytes); MemoryLimit is
	// informational (the parent cgroup's limit follows the reservation).
	MemoryLimit, MemoryUsage float64
}

// cpuHeld is what the task holds of the CPU reservation.
func (t Task) cpuHeld() float64 {
	if t.CPULimit > 0 {
		return t.CPULimit
	}
	return t.CPUUsage
}

// ActionKind is what QoS does to a task.
type ActionKind int

const (
	// Throttle lowers the task's CFS quota to Action.CPULimit.
	Throttle ActionKind = iota + 1
	// Evict kills the task and frees all it holds.
	Evict
)

func (k ActionKind) String() string {
	switch k {
	case Throttle:
		return "throttle"
	case Evict:
		return "evict"
	}
	return fmt.Sprintf("ActionKind(%d)", int(k))
}

// Action is one QoS decision.
type Action struct {
	Kind     ActionKind
	TaskID   string
	CPULimit float64 // Throttle: the new CFS quota in cores
	Resource string  // "memory" or "CPU": which shortage caused it
	Reason   string  // for a person: what rose, what is held, why this task
	// Winner says, for an eviction, who gets what it frees: the business,
	// whose usage rose, and the tasks kept running over the victim
	// ("business (memory 3.1 GiB); kept: web.1 (priority 10)").
	Winner string
}

// QoS decides what to do when harvested tasks hold more than the
// reservation, in the manner of Mesos's QoS controller and Koordinator's CPU
// suppression and memory eviction:
//
//   - memory cannot be throttled: while tasks hold more memory than
//     reserved, evict revocable tasks before the others, then the lowest
//     priority first, and within a priority the youngest (least work
//     lost); a task that holds none is not evicted for memory, nor one
//     that holds no CPU for CPU;
//   - CPU: lower every remaining task's CFS quota by the same factor, but
//     not below CPUFloorPercent of its quota (nor MinCPUCores), so that
//     throttled tasks still progress; only if the floors together still
//     exceed the reservation, evict in the same order as for memory.
//
// Decide is pure and cheap; call it on every reservation change and every
// sample, so the reaction comes within one sampling interval.
type QoS struct {
	CPUFloorPercent float64 // percent of its quota a throttled task keeps; 0 means 10
	MinCPUCores     float64 // absolute floor per task; 0 means 0.01 (CFS's 1 ms per 100 ms)
}

// Decide returns the actions that bring what tasks hold within reservation:
// evictions first (memory, then CPU), then throttles. business is the
// business usage, used only in reasons. It reports an error wrapping
// ErrInvalid for a NaN or negative amount or a duplicate or empty task ID.
func (q QoS) Decide(reservation, business Resources, tasks []Task) ([]Action, error) {
	if err := checkAmounts("reservation", reservation); err != nil {
		return nil, err
	}
	if err := checkAmounts("business", business); err != nil {
		return nil, err
	}
	floorPct, minCores, err := q.cpuFloors()
	if err != nil {
		return nil, err
	}
	order, err := evictionOrder(tasks)
	if err != nil {
		return nil, err
	}
	d := &decision{
		reservation: reservation, business: business, tasks: tasks, order: order,
		evicted: make([]bool, len(tasks)), floorPct: floorPct, minCores: minCores,
	}
	d.evictForMemory()
	if held, reason := d.evictForCPU(); held > reservation.CPUCores {
		d.throttle(reason)
	}
	d.nameWinners()
	return d.actions, nil
}

// cpuFloors returns the floors a throttled task keeps, defaults applied.
func (q QoS) cpuFloors() (pct, cores float64, err error) {
	pct, cores = q.CPUFloorPercent, q.MinCPUCores
	if pct == 0 {
		pct = 10
	}
	if cores == 0 {
		cores = 0.01
	}
	if math.IsNaN(pct) || pct < 0 || pct > 100 {
		return 0, 0, &FieldError{Field: "QoS.CPUFloorPercent", Value: pct, Why: "is not a percentage in [0, 100]"}
	}
	if math.IsNaN(cores) || cores < 0 {
		return 0, 0, &FieldError{Field: "QoS.MinCPUCores", Value: cores, Why: "is negative"}
	}
	return pct, cores, nil
}

// evictionOrder checks the tasks and returns their indexes in the order
// they are evicted: revocable ones first, then lowest priority, then
// youngest (least work lost), then by ID so that the order is
// deterministic.
func evictionOrder(tasks []Task) ([]int, error) {
	order := make([]int, len(tasks))
	seen := make(map[string]bool, len(tasks))
	for i := range tasks {
		t := &tasks[i]
		if t.ID == "" || seen[t.ID] {
			return nil, fmt.Errorf("%w: task %d has empty or duplicate ID %q", ErrInvalid, i, t.ID)
		}
		seen[t.ID] = true
		for _, f := range []struct {
			name string
			v    float64
		}{{"CPULimit", t.CPULimit}, {"CPUUsage", t.CPUUsage}, {"MemoryLimit", t.MemoryLimit}, {"MemoryUsage", t.MemoryUsage}} {
			if math.IsNaN(f.v) || math.IsInf(f.v, 0) || f.v < 0 {
				return nil, &FieldError{Field: "task " + t.ID + " " + f.name, Value: f.v, Why: "is not a non-negative number"}
			}
		}
		order[i] = i
	}
	slices.SortFunc(order, func(i, j int) int {
		a, b := &tasks[i], &tasks[j]
		if a.Revocable != b.Revocable {
			if a.Revocable {
				return -1
			}
			return 1
		}
		if a.Priority != b.Priority {
			return a.Priority - b.Priority
		}
		if c := b.Start.Compare(a.Start); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return order, nil
}

// decision is the state of one Decide call.
type decision struct {
	reservation, business Resources
	tasks                 []Task
	order                 []int  // eviction order, see evictionOrder
	evicted               []bool // by task index
	floorPct, minCores    float64
	actions               []Action
}

// evict evicts the task at position k of the eviction order, for a
// shortage of r; reason says what rose and what is held.
func (d *decision) evict(k int, r resource, reason string) {
	i := d.order[k]
	d.evicted[i] = true
	t := &d.tasks[i]
	// Say why this task: it has the lowest priority left, or shares it
	// with the next candidate and is younger; or it is revocable and the
	// next is not.
	why := "lowest"
	if next, ok := d.nextCandidate(k); ok {
		switch {
		case t.Revocable && !next.Revocable:
			why = "revocable"
		case next.Priority == t.Priority:
			why = "youngest"
		}
	}
	if t.Revocable && why != "revocable" {
		why = "revocable, " + why
	}
	winner := "business (" + r.String() + " " + formatAmount(r, d.business.get(r)) + ")"
	d.actions = append(d.actions, Action{Kind: Evict, TaskID: t.ID, Resource: r.String(), Winner: winner,
		Reason: reason + fmt.Sprintf("evict task %s (priority %d, %s)", t.ID, t.Priority, why)})
}

// nextCandidate returns the task after position k of the eviction order
// that is not evicted yet.
func (d *decision) nextCandidate(k int) (*Task, bool) {
	for _, j := range d.order[k+1:] {
		if !d.evicted[j] {
			return &d.tasks[j], true
		}
	}
	return nil, false
}

// maxKept bounds the kept tasks an eviction's Winner names.
const maxKept = 3

// nameWinners completes each eviction's Winner with the tasks the decision
// keeps running, most important first: those the victim gave way to.
func (d *decision) nameWinners() {
	var kept []string
	for k := len(d.order) - 1; k >= 0 && len(kept) <= maxKept; k-- {
		if i := d.order[k]; !d.evicted[i] {
			kept = append(kept, fmt.Sprintf("%s (priority %d)", d.tasks[i].ID, d.tasks[i].Priority))
		}
	}
	if len(kept) == 0 {
		return
	}
	more := ""
	if len(kept) > maxKept {
		kept = kept[:maxKept]
		more = " and others"
	}
	for i := range d.actions {
		if d.actions[i].Kind == Evict {
			d.actions[i].Winner += "; kept: " + strings.Join(kept, ", ") + more
		}
	}
}

// evictForMemory evicts until what the remaining tasks hold fits the
// memory reservation: memory cannot be throttled.
func (d *decision) evictForMemory() {
	var held float64
	for i := range d.tasks {
		held += d.tasks[i].MemoryUsage
	}
	for k, i := range d.order {
		if held <= d.reservation.MemoryBytes {
			return
		}
		if d.tasks[i].MemoryUsage == 0 {
			continue // evicting it would free no memory
		}
		d.evict(k, memory, fmt.Sprintf("business memory rose to %s; reservation %s < held %s; ",
			formatAmount(memory, d.business.MemoryBytes), formatAmount(memory, d.reservation.MemoryBytes), formatAmount(memory, held)))
		held -= d.tasks[i].MemoryUsage
	}
}

// floor is the least CPU a throttled task keeps.
func (d *decision) floor(t *Task) float64 {
	return min(t.cpuHeld(), max(t.cpuHeld()*d.floorPct/100, d.minCores))
}

// evictForCPU evicts while even the remaining tasks' floors exceed the CPU
// reservation. It returns what the remaining tasks then hold and, if the
// tasks held more than reserved, how the reasons of CPU actions start.
func (d *decision) evictForCPU() (held float64, reason string) {
	var floors float64
	for i := range d.tasks {
		if !d.evicted[i] {
			held += d.tasks[i].cpuHeld()
			floors += d.floor(&d.tasks[i])
		}
	}
	if held <= d.reservation.CPUCores {
		return held, ""
	}
	reason = fmt.Sprintf("business CPU rose to %s; reservation %s < held %s; ",
		formatAmount(cpu, d.business.CPUCores), formatAmount(cpu, d.reservation.CPUCores), formatAmount(cpu, held))
	for k, i := range d.order {
		if floors <= d.reservation.CPUCores {
			break
		}
		if d.evicted[i] || d.tasks[i].cpuHeld() == 0 {
			continue // already gone, or evicting it would free no CPU
		}
		d.evict(k, cpu, reason+fmt.Sprintf("throttled to their floors tasks would still hold %s; ", formatAmount(cpu, floors)))
		held -= d.tasks[i].cpuHeld()
		floors -= d.floor(&d.tasks[i])
	}
	return held, reason
}

// throttle lowers the remaining tasks' CFS quotas by one common factor, none
// below its floor, so that together they hold the CPU reservation. Each
// action's reason starts with reason.
func (d *decision) throttle(reason string) {
	s := d.throttleFactor()
	for i := range d.tasks {
		t := &d.tasks[i]
		if d.evicted[i] {
			continue
		}
		limit := max(d.floor(t), s*t.cpuHeld())
		if limit >= t.cpuHeld()*(1-1e-9) {
			continue
		}
		pinned := ""
		if limit == d.floor(t) {
			pinned = ", at its floor"
		}
		d.actions = append(d.actions, Action{Kind: Throttle, TaskID: t.ID, CPULimit: limit, Resource: cpu.String(),
			Reason: reason + fmt.Sprintf("throttle task %s from %s to %s (×%.2f%s)",
				t.ID, formatAmount(cpu, t.cpuHeld()), formatAmount(cpu, limit), limit/t.cpuHeld(), pinned)})
	}
}

// throttleFactor finds the common factor s with
// sum(max(floor, s×held)) = reservation over the remaining tasks, by
// bisection: the sum is monotone in s.
func (d *decision) throttleFactor() float64 {
	lo, hi := 0.0, 1.0
	for range 50 {
		s := (lo + hi) / 2
		var sum float64
		for i := range d.tasks {
			if !d.evicted[i] {
				sum += max(d.floor(&d.tasks[i]), s*d.tasks[i].cpuHeld())
			}
		}
		if sum > d.reservation.CPUCores {
			hi = s
		} else {
			lo = s
		}
	}
	return lo
}
