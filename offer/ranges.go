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

// normalizeRanges sorts rs and coalesces overlapping and adjacent ranges. It
// returns the index of the first range that overlapped an earlier one (-1 if
// none did), so parsers can reject overlaps while Add merges them.
func normalizeRanges(rs []Range) ([]Range, int) {
	rs = slices.Clone(rs)
	slices.SortFunc(rs, func(a, b Range) int {
		return cmp.Or(cmp.Compare(a.Begin, b.Begin), cmp.Compare(a.End, b.End))
	})
	overlap := -1
	out := rs[:0]
	for i, r := range rs {
		if n := len(out); n > 0 {
			last := &out[n-1]
			if r.Begin <= last.End {
				if overlap < 0 {
					overlap = i
				}
				last.End = max(last.End, r.End)
				continue
			}
			if last.End != ^uint64(0) && r.Begin == last.End+1 {
				last.End = r.End
				continue
			}
		}
		out = append(out, r)
	}
	return out, overlap
}

// unionRanges returns the union of two normalized range lists.
func unionRanges(a, b []Range) []Range {
	rs, _ := normalizeRanges(append(slices.Clone(a), b...))
	return rs
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
