package reserve

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func TestQoSMemoryEvictsLowestPriorityThenYoungest(t *testing.T) {
	tasks := []Task{
		{ID: "t-1", Priority: 1, Start: t0, MemoryUsage: 1 * gib},
		{ID: "t-9", Priority: 0, Start: t0.Add(time.Minute), MemoryUsage: 1 * gib},
		{ID: "t-17", Priority: 0, Start: t0.Add(2 * time.Minute), MemoryUsage: 1 * gib},
	}
	res := Resources{CPUCores: 8, MemoryBytes: 2.1 * gib}
	business := Resources{MemoryBytes: 21.3 * gib}
	got, err := QoS{}.Decide(res, business, tasks)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Kind != Evict || got[0].TaskID != "t-17" {
		t.Fatalf("actions %+v, want one eviction of t-17", got)
	}
	want := "business memory rose to 21.3 GiB; reservation 2.1 GiB < held 3.0 GiB; evict task t-17 (priority 0, youngest)"
	if got[0].Reason != want {
		t.Errorf("reason\n%q, want\n%q", got[0].Reason, want)
	}

	res.MemoryBytes = 0.5 * gib
	got, err = QoS{}.Decide(res, business, tasks)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range got {
		ids = append(ids, a.TaskID)
	}
	if strings.Join(ids, ",") != "t-17,t-9,t-1" {
		t.Errorf("eviction order %v, want t-17,t-9,t-1", ids)
	}
	if !strings.HasSuffix(got[1].Reason, "evict task t-9 (priority 0, lowest)") ||
		!strings.Contains(got[1].Reason, "held 2.0 GiB") {
		t.Errorf("second reason %q", got[1].Reason)
	}
}

// TestQoSEvictsRevocableFirstAndNamesTheWinner: a revocable task goes
// before a task within the guaranteed floor even at a higher priority, and
// each eviction says who gets what it frees: the business and the tasks
// kept, most important first.
func TestQoSEvictsRevocableFirstAndNamesTheWinner(t *testing.T) {
	tasks := []Task{
		{ID: "guaranteed", Priority: 0, Start: t0, MemoryUsage: 1 * gib},
		{ID: "urgent", Priority: 9, Start: t0, MemoryUsage: 1 * gib, Revocable: true},
		{ID: "batch", Priority: 1, Start: t0, MemoryUsage: 1 * gib, Revocable: true},
		{ID: "web", Priority: 5, Start: t0.Add(time.Hour), MemoryUsage: 1 * gib, Revocable: true},
	}
	business := Resources{MemoryBytes: 20 * gib}
	got, err := QoS{}.Decide(Resources{CPUCores: 8, MemoryBytes: 1.5 * gib}, business, tasks)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range got {
		ids = append(ids, a.TaskID)
	}
	if strings.Join(ids, ",") != "batch,web,urgent" {
		t.Fatalf("eviction order %v, want batch,web,urgent (revocable by priority, the guaranteed task kept)", ids)
	}
	if !strings.HasSuffix(got[2].Reason, "evict task urgent (priority 9, revocable)") {
		t.Errorf("last reason %q: want it to say the task is revocable and the next is not", got[2].Reason)
	}
	if !strings.HasSuffix(got[0].Reason, "(priority 1, revocable, lowest)") {
		t.Errorf("first reason %q", got[0].Reason)
	}
	want := "business (memory 20.0 GiB); kept: guaranteed (priority 0)"
	for _, a := range got {
		if a.Winner != want {
			t.Errorf("%s: winner %q, want %q", a.TaskID, a.Winner, want)
		}
	}

	// With room for three, the two most important stay and are named.
	got, err = QoS{}.Decide(Resources{CPUCores: 8, MemoryBytes: 3 * gib}, business, tasks)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].TaskID != "batch" {
		t.Fatalf("actions %+v, want batch evicted", got)
	}
	if w := "business (memory 20.0 GiB); kept: guaranteed (priority 0), urgent (priority 9), web (priority 5)"; got[0].Winner != w {
		t.Errorf("winner %q, want %q", got[0].Winner, w)
	}
}

// TestQoSEvictsOnlyTasksThatFreeTheShortResource: the lowest-priority
// task holds no memory and no CPU, so evicting it would free nothing; the
// tasks that do hold them go instead.
func TestQoSEvictsOnlyTasksThatFreeTheShortResource(t *testing.T) {
	tasks := []Task{
		{ID: "idle", Priority: 0, Start: t0.Add(time.Hour)},
		{ID: "mem", Priority: 1, Start: t0, MemoryUsage: 2 * gib},
		{ID: "cpu", Priority: 2, Start: t0, CPUUsage: 2},
	}
	got, err := QoS{}.Decide(Resources{CPUCores: 0.1, MemoryBytes: gib}, Resources{}, tasks)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range got {
		ids = append(ids, a.Kind.String()+" "+a.TaskID+" ("+a.Resource+")")
	}
	if want := "evict mem (memory),evict cpu (CPU)"; strings.Join(ids, ",") != want {
		t.Errorf("actions %v, want %s", ids, want)
	}
}

