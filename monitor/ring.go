package monitor

// ring keeps the last len(buf) samples.
type ring struct {
	buf   []Sample
	start int // index of the oldest
	n     int
}

func newRing(size int) ring { return ring{buf: make([]Sample, size)} }

func (r *ring) push(s Sample) {
	if r.n < len(r.buf) {
		r.buf[(r.start+r.n)%len(r.buf)] = s
		r.n++
		return
	}
	r.buf[r.start] = s
	r.start = (r.start + 1) % len(r.buf)
}

func (r *ring) last() (Sample, bool) {
	if r.n == 0 {
		return Sample{}, false
	}
	return r.buf[(r.start+r.n-1)%len(r.buf)], true
}

// all returns the samples oldest first, in a new slice.
func (r *ring) all() []Sample {
	out := make([]Sample, r.n)
	for i := range out {
		out[i] = r.buf[(r.start+i)%len(r.buf)]
	}
	return out
}
