package offer

import "slices"

// matcher is the state of one Match call: the offers' remaining resources in
// a dense form for the hot loop, each offer's constraint field values as
// interned IDs, and per app the tally of placements over each field.
type matcher struct {
	cfg      matchConfig
	slots    []slot
	names    map[string]int // scalar resource name -> column
	nnames   int
	free     []Fixed // remaining scalar per slot and name, summed over roles: [slot*nnames+name]
	fields   map[string]int
	interns  []*interner // by field
	nfields  int
	values   []int32 // field value ID per slot, or noValue: [slot*nfields+field]
	apps     map[string]*appState
	reasons  reasonTable
	prepared []prepared
	cursor   int // where Spread starts the next search
	version  int // bumped on every placement; invalidates failure memos
	failed   map[string]failure
	// failVersion is the version at which failed was filled.
	failVersion int
}

// slot is one offer and what is left of it.
type slot struct {
	offer     *Offer
	remaining Resources // stale while dirty
	// simple offers hold only unreserved resources, so a scalar-only task
	// can be placed by updating the dense free vector alone; remaining is
	// then rebuilt from it when needed (dirty).
	simple, dirty bool
}

// appState holds what constraints need about one app.
type appState struct {
	fields  []int    // fields its tasks' constraints use
	tallies []*tally // by field; nil where the app has no placement
}

// failure remembers the outcome of a task that could not be placed, so that
// identical tasks that follow cost a map lookup instead of a full scan.
type failure struct {
	version    int
	rejections []Rejection
}

// reasonTable interns rejection reasons to small integers and counts them.
type reasonTable struct {
	index   map[reason]int
	reasons []reason
	counts  []int
	touched []int
}

// reason is a rejection without its count.
type reason struct {
	kind RejectionKind
	name string
}

func (t *reasonTable) id(kind RejectionKind, name string) int {
	r := reason{kind, name}
	if i, ok := t.index[r]; ok {
		return i
	}
	if t.index == nil {
		t.index = make(map[reason]int)
	}
	t.index[r] = len(t.reasons)
	t.reasons = append(t.reasons, r)
	t.counts = append(t.counts, 0)
	return len(t.reasons) - 1
}

func (t *reasonTable) count(id, n int) {
	if t.counts[id] == 0 {
		t.touched = append(t.touched, id)
	}
	t.counts[id] += n
}

// take returns the counted rejections, most frequent first, and resets them.
func (t *reasonTable) take() []Rejection {
	out := make([]Rejection, 0, len(t.touched))
	for _, id := range t.touched {
		r := t.reasons[id]
		out = append(out, Rejection{Kind: r.kind, Name: r.name, Offers: t.counts[id]})
		t.counts[id] = 0
	}
	t.touched = t.touched[:0]
	slices.SortFunc(out, compareRejections)
	return out
}

func (t *reasonTable) reset() {
	for _, id := range t.touched {
		t.counts[id] = 0
	}
	t.touched = t.touched[:0]
}

func newMatcher(offers []Offer, tasks []Task, running []Placement, cfg matchConfig) *matcher {
	m := &matcher{
		cfg:    cfg,
		slots:  make([]slot, len(offers)),
		names:  make(map[string]int),
		fields: make(map[string]int),
		apps:   make(map[string]*appState),
		failed: make(map[string]failure),
	}
	for i := range offers {
		r := offers[i].Resources
		m.slots[i] = slot{offer: &offers[i], remaining: r, simple: !slices.ContainsFunc(r.rs, func(e Resource) bool { return e.Role != Unreserved })}
		m.nameColumns(r)
	}
	m.prepared = make([]prepared, len(tasks))
	memos := make(map[string]func(int32) bool)
	for i := range tasks {
		m.nameColumns(tasks[i].Resources)
		m.prepared[i] = m.prepare(&tasks[i], memos)
	}
	m.nnames, m.nfields = len(m.names), len(m.fields)

	m.free = make([]Fixed, len(offers)*m.nnames)
	for i := range offers {
		for _, e := range offers[i].Resources.rs {
			if e.Type == Scalar {
				m.free[i*m.nnames+m.names[e.Name]] += e.Scalar
			}
		}
	}
	fieldNames := make([]string, m.nfields)
	for f, i := range m.fields {
		fieldNames[i] = f
	}
	m.values = make([]int32, len(offers)*m.nfields)
	for i := range offers {
		for f, name := range fieldNames {
			m.values[i*m.nfields+f] = m.interns[f].lookup(name, offers[i].Hostname, offers[i].Attributes)
		}
	}
	for _, app := range m.apps {
		app.tallies = make([]*tally, m.nfields)
	}
	for i := range running {
		p := &running[i]
		if app := m.apps[p.AppID]; app != nil {
			for _, f := range app.fields {
				if v := m.interns[f].lookup(fieldNames[f], p.Hostname, p.Attributes); v != noValue {
					app.tally(f).add(v)
				}
			}
		}
	}
	return m
}

func (a *appState) tally(field int) *tally {
	if a.tallies[field] == nil {
		a.tallies[field] = new(tally)
	}
	return a.tallies[field]
}

func (m *matcher) nameColumns(r Resources) {
	for i := range r.rs {
		if e := &r.rs[i]; e.Type == Scalar {
			if _, ok := m.names[e.Name]; !ok {
				m.names[e.Name] = len(m.names)
			}
		}
	}
}

// field returns the column of a constraint field, adding it if new.
func (m *matcher) field(name string) int {
	f, ok := m.fields[name]
	if !ok {
		f = len(m.fields)
		m.fields[name] = f
		m.interns = append(m.interns, newInterner())
	}
	return f
}

// materialize brings slot i's remaining Resources up to date with the dense
// free vector after fast placements.
func (m *matcher) materialize(i int) {
	s := &m.slots[i]
	if !s.dirty {
		return
	}
	out := make([]Resource, 0, len(s.remaining.rs))
	for _, e := range s.remaining.rs {
		if e.Type == Scalar {
			// A simple slot has one (unreserved) entry per name.
			e.Scalar = m.free[i*m.nnames+m.names[e.Name]]
		}
		if !e.isEmpty() {
			out = append(out, e)
		}
	}
	s.remaining, s.dirty = Resources{rs: out}, false
}

// place records task t, prepared as p, on slot i.
func (m *matcher) place(t *Task, p *prepared, i int, res *Result) {
	s := &m.slots[i]
	used := t.Resources
	if p.exact || !s.simple {
		m.materialize(i)
		used, s.remaining, _ = take(s.remaining, t.Resources)
		if ports, ok := takePorts(s.remaining, t); ok && !ports.IsEmpty() {
			used, s.remaining = used.Add(ports), s.remaining.Subtract(ports)
		}
	} else {
		s.dirty = true
	}
	for _, d := range p.demands {
		m.free[i*m.nnames+d.column] -= d.amount
	}
	for _, f := range p.app.fields {
		if v := m.values[i*m.nfields+f]; v != noValue {
			p.app.tally(f).add(v)
		}
	}
	m.version++
	res.Launches = append(res.Launches, Launch{
		TaskID: t.ID, AppID: t.AppID, OfferID: s.offer.ID, AgentID: s.offer.AgentID,
		Hostname: s.offer.Hostname, Resources: used,
	})
}
