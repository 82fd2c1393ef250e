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
}

// QoS decides what to do when harvested tasks hold more than the
// reservation, in the manner of Mesos's QoS controller and Koordinator's CPU
// suppression and memory eviction:
//
//   - memory cannot be throttled: while tasks hold more memory than
//     reserved, evict the lowest priority first, and within a priority the
//     youngest (least work lost); a task that holds none is not evicted
//     for memory, nor one that holds no CPU for CPU;
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
	floorPct, minCores := q.CPUFloorPercent, q.MinCPUCores
	if floorPct == 0 {
		floorPct = 10
	}
	if minCores == 0 {
		minCores = 0.01
	}
	if math.IsNaN(floorPct) || floorPct < 0 || floorPct > 100 {
		return nil, &FieldError{Field: "QoS.CPUFloorPercent", Value: floorPct, Why: "is not a percentage in [0, 100]"}
	}
	if math.IsNaN(minCores) || minCores < 0 {
		return nil, &FieldError{Field: "QoS.MinCPUCores", Value: minCores, Why: "is negative"}
	}
	// Eviction order: lowest priority, then youngest, then ID for determinism.
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
		if a.Priority != b.Priority {
			return a.Priority - b.Priority
		}
		if c := b.Start.Compare(a.Start); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})

	var actions []Action
	evicted := make([]bool, len(tasks))
	// evict evicts the task at position k of order.
	evict := func(k int, r resource, reason string) {
		i := order[k]
		evicted[i] = true
		t := &tasks[i]
		why := "lowest"
		for _, j := range order[k+1:] {
			if !evicted[j] {
				if tasks[j].Priority == t.Priority {
					why = "youngest"
				}
				break
			}
		}
		actions = append(actions, Action{Kind: Evict, TaskID: t.ID, Resource: r.String(),
			Reason: reason + fmt.Sprintf("evict task %s (priority %d, %s)", t.ID, t.Priority, why)})
	}

	// Memory: evict until what remains fits.
	var heldMem float64
	for i := range tasks {
		heldMem += tasks[i].MemoryUsage
	}
	for k, i := range order {
		if heldMem <= reservation.MemoryBytes {
			break
		}
		if tasks[i].MemoryUsage == 0 {
			continue // evicting it would free no memory
		}
		evict(k, memory, fmt.Sprintf("business memory rose to %s; reservation %s < held %s; ",
			formatAmount(memory, business.MemoryBytes), formatAmount(memory, reservation.MemoryBytes), formatAmount(memory, heldMem)))
		heldMem -= tasks[i].MemoryUsage
	}

	// CPU: evict while even the floors do not fit, then throttle the rest.
	floor := func(t *Task) float64 { return min(t.cpuHeld(), max(t.cpuHeld()*floorPct/100, minCores)) }
	var held, floors float64
	for i := range tasks {
		if !evicted[i] {
			held += tasks[i].cpuHeld()
			floors += floor(&tasks[i])
		}
	}
	if held <= reservation.CPUCores {
		return actions, nil
	}
	prefix := fmt.Sprintf("business CPU rose to %s; reservation %s < held %s; ",
		formatAmount(cpu, business.CPUCores), formatAmount(cpu, reservation.CPUCores), formatAmount(cpu, held))
	for k, i := range order {
		if floors <= reservation.CPUCores {
			break
		}
		if evicted[i] || tasks[i].cpuHeld() == 0 {
			continue // already gone, or evicting it would free no CPU
		}
		evict(k, cpu, prefix+fmt.Sprintf("throttled to their floors tasks would still hold %s; ", formatAmount(cpu, floors)))
		held -= tasks[i].cpuHeld()
		floors -= floor(&tasks[i])
	}
	if held <= reservation.CPUCores {
		return actions, nil
	}
	// Find the common factor s with sum(max(floor, s*held)) = reservation by
	// bisection; the sum is monotone in s.
	lo, hi := 0.0, 1.0
	for range 50 {
		s := (lo + hi) / 2
		var sum float64
		for i := range tasks {
			if !evicted[i] {
				sum += max(floor(&tasks[i]), s*tasks[i].cpuHeld())
			}
		}
		if sum > reservation.CPUCores {
			hi = s
		} else {
			lo = s
		}
	}
	for i := range tasks {
		t := &tasks[i]
		if evicted[i] {
			continue
		}
		limit := max(floor(t), lo*t.cpuHeld())
		if limit >= t.cpuHeld()*(1-1e-9) {
			continue
		}
		pinned := ""
		if limit == floor(t) {
			pinned = ", at its floor"
		}
		actions = append(actions, Action{Kind: Throttle, TaskID: t.ID, CPULimit: limit, Resource: cpu.String(),
			Reason: prefix + fmt.Sprintf("throttle task %s from %s to %s (×%.2f%s)",
				t.ID, formatAmount(cpu, t.cpuHeld()), formatAmount(cpu, limit), limit/t.cpuHeld(), pinned)})
	}
	return actions, nil
}
