package offer

// portsName is the resource that Task.Ports takes from, as in Mesos.
const portsName = "ports"

// takePorts picks t.Ports ports from have's "ports" ranges: the lowest
// free ones, of the role t's resources are reserved for, or of any role
// (reserved ones first, as take does) when they are unreserved. It returns
// them as resources, or false when have holds too few.
func takePorts(have Resources, t *Task) (Resources, bool) {
	if t.Ports <= 0 {
		return Resources{}, true
	}
	role := Unreserved
	for i := range t.Resources.rs {
		if r := t.Resources.rs[i].Role; r != Unreserved {
			role = r
			break
		}
	}
	var cands []*Resource
	for i := range have.rs {
		e := &have.rs[i]
		if e.Name == portsName && e.Type == Ranges && (role == Unreserved || e.Role == role) {
			cands = append(cands, e)
		}
	}
	// Reserved roles before unreserved; "*" sorts first in byte order.
	if len(cands) > 1 && cands[0].Role == Unreserved {
		cands = append(cands[1:], cands[0])
	}
	need := t.Ports
	var b builder
	for _, e := range cands {
		var got []Range
		for _, r := range e.Ranges {
			if need == 0 {
				break
			}
			n := min(uint64(need), r.End-r.Begin+1)
			got = append(got, Range{Begin: r.Begin, End: r.Begin + n - 1})
			need -= int(n)
		}
		if len(got) > 0 {
			b.add(Resource{Name: portsName, Role: e.Role, Type: Ranges, Ranges: got}, false)
		}
		if need == 0 {
			return b.done(), true
		}
	}
	return Resources{}, false
}