func TestQoSCPUThrottlesProportionallyBeforeEvicting(t *testing.T) {
	tasks := []Task{
		{ID: "a", Priority: 0, Start: t0, CPULimit: 2},
		{ID: "b", Priority: 0, Start: t0.Add(time.Second), CPULimit: 1},
		{ID: "c", Priority: 5, Start: t0, CPULimit: 1},
	}
	business := Resources{CPUCores: 6}
	tests := []struct {
		name        string
		reservation float64
		wantEvict   []string
		wantLimits  map[string]float64
	}{
		{"within the reservation nothing happens", 4, nil, nil},
		{"over by half: every quota halves", 2, nil, map[string]float64{"a": 1, "b": 0.5, "c": 0.5}},
		{"deep cut: the same factor for all while above the floors", 0.5,
			nil, map[string]float64{"a": 0.25, "b": 0.125, "c": 0.125}},
		{"floors do not fit: evict youngest lowest priority, throttle the rest", 0.35,
			[]string{"b"}, map[string]float64{"a": 0.2333333333, "c": 0.1166666667}},
		{"reservation zero evicts everything", 0, []string{"b", "a", "c"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			acts, err := QoS{CPUFloorPercent: 10}.Decide(Resources{CPUCores: tt.reservation, MemoryBytes: gib}, business, tasks)
			if err != nil {
				t.Fatal(err)
			}
			var evicted []string
			limits := map[string]float64{}
			for _, a := range acts {
				switch a.Kind {
				case Evict:
					evicted = append(evicted, a.TaskID)
					if !strings.Contains(a.Reason, "throttled to their floors tasks would still hold") {
						t.Errorf("evict reason %q does not say throttling was not enough", a.Reason)
					}
				case Throttle:
					limits[a.TaskID] = a.CPULimit
					if !strings.HasPrefix(a.Reason, "business CPU rose to 6.00 cores; reservation") ||
						!strings.Contains(a.Reason, "throttle task "+a.TaskID) {
						t.Errorf("throttle reason %q", a.Reason)
					}
				}
			}
			if strings.Join(evicted, ",") != strings.Join(tt.wantEvict, ",") {
				t.Errorf("evicted %v, want %v", evicted, tt.wantEvict)
			}
			if len(limits) != len(tt.wantLimits) {
				t.Fatalf("throttled %v, want %v", limits, tt.wantLimits)
			}
			var sum float64
			for id, want := range tt.wantLimits {
				if math.Abs(limits[id]-want) > 1e-6 {
					t.Errorf("task %s quota %v, want %v", id, limits[id], want)
				}
				sum += limits[id]
			}
			if len(limits) > 0 && sum > tt.reservation+1e-9 {
				t.Errorf("throttled quotas sum to %v, above the reservation %v", sum, tt.reservation)
			}
		})
	}
}

func TestQoSFloorPinsSmallTasks(t *testing.T) {
	// Task "small" is at 0.1 cores; its absolute floor of 0.05 pins it while
	// the large one shrinks further.
	tasks := []Task{
		{ID: "large", Start: t0, CPULimit: 4},
		{ID: "small", Start: t0, CPULimit: 0.1},
	}
	acts, err := QoS{CPUFloorPercent: 1, MinCPUCores: 0.05}.Decide(Resources{CPUCores: 1.05}, Resources{}, tasks)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Action{}
	for _, a := range acts {
		got[a.TaskID] = a
	}
	if a := got["small"]; math.Abs(a.CPULimit-0.05) > 1e-6 || !strings.Contains(a.Reason, "at its floor") {
		t.Errorf("small: %+v, want pinned at its 0.05-core floor", a)
	}
	if a := got["large"]; math.Abs(a.CPULimit-1) > 1e-6 {
		t.Errorf("large: %+v, want 1 core", a)
	}
}

func TestQoSUsesUsageWhenNoQuota(t *testing.T) {
	tasks := []Task{{ID: "x", Start: t0, CPUUsage: 2}}
	acts, err := QoS{}.Decide(Resources{CPUCores: 1, MemoryBytes: 1}, Resources{}, tasks)
	if err != nil {
		t.Fatal(err)
	}
	if len(acts) != 1 || acts[0].Kind != Throttle || math.Abs(acts[0].CPULimit-1) > 1e-6 {
		t.Errorf("actions %+v, want a throttle of x to 1 core", acts)
	}
}

func TestQoSRejectsBadInput(t *testing.T) {
	ok := Task{ID: "a", Start: t0}
	tests := []struct {
		name  string
		res   Resources
		tasks []Task
		q     QoS
	}{
		{"NaN reservation is rejected", Resources{CPUCores: math.NaN()}, []Task{ok}, QoS{}},
		{"negative task memory is rejected", Resources{}, []Task{{ID: "a", MemoryUsage: -1}}, QoS{}},
		{"duplicate IDs are rejected", Resources{}, []Task{ok, ok}, QoS{}},
		{"empty ID is rejected", Resources{}, []Task{{}}, QoS{}},
		{"floor above 100% is rejected", Resources{}, []Task{ok}, QoS{CPUFloorPercent: 150}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.q.Decide(tt.res, Resources{}, tt.tasks); !errors.Is(err, ErrInvalid) {
				t.Errorf("Decide = %v, want ErrInvalid", err)
			}
		})
	}
}
