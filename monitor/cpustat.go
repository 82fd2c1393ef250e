package monitor

import "bytes"

// userHZ is the unit of /proc/stat and /proc/<pid>/stat times. The kernel
// fixes USER_HZ at 100 on every architecture Go supports (procfs makes the
// same assumption).
const userHZ = 100

// cpuTicks is one per-CPU line of /proc/stat, in USER_HZ ticks. Guest time
// is left out: the kernel already counts it inside user and nice.
type cpuTicks struct {
	id                                                    int
	user, nice, system, idle, iowait, irq, softirq, steal uint64
}

// parseStat reads the per-CPU lines of /proc/stat into dst (reused). Only
// online CPUs have a line; the aggregate "cpu" line is not used so that a
// CPU going offline between two readings can be left out exactly.
func (k *kfile) parseStat(dst []cpuTicks) ([]cpuTicks, error) {
	dst = dst[:0]
	for {
		line, ok := k.next()
		if !ok {
			break
		}
		// Look before splitting: the "intr" line has hundreds of fields.
		if !bytes.HasPrefix(line, []byte("cpu")) || bytes.HasPrefix(line, []byte("cpu ")) {
			continue // not a CPU, or the aggregate "cpu" line
		}
		f := k.fields(line)
		id, ok := parseUint(f[0][3:])
		if !ok {
			return nil, k.errorf("cpu id", f[0], errNotNumber)
		}
		// user nice system idle iowait irq softirq steal: steal exists
		// since Linux 2.6.11, so fewer than eight values is a cut line.
		if len(f) < 9 {
			return nil, k.errorf(string(f[0]), line, errShortLine)
		}
		var v [8]uint64
		for i := range v {
			if v[i], ok = parseUint(f[i+1]); !ok {
				return nil, k.errorf(string(f[0])+" "+cpuModes[i], f[i+1], errNotNumber)
			}
		}
		dst = append(dst, cpuTicks{id: int(id), user: v[0], nice: v[1], system: v[2], idle: v[3], iowait: v[4], irq: v[5], softirq: v[6], steal: v[7]})
	}
	if len(dst) == 0 {
		return nil, k.missing("cpuN")
	}
	return dst, nil
}

var cpuModes = [8]string{"user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"}

// cpuCores turns two readings into cores per mode. Each CPU present in both
// readings adds the share of its own elapsed ticks spent in each mode. A
// tick counter that went backwards (iowait may, by kernel documentation)
// counts as no time in that mode.
func cpuCores(prev, cur []cpuTicks) CPUCores {
	var c CPUCores
	j := 0
	for _, n := range cur {
		for j < len(prev) && prev[j].id < n.id {
			j++
		}
		if j == len(prev) || prev[j].id != n.id {
			continue // CPU came online between the readings
		}
		p := prev[j]
		d := [8]float64{
			tickDelta(p.user, n.user), tickDelta(p.nice, n.nice), tickDelta(p.system, n.system),
			tickDelta(p.idle, n.idle), tickDelta(p.iowait, n.iowait), tickDelta(p.irq, n.irq),
			tickDelta(p.softirq, n.softirq), tickDelta(p.steal, n.steal),
		}
		total := 0.0
		for _, x := range d {
			total += x
		}
		if total == 0 {
			continue // no tick elapsed on this CPU
		}
		c.User += d[0] / total
		c.Nice += d[1] / total
		c.System += d[2] / total
		c.Idle += d[3] / total
		c.IOWait += d[4] / total
		c.IRQ += d[5] / total
		c.SoftIRQ += d[6] / total
		c.Steal += d[7] / total
	}
	c.Used = c.User + c.Nice + c.System + c.IRQ + c.SoftIRQ
	return c
}

func tickDelta(prev, cur uint64) float64 {
	if cur < prev {
		return 0
	}
	return float64(cur - prev)
}
