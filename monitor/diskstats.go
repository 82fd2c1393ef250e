package monitor

// sectorBytes is the unit of /proc/diskstats sector counts, whatever the
// device's real sector size.
const sectorBytes = 512

// diskCounters is one device line of /proc/diskstats.
type diskCounters struct {
	name                                     string
	reads, readSectors, writes, writeSectors uint64
	ioTicksMs                                uint64
}

// parseDiskstats reads /proc/diskstats into dst (reused), keeping only the
// devices keep accepts:
//
//	major minor name reads merged sectors ms writes merged sectors ms inflight io_ms weighted_ms [...]
func (k *kfile) parseDiskstats(dst []diskCounters, keep func(string) bool, intern names) ([]diskCounters, error) {
	dst = dst[:0]
	for {
		line, f, ok := k.nextFields()
		if !ok {
			break
		}
		if len(f) < 14 {
			return nil, k.errorf("device line", line, errShortLine)
		}
		name := intern.get(f[2])
		if !keep(name) {
			continue
		}
		var v [5]uint64
		for i, col := range diskColumns {
			if v[i], ok = parseUint(f[col]); !ok {
				return nil, k.errorf(name+" "+diskColumnNames[i], f[col], errNotNumber)
			}
		}
		dst = append(dst, diskCounters{name: name, reads: v[0], readSectors: v[1], writes: v[2], writeSectors: v[3], ioTicksMs: v[4]})
	}
	return dst, nil
}

var (
	diskColumns     = [5]int{3, 5, 7, 9, 12}
	diskColumnNames = [5]string{"reads", "sectors read", "writes", "sectors written", "io ticks"}
)

// diskRates pairs devices by name; a device that appeared, or whose
// counters were reset, between the readings is left out.
func diskRates(prev, cur []diskCounters, seconds float64) []DiskIO {
	out := make([]DiskIO, 0, len(cur))
	pairByName(prev, cur, func(c *diskCounters) string { return c.name }, func(p, n *diskCounters) {
		r, ok1 := counterDelta(p.reads, n.reads)
		rs, ok2 := counterDelta(p.readSectors, n.readSectors)
		w, ok3 := counterDelta(p.writes, n.writes)
		ws, ok4 := counterDelta(p.writeSectors, n.writeSectors)
		t, ok5 := counterDelta(p.ioTicksMs, n.ioTicksMs)
		if ok1 && ok2 && ok3 && ok4 && ok5 {
			out = append(out, DiskIO{
				Device:              n.name,
				ReadBytesPerSecond:  float64(rs*sectorBytes) / seconds,
				WriteBytesPerSecond: float64(ws*sectorBytes) / seconds,
				ReadsPerSecond:      float64(r) / seconds,
				WritesPerSecond:     float64(w) / seconds,
				Busy:                min(float64(t)/1000/seconds, 1),
			})
		}
	})
	return out
}
