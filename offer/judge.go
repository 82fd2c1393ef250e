package offer

// Constraints are judged over interned field values: every distinct value of
// a field gets a small integer, so the matcher's hot loop indexes slices
// instead of hashing strings. Constraint.Check, the plain reference, interns
// on the fly and shares the same judging code.

// noValue is the value ID of an agent that lacks the field.
const noValue int32 = -1

// interner assigns IDs to the values of one field: the hostname for
// "hostname" and "@hostname", else the attribute, numbers normalized.
type interner struct {
	raw   map[string]int32 // as written on the agent
	ids   map[string]int32 // normalized
	names []string         // normalized, by ID
}

func newInterner() *interner {
	return &interner{raw: make(map[string]int32), ids: make(map[string]int32)}
}

// id returns the ID of a normalized value, assigning one if it is new.
func (in *interner) id(v string) int32 {
	if id, ok := in.ids[v]; ok {
		return id
	}
	id := int32(len(in.names))
	in.ids[v] = id
	in.names = append(in.names, v)
	return id
}

// lookup returns the ID of field's value on an agent, or noValue.
func (in *interner) lookup(field, hostname string, attrs map[string]string) int32 {
	if field == Hostname || field == "@"+Hostname {
		if hostname == "" {
			return noValue
		}
		return in.id(hostname) // hostnames are names, never numbers
	}
	raw, ok := attrs[field]
	if !ok {
		return noValue
	}
	if id, ok := in.raw[raw]; ok {
		return id
	}
	id := in.id(normalizeValue(raw))
	in.raw[raw] = id
	return id
}

// tally counts an app's placed tasks per value of one field.
type tally struct {
	counts   []int32 // by value ID
	distinct int32   // values with a count above zero
	first    int32   // value of the first placement; CLUSTER without value sticks to it
	min      int32   // smallest count above zero
	nmin     int32   // how many values have count min
}

func (t *tally) count(v int32) int32 {
	if t == nil || int(v) >= len(t.counts) {
		return 0
	}
	return t.counts[v]
}

// add records one more task where the field has value v.
func (t *tally) add(v int32) {
	if t.distinct == 0 {
		t.first = v
	}
	for int(v) >= len(t.counts) {
		t.counts = append(t.counts, 0)
	}
	old := t.counts[v]
	t.counts[v] = old + 1
	switch {
	case old == 0 && (t.distinct == 0 || t.min > 1):
		t.min, t.nmin = 1, 1
		t.distinct++
	case old == 0:
		t.nmin++
		t.distinct++
	case old == t.min:
		t.nmin--
		if t.nmin == 0 {
			t.min = old + 1
			for _, n := range t.counts {
				if n == t.min {
					t.nmin++
				}
			}
		}
	}
}

// allows reports whether c accepts another task on an agent whose field has
// value v (noValue when the agent lacks it), given the tally t of the app's
// placed tasks over the field (nil when none). want is the ID of c's value
// for IS and CLUSTER; match evaluates LIKE and UNLIKE, so that callers may
// memoize it.
func (c *Constraint) allows(v int32, t *tally, want int32, match func(int32) bool) bool {
	if v == noValue {
		return c.Op == Unlike
	}
	switch c.Op {
	case Unique:
		return t.count(v) == 0
	case MaxPer:
		return t.count(v) < int32(c.n)
	case Is:
		return v == want
	case Cluster:
		if c.Value != "" {
			return v == want
		}
		return t == nil || t.distinct == 0 || v == t.first
	case GroupBy:
		n := t.count(v)
		return n == 0 || (t.distinct >= int32(c.n) && n == t.min)
	case Like:
		return match(v)
	case Unlike:
		return !match(v)
	}
	return false
}

// Check reports whether c lets one more task of an app run on the agent with
// the given hostname and attributes, when the app's other tasks run where
// placed says. It follows Marathon: when the field is missing every operator
// rejects except UNLIKE, which accepts; LIKE and UNLIKE match the whole
// value; CLUSTER without a value sticks to the first placement's value;
// numeric values compare in their formatted form. Placements on agents that
// lack the field are not counted. An invalid constraint accepts nothing.
func (c Constraint) Check(hostname string, attrs map[string]string, placed []Placement) bool {
	if !c.ok {
		if _, _, msg := c.compile(); msg != "" {
			return false
		}
	}
	in := newInterner()
	var t tally
	for _, p := range placed {
		if v := in.lookup(c.Field, p.Hostname, p.Attributes); v != noValue {
			t.add(v)
		}
	}
	v := in.lookup(c.Field, hostname, attrs)
	return c.allows(v, &t, in.id(c.value), func(id int32) bool { return c.re.MatchString(in.names[id]) })
}
