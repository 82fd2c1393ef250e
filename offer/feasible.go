package offer

import "slices"

// prepared is a task compiled for the hot loop: its scalar demands as
// columns, whether it needs the exact (slow) resource check, and its
// constraint checks.
type prepared struct {
	app      *appState
	demands  []demand
	exact    bool // ranges, sets or role-reserved demands: check with take
	checks   []check
	invalid  int    // reason id when a constraint is invalid, else -1
	classKey string // identifies tasks that are placed identically
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
	reason int
	match  func(string) bool // memoized regular expression match
}

func (m *matcher) prepare(t *Task, memos map[string]func(string) bool) prepared {
	p := prepared{invalid: -1}
	app := m.apps[t.AppID]
	if app == nil {
		app = &appState{}
		m.apps[t.AppID] = app
	}
	p.app = app
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
		p.demands = append(p.demands, demand{column: col, amount: e.Scalar, reason: m.reasons.id(e.Name)})
	}
	key := make([]byte, 0, 64)
	key = append(append(append(key, t.AppID...), 0), t.Resources.String()...)
	for i := range t.Constraints {
		c := t.Constraints[i] // a copy, compiled here if built by hand
		key = append(append(key, 0), c.String()...)
		if !c.ok {
			if _, _, msg := c.compile(); msg != "" {
				p.invalid = m.reasons.id("invalid constraint " + c.String() + ": " + msg)
				continue
			}
		}
		f, ok := m.fields[c.Field]
		if !ok {
			f = len(m.fields)
			m.fields[c.Field] = f
		}
		if !slices.Contains(app.fields, f) {
			app.fields = append(app.fields, f)
		}
		ch := check{c: &c, field: f, reason: m.reasons.id(c.reason())}
		if c.re != nil {
			text := c.String()
			if memos[text] == nil {
				memos[text] = memoize(c.re.MatchString)
			}
			ch.match = memos[text]
		}
		p.checks = append(p.checks, ch)
	}
	p.classKey = string(key)
	return p
}

// memoize caches a match function; attribute values repeat across agents.
func memoize(match func(string) bool) func(string) bool {
	memo := make(map[string]bool)
	return func(s string) bool {
		r, ok := memo[s]
		if !ok {
			r = match(s)
			memo[s] = r
		}
		return r
	}
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
		if _, _, short := take(m.slots[i].remaining, t.Resources); short != "" {
			return m.reasons.id(short)
		}
	}
	base := i * m.nfields
	for k := range p.checks {
		ch := &p.checks[k]
		if !ch.c.allows(m.values[base+ch.field], m.present[base+ch.field], p.app.tallies[ch.field], ch.match) {
			return ch.reason
		}
	}
	return -1
}
