package offer

import "slices"

// take carves demand out of have. Demands reserved for a role come from that
// role only; unreserved demands may use any role the offer holds, reserved
// roles first (as Marathon does, so unreserved resources stay free for
// others). It returns what was used, with the roles it came from, and what is
// left, or the first demand entry that does not fit.
func take(have, demand Resources) (used, rest Resources, short *Resource) {
	var b builder
	rest = have
	for pass := 0; pass < 2; pass++ {
		for i := range demand.rs {
			d := &demand.rs[i]
			if (d.Role == Unreserved) != (pass == 1) {
				continue
			}
			got, ok := takeOne(rest, d)
			if !ok {
				return Resources{}, have, d
			}
			for _, g := range got {
				b.add(g, false)
			}
			rest = rest.Subtract(Resources{rs: got})
		}
	}
	return b.done(), rest, nil
}

// takeOne finds d in have and returns the entries (one per role) that make
// it up.
func takeOne(have Resources, d *Resource) ([]Resource, bool) {
	var cands []*Resource
	for i := range have.rs {
		e := &have.rs[i]
		if e.Name == d.Name && e.Type == d.Type && (d.Role == Unreserved || e.Role == d.Role) {
			cands = append(cands, e)
		}
	}
	// Reserved roles before unreserved; "*" sorts first in byte order.
	if len(cands) > 1 && cands[0].Role == Unreserved {
		cands = append(cands[1:], cands[0])
	}
	need := *d
	var got []Resource
	for _, e := range cands {
		g := Resource{Name: e.Name, Role: e.Role, Type: e.Type}
		switch d.Type {
		case Scalar:
			g.Scalar = min(e.Scalar, need.Scalar)
			need.Scalar -= g.Scalar
		case Ranges:
			g.Ranges = subtractRanges(need.Ranges, subtractRanges(need.Ranges, e.Ranges))
			need.Ranges = subtractRanges(need.Ranges, g.Ranges)
		case Set:
			g.Set = subtractSet(need.Set, subtractSet(need.Set, e.Set))
			need.Set = subtractSet(need.Set, g.Set)
		}
		if !g.isEmpty() {
			got = append(got, g)
		}
		if need.isEmpty() {
			slices.SortFunc(got, func(a, b Resource) int { return compareKey(&a, &b) })
			return got, true
		}
	}
	return nil, false
}
