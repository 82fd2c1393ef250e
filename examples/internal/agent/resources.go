//go:build linux

package agent

import (
	"fmt"
	"math"
	"strconv"

	"github.com/gleaner/gleaner/monitor"
	"github.com/gleaner/gleaner/offer"
	"github.com/gleaner/gleaner/reserve"
)

const mb = 1 << 20

// partial is a reserve.Resources where each resource may be absent: an
// operator cap or floor, or a capacity override.
type partial struct {
	CPU, Mem, Disk *float64 // cores, bytes, bytes
}

// String formats p in Mesos text (mem and disk in MB), only what is set.
func (p partial) String() string {
	s := ""
	add := func(name string, v *float64, unit float64) {
		if v == nil {
			return
		}
		if s != "" {
			s += ";"
		}
		s += name + ":" + strconv.FormatFloat(round3(*v/unit), 'f', -1, 64)
	}
	add("cpus", p.CPU, 1)
	add("mem", p.Mem, mb)
	add("disk", p.Disk, mb)
	return s
}

// parsePartial reads Mesos text holding only cpus, mem and disk scalars.
func parsePartial(text string) (partial, error) {
	var p partial
	if text == "" {
		return p, nil
	}
	rs, err := offer.ParseResources(text)
	if err != nil {
		return p, err
	}
	for _, r := range rs.Flatten().All() {
		if r.Type != offer.Scalar {
			return p, fmt.Errorf("resource %q is not a scalar", r.Name)
		}
		v := r.Scalar.Float64()
		switch r.Name {
		case "cpus":
			p.CPU = &v
		case "mem":
			v *= mb
			p.Mem = &v
		case "disk":
			v *= mb
			p.Disk = &v
		default:
			return p, fmt.Errorf("resource %q is not one of cpus, mem, disk", r.Name)
		}
	}
	return p, nil
}

func parseCapacity(text string) (partial, error) {
	p, err := parsePartial(text)
	if err != nil {
		return p, fmt.Errorf("%q: %w", text, err)
	}
	if p.CPU != nil && *p.CPU <= 0 {
		return p, fmt.Errorf("%q: cpus must be positive", text)
	}
	return p, nil
}

// withPorts adds the agent's ports resource to Mesos text, when lending:
// an agent that lends nothing lends no ports either.
func (a *Agent) withPorts(text string, lending bool) string {
	if a.cfg.Ports == "[]" || !lending {
		return text
	}
	return text + ";ports:" + a.cfg.Ports
}

// taskResources reads a task's resources; cpus and mem are required. Its
// ports are the framework's business (PORT0..N in its environment) and
// limit nothing here.
func taskResources(text string) (reserve.Resources, error) {
	rs, err := offer.ParseResources(text)
	if err != nil {
		return reserve.Resources{}, err
	}
	var kept []offer.Resource
	for _, r := range rs.All() {
		if r.Name != "ports" {
			kept = append(kept, r)
		}
	}
	if rs, err = offer.NewResources(kept...); err != nil {
		return reserve.Resources{}, err
	}
	p, err := parsePartial(rs.Flatten().String())
	if err != nil {
		return reserve.Resources{}, err
	}
	var r reserve.Resources
	if p.CPU == nil || *p.CPU <= 0 {
		return r, fmt.Errorf("cpus missing or zero in %q", text)
	}
	if p.Mem == nil || *p.Mem <= 0 {
		return r, fmt.Errorf("mem missing or zero in %q", text)
	}
	r.CPUCores, r.MemoryBytes = *p.CPU, *p.Mem
	if p.Disk != nil {
		r.DiskBytes = *p.Disk
	}
	return r, nil
}

