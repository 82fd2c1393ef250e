package offer

import (
	"container/heap"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultRefuse is how long a declined offer's resources are not offered to
// the same framework again from the same agent, as in Mesos.
const DefaultRefuse = 5 * time.Second

// Framework is a scheduler registered with the master.
type Framework struct {
	ID     string
	Role   string  // offers hold unreserved resources plus those reserved for Role; "" means "*"
	Weight float64 // its fair share relative to others; 0 means 1
}

// AllocatorOption configures NewAllocator.
type AllocatorOption func(*allocatorConfig)

type allocatorConfig struct {
	now    func() time.Time
	refuse time.Duration
}

// WithClock sets the time source used for offer filters (default
// time.Now), so that tests can step time exactly. A nil now means time.Now.
func WithClock(now func() time.Time) AllocatorOption {
	return func(c *allocatorConfig) { c.now = now }
}

// WithDefaultRefuse sets how long Accept and Decline filter the returned
// resources when the caller passes no WithRefuse (default DefaultRefuse).
// Zero or less installs no filter by default.
func WithDefaultRefuse(d time.Duration) AllocatorOption {
	return func(c *allocatorConfig) { c.refuse = d }
}

// FilterOption configures the offer filter that Accept or Decline installs,
// as Mesos's Filters message does.
type FilterOption func(*filterConfig)

type filterConfig struct {
	refuse time.Duration
}

// WithRefuse keeps the returned resources from being offered again to the
// framework from the same agent for d (Mesos's refuse_seconds), instead of
// the allocator's default. Zero or less installs no filter.
func WithRefuse(d time.Duration) FilterOption {
	return func(c *filterConfig) { c.refuse = d }
}

// Allocator is the master side of two-level scheduling: it holds the agents'
// resources and the registered frameworks and, on each Allocate, offers
// every agent's available resources to the framework with the lowest
// weighted dominant share (weighted DRF). Offered resources are held until
// accepted, declined or rescinded, so the same resources are never offered
// twice. An Allocator is safe for concurrent use; it starts no goroutines —
// the caller decides when an allocation cycle runs.
type Allocator struct {
	mu         sync.Mutex
	now        func() time.Time
	refuse     time.Duration
	agents     map[string]*agentState
	order      []*agentState // by ID
	frameworks map[string]*frameworkState
	offers     map[string]*offerState
	nextOffer  uint64
	drf        drf
	heap       frameworkHeap
}

type agentState struct {
	Agent
	allocated Resources // held by launched tasks
	available Resources // neither allocated nor offered
	offers    []*offerState
}

type frameworkState struct {
	Framework
	suppressed bool
	held       []Fixed // allocated plus offered, by DRF column
	weighted   float64 // dominant share / weight
	onAgent    map[string]Resources
	filters    map[string]filter // by agent ID
	// What the last Allocate withheld from the framework: agents skipped
	// because a filter covered their resources, or because all they had
	// left was reserved for other roles.
	byFilter, byRole int
}

type filter struct {
	refused Resources
	until   time.Time
}

type offerState struct {
	Offer
	agent     *agentState
	framework *frameworkState
}

// NewAllocator returns an empty allocator.
func NewAllocator(opts ...AllocatorOption) *Allocator {
	cfg := allocatorConfig{now: time.Now, refuse: DefaultRefuse}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.now == nil {
		cfg.now = time.Now
	}
	return &Allocator{
		now:        cfg.now,
		refuse:     cfg.refuse,
		agents:     make(map[string]*agentState),
		frameworks: make(map[string]*frameworkState),
		offers:     make(map[string]*offerState),
	}
}

// AddAgent registers an agent. Its Free resources are what may be offered;
// Total minus Free is taken to be held by tasks that predate the allocator.
func (a *Allocator) AddAgent(ag Agent) error {
	if ag.ID == "" {
		return fmt.Errorf("%w: agent with empty ID", ErrInvalid)
	}
	if !ag.Total.Contains(ag.Free) {
		return fmt.Errorf("%w: agent %s: free %q exceeds total %q", ErrInvalid, ag.ID, ag.Free, ag.Total)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.agents[ag.ID]; ok {
		return fmt.Errorf("%w: agent %s", ErrExists, ag.ID)
	}
	s := &agentState{Agent: ag, allocated: ag.Total.Subtract(ag.Free), available: ag.Free}
	a.agents[ag.ID] = s
	i, _ := slices.BinarySearchFunc(a.order, ag.ID, func(s *agentState, id string) int { return strings.Compare(s.ID, id) })
	a.order = slices.Insert(a.order, i, s)
	a.drf.total = a.drf.addTo(a.drf.total, ag.Total, 1)
	return nil
}

// UpdateAgent sets an agent's total, as when its reservation changes. When
// the new total no longer holds what is allocated and offered, every
// outstanding offer on the agent is rescinded and returned so that the
// master can tell the frameworks.
func (a *Allocator) UpdateAgent(id string, total Resources) ([]Offer, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	s, ok := a.agents[id]
	if !ok {
		return nil, fmt.Errorf("%w: agent %s", ErrNotFound, id)
	}
	a.drf.total = a.drf.addTo(a.drf.total, s.Total, -1)
	a.drf.total = a.drf.addTo(a.drf.total, total, 1)
	s.Total = total
	var rescinded []Offer
	if !total.Contains(s.allocated.Add(s.offered())) {
		for len(s.offers) > 0 {
			rescinded = append(rescinded, a.rescind(s.offers[0]))
		}
	}
	s.recompute()
	return rescinded, nil
}

// RemoveAgent forgets an agent, rescinding its outstanding offers (returned)
// and dropping what its tasks held.
func (a *Allocator) RemoveAgent(id string) ([]Offer, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	s, ok := a.agents[id]
	if !ok {
		return nil, fmt.Errorf("%w: agent %s", ErrNotFound, id)
	}
	var rescinded []Offer
	for len(s.offers) > 0 {
		rescinded = append(rescinded, a.rescind(s.offers[0]))
	}
	for _, f := range a.frameworks {
		if held, ok := f.onAgent[id]; ok {
			f.held = a.drf.addTo(f.held, held, -1)
			delete(f.onAgent, id)
		}
		delete(f.filters, id)
	}
	a.drf.total = a.drf.addTo(a.drf.total, s.Total, -1)
	delete(a.agents, id)
	a.order = slices.DeleteFunc(a.order, func(x *agentState) bool { return x == s })
	return rescinded, nil
}

// AddFramework registers a framework.
func (a *Allocator) AddFramework(f Framework) error {
	if f.ID == "" {
		return fmt.Errorf("%w: framework with empty ID", ErrInvalid)
	}
	if f.Role == "" {
		f.Role = Unreserved
	}
	if msg := checkRole(f.Role); msg != "" {
		return fmt.Errorf("%w: framework %s: role %q: %s", ErrInvalid, f.ID, f.Role, msg)
	}
	if f.Weight == 0 {
		f.Weight = 1
	}
	if f.Weight < 0 || math.IsNaN(f.Weight) || math.IsInf(f.Weight, 0) {
		return fmt.Errorf("%w: framework %s: weight %v", ErrInvalid, f.ID, f.Weight)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.frameworks[f.ID]; ok {
		return fmt.Errorf("%w: framework %s", ErrExists, f.ID)
	}
	a.frameworks[f.ID] = &frameworkState{Framework: f, onAgent: make(map[string]Resources)}
	return nil
}

// RemoveFramework forgets a framework: its outstanding offers and the
// resources its tasks held become available again.
func (a *Allocator) RemoveFramework(id string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	f, ok := a.frameworks[id]
	if !ok {
		return fmt.Errorf("%w: framework %s", ErrNotFound, id)
	}
	for _, o := range a.sortedOffers(f) {
		a.rescind(o)
	}
	for agentID, held := range f.onAgent {
		if s := a.agents[agentID]; s != nil {
			s.allocated = s.allocated.Subtract(held)
			s.recompute()
		}
	}
	delete(a.frameworks, id)
	return nil
}

func (a *Allocator) sortedOffers(f *frameworkState) []*offerState {
	var out []*offerState
	for _, o := range a.offers {
		if o.framework == f {
			out = append(out, o)
		}
	}
	slices.SortFunc(out, func(x, y *offerState) int { return strings.Compare(x.ID, y.ID) })
	return out
}

// Suppress stops offers to a framework until Revive.
func (a *Allocator) Suppress(frameworkID string) error {
	return a.withFramework(frameworkID, func(f *frameworkState) { f.suppressed = true })
}

// Revive resumes offers to a framework and clears its offer filters, as a
// framework does when it has new work.
func (a *Allocator) Revive(frameworkID string) error {
	return a.withFramework(frameworkID, func(f *frameworkState) {
		f.suppressed = false
		clear(f.filters)
	})
}

func (a *Allocator) withFramework(id string, fn func(*frameworkState)) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	f, ok := a.frameworks[id]
	if !ok {
		return fmt.Errorf("%w: framework %s", ErrNotFound, id)
	}
	fn(f)
	return nil
}

// Share returns a framework's dominant share of the cluster (allocated plus
// offered), before weighting.
func (a *Allocator) Share(frameworkID string) (float64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	f, ok := a.frameworks[frameworkID]
	if !ok {
		return 0, fmt.Errorf("%w: framework %s", ErrNotFound, frameworkID)
	}
	return a.drf.share(f.held), nil
}

// Allocate runs one allocation cycle. For each agent in ID order it offers
// the available resources to the framework with the lowest weighted
// dominant share that is not suppressed, may use them (by role) and has no
// filter covering them; then to the next, while reserved resources of other
// roles remain. Offers are returned in agent order.
func (a *Allocator) Allocate() []Offer {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	h := a.heap[:0]
	for _, f := range a.frameworks {
		f.byFilter, f.byRole = 0, 0
		if !f.suppressed {
			f.weighted = a.drf.share(f.held) / f.Weight
			h = append(h, f)
		}
	}
	heap.Init(&h)
	out := make([]Offer, 0, len(a.order))
	if len(a.offers) == 0 {
		// Size the table for about one offer per agent rather than
		// growing it step by step during the cycle.
		a.offers = make(map[string]*offerState, len(a.order))
	}
	var skipped []*frameworkState
	for _, s := range a.order {
		for !s.available.IsEmpty() && h.Len() > 0 {
			f := heap.Pop(&h).(*frameworkState)
			portion := s.available.Allocatable(f.Role)
			if portion.IsEmpty() {
				f.byRole++
				skipped = append(skipped, f)
				continue
			}
			if f.filtered(s.ID, portion, now) {
				f.byFilter++
				skipped = append(skipped, f)
				continue
			}
			out = append(out, a.offer(s, f, portion))
			f.weighted = a.drf.share(f.held) / f.Weight
			heap.Push(&h, f)
		}
		for _, f := range skipped {
			heap.Push(&h, f)
		}
		skipped = skipped[:0]
	}
	clear(h)
	a.heap = h[:0]
	return out
}

// Withheld says how many agents with resources left the last Allocate passed
// over for a framework, and why: ByFilter counts agents whose resources the
// framework's own decline filters covered, ByRole agents where all that was
// left was reserved for other roles (Name is empty for both). Offers is the
// number of offers not made, one per agent; the most frequent reason comes
// first. A suppressed framework is passed over on purpose and gets none.
// A master shows it so that people can tell why offers stopped coming.
func (a *Allocator) Withheld(frameworkID string) ([]Rejection, error) {
	var out []Rejection
	err := a.withFramework(frameworkID, func(f *frameworkState) {
		if f.byFilter > 0 {
			out = append(out, Rejection{Kind: ByFilter, Offers: f.byFilter})
		}
		if f.byRole > 0 {
			out = append(out, Rejection{Kind: ByRole, Offers: f.byRole})
		}
		slices.SortFunc(out, compareRejections)
	})
	return out, err
}

func (f *frameworkState) filtered(agentID string, r Resources, now time.Time) bool {
	flt, ok := f.filters[agentID]
	if !ok {
		return false
	}
	if !now.Before(flt.until) {
		delete(f.filters, agentID)
		return false
	}
	return flt.refused.Contains(r)
}

// offer moves portion of agent s's available resources into a new offer to f.
func (a *Allocator) offer(s *agentState, f *frameworkState, portion Resources) Offer {
	if len(portion.rs) == len(s.available.rs) {
		s.available = Resources{}
	} else {
		s.available = s.available.Subtract(portion)
	}
	a.nextOffer++
	o := &offerState{
		Offer: Offer{
			ID: "o-" + strconv.FormatUint(a.nextOffer, 10), AgentID: s.ID, Hostname: s.Hostname,
			Attributes: s.Attributes, FrameworkID: f.ID, Resources: portion,
		},
		agent: s, framework: f,
	}
	a.offers[o.ID] = o
	s.offers = append(s.offers, o)
	f.held = a.drf.addTo(f.held, portion, 1)
	return o.Offer
}

// Accept takes used out of an outstanding offer for the framework's tasks
// and returns the rest to the agent, filtered from the framework for the
// refuse duration (WithRefuse, else the allocator's default). used must
// be part of the offer, roles included.
func (a *Allocator) Accept(offerID string, used Resources, opts ...FilterOption) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	o, ok := a.offers[offerID]
	if !ok {
		return fmt.Errorf("%w: offer %s", ErrNotFound, offerID)
	}
	if !o.Resources.Contains(used) {
		return fmt.Errorf("%w: offer %s holds %q, not %q", ErrInvalid, offerID, o.Resources, used)
	}
	cfg := filterConfig{refuse: a.refuse}
	for _, opt := range opts {
		opt(&cfg)
	}
	refuse := cfg.refuse
	a.remove(o)
	s, f := o.agent, o.framework
	leftover := o.Resources.Subtract(used)
	f.held = a.drf.addTo(f.held, leftover, -1)
	if !used.IsEmpty() {
		s.allocated = s.allocated.Add(used)
		f.onAgent[s.ID] = f.onAgent[s.ID].Add(used)
	}
	s.recompute()
	if refuse > 0 && !leftover.IsEmpty() {
		if f.filters == nil {
			f.filters = make(map[string]filter)
		}
		f.filters[s.ID] = filter{refused: leftover, until: a.now().Add(refuse)}
	}
	return nil
}

// Decline returns a whole offer, filtered like Accept's leftover.
func (a *Allocator) Decline(offerID string, opts ...FilterOption) error {
	return a.Accept(offerID, Resources{}, opts...)
}

// Rescind takes back an outstanding offer without filtering, for example
// when the master must reclaim the agent.
func (a *Allocator) Rescind(offerID string) (Offer, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	o, ok := a.offers[offerID]
	if !ok {
		return Offer{}, fmt.Errorf("%w: offer %s", ErrNotFound, offerID)
	}
	return a.rescind(o), nil
}

func (a *Allocator) rescind(o *offerState) Offer {
	a.remove(o)
	o.framework.held = a.drf.addTo(o.framework.held, o.Resources, -1)
	o.agent.recompute()
	return o.Offer
}

func (a *Allocator) remove(o *offerState) {
	delete(a.offers, o.ID)
	o.agent.offers = slices.DeleteFunc(o.agent.offers, func(x *offerState) bool { return x == o })
}

// Recover returns resources that a framework's tasks held on an agent, as
// when the tasks end.
func (a *Allocator) Recover(frameworkID, agentID string, res Resources) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	f, ok := a.frameworks[frameworkID]
	if !ok {
		return fmt.Errorf("%w: framework %s", ErrNotFound, frameworkID)
	}
	s, ok := a.agents[agentID]
	if !ok {
		return fmt.Errorf("%w: agent %s", ErrNotFound, agentID)
	}
	if !f.onAgent[agentID].Contains(res) {
		return fmt.Errorf("%w: framework %s holds %q on agent %s, not %q", ErrInvalid, frameworkID, f.onAgent[agentID], agentID, res)
	}
	f.onAgent[agentID] = f.onAgent[agentID].Subtract(res)
	f.held = a.drf.addTo(f.held, res, -1)
	s.allocated = s.allocated.Subtract(res)
	s.recompute()
	return nil
}

func (s *agentState) offered() Resources {
	var sum Resources
	for _, o := range s.offers {
		sum = sum.Add(o.Resources)
	}
	return sum
}

// recompute derives what may be offered: total minus allocated minus
// offered, never below zero (tasks may hold more than a shrunken total).
func (s *agentState) recompute() {
	s.available = s.Total.Subtract(s.allocated).Subtract(s.offered())
}
