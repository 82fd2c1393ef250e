package offer

import "container/heap"

// drf keeps what Dominant Resource Fairness needs: a column per scalar
// resource name and the cluster's total of each.
type drf struct {
	columns map[string]int
	total   []Fixed
}

func (d *drf) column(name string) int {
	c, ok := d.columns[name]
	if !ok {
		if d.columns == nil {
			d.columns = make(map[string]int)
		}
		c = len(d.columns)
		d.columns[name] = c
	}
	return c
}

// addTo adds sign×r's scalars to the vector v, growing it to the known columns.
func (d *drf) addTo(v []Fixed, r Resources, sign Fixed) []Fixed {
	for i := range r.rs {
		if e := &r.rs[i]; e.Type == Scalar {
			c := d.column(e.Name)
			for len(v) <= c {
				v = append(v, 0)
			}
			v[c] += sign * e.Scalar
		}
	}
	return v
}

// share returns the dominant share of held: its largest fraction of the
// cluster's total of any resource.
func (d *drf) share(held []Fixed) float64 {
	var s float64
	for c, h := range held {
		if c >= len(d.total) {
			break
		}
		if t := d.total[c]; t > 0 && h > 0 {
			s = max(s, float64(h)/float64(t))
		}
	}
	return s
}

// frameworkHeap orders frameworks by weighted dominant share, lowest first,
// ties by ID so that allocation is deterministic.
type frameworkHeap []*frameworkState

func (h frameworkHeap) Len() int { return len(h) }
func (h frameworkHeap) Less(i, j int) bool {
	if h[i].weighted != h[j].weighted {
		return h[i].weighted < h[j].weighted
	}
	return h[i].ID < h[j].ID
}
func (h frameworkHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *frameworkHeap) Push(x any)   { *h = append(*h, x.(*frameworkState)) }
func (h *frameworkHeap) Pop() any {
	old := *h
	f := old[len(old)-1]
	*h = old[:len(old)-1]
	return f
}

var _ heap.Interface = (*frameworkHeap)(nil)