// mesos formats r in Mesos text, mem and disk in MB.
func mesos(r reserve.Resources) string {
	return fmt.Sprintf("cpus:%s;mem:%s;disk:%s",
		strconv.FormatFloat(round3(r.CPUCores), 'f', -1, 64),
		strconv.FormatFloat(math.Floor(r.MemoryBytes/mb), 'f', -1, 64),
		strconv.FormatFloat(math.Floor(r.DiskBytes/mb), 'f', -1, 64))
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

// bound applies an operator's cap and floor to the reservation: the cap
// always holds; the floor raises the reservation up to capacity.
func bound(r, capacity reserve.Resources, limit, floor partial) reserve.Resources {
	one := func(v float64, c float64, hi, lo *float64) float64 {
		if lo != nil && v < *lo {
			v = min(*lo, c)
		}
		if hi != nil && v > *hi {
			v = *hi
		}
		return max(v, 0)
	}
	return reserve.Resources{
		CPUCores:    one(r.CPUCores, capacity.CPUCores, limit.CPU, floor.CPU),
		MemoryBytes: one(r.MemoryBytes, capacity.MemoryBytes, limit.Mem, floor.Mem),
		DiskBytes:   one(r.DiskBytes, capacity.DiskBytes, limit.Disk, floor.Disk),
	}
}

// guaranteed is what the floor makes the agent lend whatever the business
// does: per resource, the floor within capacity and cap; nothing where no
// floor is set.
func guaranteed(capacity reserve.Resources, limit, floor partial) reserve.Resources {
	one := func(c float64, hi, lo *float64) float64 {
		if lo == nil {
			return 0
		}
		v := min(*lo, c)
		if hi != nil {
			v = min(v, *hi)
		}
		return max(v, 0)
	}
	return reserve.Resources{
		CPUCores:    one(capacity.CPUCores, limit.CPU, floor.CPU),
		MemoryBytes: one(capacity.MemoryBytes, limit.Mem, floor.Mem),
		DiskBytes:   one(capacity.DiskBytes, limit.Disk, floor.Disk),
	}
}

// toReserve converts a monitor sample into reserve's input. ownDisk is what
// the sandboxes hold, which the file system's usage includes. It returns
// false while the sample has no CPU rate yet (the first one).
func toReserve(s monitor.Sample, override partial, ownDisk float64) (reserve.Sample, bool) {
	h := s.Host
	if h.Rates == nil {
		return reserve.Sample{}, false
	}
	out := reserve.Sample{Time: h.Time}
	out.Capacity = reserve.Resources{CPUCores: float64(h.OnlineCPUs), MemoryBytes: float64(h.Memory.TotalBytes)}
	var fsUsed float64
	if len(h.Filesystems) > 0 {
		out.Capacity.DiskBytes = float64(h.Filesystems[0].SizeBytes)
		fsUsed = float64(h.Filesystems[0].UsedBytes)
	}
	if override.CPU != nil {
		out.Capacity.CPUCores = *override.CPU
	}
	if override.Mem != nil {
		out.Capacity.MemoryBytes = *override.Mem
	}
	if override.Disk != nil {
		out.Capacity.DiskBytes = *override.Disk
	}
	// Business = host minus Gleaner's own; when the own usage could not be
	// read, count the whole host as business (lend less, never more).
	if b := s.Business; b != nil && b.CPUCores != nil {
		out.Business.CPUCores = *b.CPUCores
		out.Business.MemoryBytes = float64(b.MemoryBytes)
	} else {
		out.Business.CPUCores = h.Rates.CPU.Used
		out.Business.MemoryBytes = float64(h.Memory.UsedBytes)
	}
	out.Business.DiskBytes = max(fsUsed-ownDisk, 0)
	return out, true
}

// ownUsage is Gleaner's own usage from a sample, for reports.
func ownUsage(s monitor.Sample, ownDisk float64) reserve.Resources {
	var r reserve.Resources
	if o := s.Own; o != nil {
		if o.CPUCores != nil {
			r.CPUCores = *o.CPUCores
		}
		r.MemoryBytes = float64(o.MemoryBytes)
	}
	r.DiskBytes = ownDisk
	return r
}
