package offer

import (
	"slices"
	"strconv"
)

// prepared is a task compiled for the hot loop: its scalar demands as
// columns, whether it needs the exact (slow) resource check, and its
// constraint checks.
type prepared struct {
	app     *appState
	demands []demand
	exact   bool // ranges, sets or role-reserved demands: check with take
	checks  []check
	invalid int // reason id when a constraint is invalid, else -1
}

// demand is a task's need for one scalar resource, summed over roles.
type demand struct {
	column int
	amount Fixed
	reason int
}

// check is one constraint of a task, bound to its field column.
type check struct {
	c      *Constraint
	field  int
	want   int32 // ID of the constraint's value, for IS and CLUSTER
	reason int
	match  func(int32) bool // memoized regular expression match
}

func (m *matcher) prepare(t *Task, memos map[string]func(int32) bool) prepared {
	p := prepared{invalid: -1}
	app := m.apps[t.AppID]
	if app == nil {
		app = &appState{}
		m.apps[t.AppID] = app
	}
	p.app = app
	p.exact = t.Ports > 0
	for i := range t.Resources.rs {
		e := &t.Resources.rs[i]
		if e.Type != Scalar || e.Role != Unreserved {
			p.exact = true
		}
		if e.Type != Scalar {
			continue
		}
		col := m.names[e.Name]
		if j := slices.IndexFunc(p.demands, func(d demand) bool { return d.column == col }); j >= 0 {
			p.demands[j].amount += e.Scalar
			continue
		}
		p.demands = append(p.demands, demand{column: col, amount: e.Scalar, reason: m.reasons.id(ByResource, e.Name)})
	}
	for i := range t.Constraints {
		c := t.Constraints[i] // a copy, compiled here if built by hand
		if !c.ok {
			if _, _, msg := c.compile(); msg != "" {
				p.invalid = m.reasons.id(ByConstraint, c.String()+" (invalid: "+msg+")")
				continue
			}
		}
		f := m.field(c.Field)
		if !slices.Contains(app.fields, f) {
			app.fields = append(app.fields, f)
		}
		in := m.interns[f]
		ch := check{c: &c, field: f, want: noValue, reason: m.reasons.id(ByConstraint, c.text)}
		if c.Op == Is || c.Op == Cluster {
			ch.want = in.id(c.value)
		}
		if c.re != nil {
			text := c.text
			if memos[text] == nil {
				memos[text] = memoize(in, c.re.MatchString)
			}
			ch.match = memos[text]
		}
		p.checks = append(p.checks, ch)
	}
	return p
}

// classKey identifies tasks that any placement decision treats alike: same
// app, resources and constraints.
func classKey(t *Task) string {
	key := make([]byte, 0, 128)
	key = append(append(append(key, t.AppID...), 0), t.Resources.String()...)
	key = strconv.AppendInt(append(key, 0), int64(t.Ports), 10)
	for i := range t.Constraints {
		key = append(append(key, 0), t.Constraints[i].String()...)
	}
	return string(key)
}

// memoize caches a match function per value ID of a field; values repeat
// across agents, and a regular expression costs far more than an index.
func memoize(in *interner, match func(string) bool) func(int32) bool {
	var memo []int8 // 0 unknown, 1 match, -1 no match
	return func(v int32) bool {
		for int(v) >= len(memo) {
			memo = append(memo, 0)
		}
		if memo[v] == 0 {
			memo[v] = -1
			if match(in.names[v]) {
				memo[v] = 1
			}
		}
		return memo[v] == 1
	}
}

// shortage returns the reason id for a demand that have cannot meet: a
// role-reserved demand that the offer could meet from other roles is a
// matter of role, anything else of quantity.
func (m *matcher) shortage(have Resources, short *Resource) int {
	if short.Role != Unreserved {
		anyRole := *short
		anyRole.Role = Unreserved
		if _, ok := takeOne(have, &anyRole); ok {
			return m.reasons.id(ByRole, short.Name+"("+short.Role+")")
		}
	}
	return m.reasons.id(ByResource, short.Name)
}

// reject runs the feasibility checks of task t on slot i and returns the
// reason id of the first that fails, or -1 when the task fits.
func (m *matcher) reject(t *Task, p *prepared, i int) int {
	free := m.free[i*m.nnames : (i+1)*m.nnames]
	for _, d := range p.demands {
		if free[d.column] < d.amount {
			return d.reason
		}
	}
	if p.exact {
		m.materialize(i)
		_, rest, short := take(m.slots[i].remaining, t.Resources)
		if short != nil {
			return m.shortage(m.slots[i].remaining, short)
		}
		if _, ok := takePorts(rest, t); !ok {
			return m.reasons.id(ByResource, portsName)
		}
	}
	values := m.values[i*m.nfields : (i+1)*m.nfields]
	for k := range p.checks {
		ch := &p.checks[k]
		if !ch.c.allows(values[ch.field], p.app.tallies[ch.field], ch.want, ch.match) {
			return ch.reason
		}
	}
	return -1
}
