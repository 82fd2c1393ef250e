package offer

import (
	"cmp"
	"slices"
	"strconv"
)

// Range is an inclusive interval of integers, such as a span of ports.
type Range struct {
	Begin, End uint64
}

// normalizeRanges sorts rs and coalesces overlapping and adjacent ranges,
// as Mesos's coalesce (src/common/values.cpp) does for every ranges value it
// parses or adds: [1-4,4-5,7-8,8-10] becomes [1-5,7-10], and so does
// [1-5,6-10] become [1-10]. rs is not modified.
func normalizeRanges(rs []Range) []Range {
	rs = slices.Clone(rs)
	slices.SortFunc(rs, func(a, b Range) int {
		return cmp.Or(cmp.Compare(a.Begin, b.Begin), cmp.Compare(a.End, b.End))
	})
	out := rs[:0]
	for _, r := range rs {
		if n := len(out); n > 0 {
			last := &out[n-1]
			// Overlapping, or adjacent (r.Begin > last.End there, so the
			// difference cannot wrap).
			if r.Begin <= last.End || r.Begin-last.End == 1 {
				last.End = max(last.End, r.End)
				continue
			}
		}
		out = append(out, r)
	}
	return out
}

// unionRanges returns the union of two normalized range lists.
func unionRanges(a, b []Range) []Range {
	return normalizeRanges(append(slices.Clone(a), b...))
}

// subtractRanges returns the integers of a that are not in b; both are
// normalized and so is the result.
func subtractRanges(a, b []Range) []Range {
	var out []Range
	j := 0
	for _, r := range a {
		cur := r
		alive := true
		for j < len(b) && b[j].End < cur.Begin {
			j++
		}
		for k := j; k < len(b) && b[k].Begin <= cur.End; k++ {
			s := b[k]
			if s.Begin > cur.Begin {
				out = append(out, Range{cur.Begin, s.Begin - 1})
			}
			if s.End >= cur.End {
				alive = false
				break
			}
			cur.Begin = s.End + 1
		}
		if alive {
			out = append(out, cur)
		}
	}
	return out
}

// containsRanges reports whether every integer of b is in a; both are
// normalized, so each range of b must sit inside a single range of a.
func containsRanges(a, b []Range) bool {
	i := 0
	for _, r := range b {
		for i < len(a) && a[i].End < r.Begin {
			i++
		}
		if i == len(a) || a[i].Begin > r.Begin || a[i].End < r.End {
			return false
		}
	}
	return true
}

func appendRanges(b []byte, rs []Range) []byte {
	b = append(b, '[')
	for i, r := range rs {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendUint(b, r.Begin, 10)
		b = append(b, '-')
		b = strconv.AppendUint(b, r.End, 10)
	}
	return append(b, ']')
}
