package monitor

import "math"

// counterDelta returns how much a cumulative kernel counter grew between two
// readings. A counter that went backwards from a value that fits in 32 bits
// wrapped (32-bit kernels keep /proc/net/dev and /proc/diskstats counters
// in an unsigned long); from a larger value it was reset (device removed and
// re-added), and the delta is unknown.
func counterDelta(prev, cur uint64) (uint64, bool) {
	if cur >= prev {
		return cur - prev, true
	}
	if prev <= math.MaxUint32 {
		return cur + (math.MaxUint32 + 1) - prev, true
	}
	return 0, false
}

// names interns the device and interface names read every interval, so
// that a steady set of devices costs no allocation per sample.
type names map[string]string

func (n names) get(b []byte) string {
	if s, ok := n[string(b)]; ok {
		return s
	}
	s := string(b)
	n[s] = s
	return s
}

// pairByName calls f for each element of cur that has an element of prev
// with the same name: a device or interface seen in both readings.
func pairByName[T any](prev, cur []T, name func(*T) string, f func(p, c *T)) {
	for i := range cur {
		for j := range prev {
			if name(&prev[j]) == name(&cur[i]) {
				f(&prev[j], &cur[i])
				break
			}
		}
	}
}
