package reserve

import (
	"fmt"
	"strings"
	"sync"
	"time"
)

// Change is one published change of the reservation.
type Change struct {
	Time     time.Time
	From, To Resources // reservation before and after
	Estimate Resources // what the policy said, clamped to [0, capacity], before hysteresis
	Business Resources // the business usage of the sample that caused it
	Capacity Resources
	Policy   string // the policy's String
	// Reason says in words what changed and why, e.g. "CPU shrinks 3.20
	// cores → 1.10 cores at once (business 6.40 cores of 8.00 cores,
	// estimate 1.10 cores); policy p95 over 1h".
	Reason string
}

// engine is the estimate-then-damp pipeline shared by Reservation and Replay.
type engine struct {
	policy  Policy
	name    string
	history *History
	damper  damper
	current Resources
	quiet   bool // skip formatting reasons (Replay does not read them)
}

func newEngine(p Policy, h Hysteresis, keep time.Duration) (*engine, error) {
	if err := validatePolicy(p); err != nil {
		return nil, err
	}
	if err := h.Validate(); err != nil {
		return nil, err
	}
	return &engine{policy: p, name: p.String(), history: NewHistory(keep), damper: damper{cfg: h}}, nil
}

// observe adds s and returns the change it causes, if any.
func (e *engine) observe(s Sample) (Change, bool, error) {
	if err := e.history.Add(s); err != nil {
		return Change{}, false, err
	}
	est := e.policy.Estimate(e.history).each(func(r resource, v float64) float64 {
		return clamp(v, 0, s.Capacity.get(r))
	})
	next, why := e.damper.step(s, est)
	if len(why) == 0 {
		return Change{}, false, nil
	}
	c := Change{
		Time: s.Time, From: e.current, To: next, Estimate: est,
		Business: s.Business, Capacity: s.Capacity, Policy: e.name,
	}
	e.current = next
	if e.quiet {
		return c, true, nil
	}
	var b strings.Builder
	for _, m := range why {
		fmt.Fprintf(&b, "%s (business %s of %s, estimate %s); ", m, formatAmount(m.r, s.Business.get(m.r)),
			formatAmount(m.r, s.Capacity.get(m.r)), formatAmount(m.r, est.get(m.r)))
	}
	fmt.Fprintf(&b, "policy %s", e.name)
	c.Reason = b.String()
	return c, true, nil
}

// Reservation is the amount the agent may lend to harvested work, kept up to
// date from samples and published to subscribers (the parent-cgroup resizer,
// the report to the master).
//
// Publishing never blocks: each subscriber has a one-slot mailbox that
// holds the newest unread Change. If a subscriber has not read the previous
// Change when a new one is published, the old one is replaced (latest-value
// semantics: a reservation is a level, and only the newest matters) and the
// subscriber's Dropped count grows. Every Change carries From and To, so a
// subscriber that missed one still knows the current value.
type Reservation struct {
	mu     sync.Mutex
	engine *engine
	subs   map[*Subscription]struct{}
}

// NewReservation returns a Reservation that estimates with p and damps with
// h. It reports an error wrapping ErrInvalid for a bad policy or hysteresis.
func NewReservation(p Policy, h Hysteresis) (*Reservation, error) {
	e, err := newEngine(p, h, 0)
	if err != nil {
		return nil, err
	}
	return &Reservation{engine: e, subs: make(map[*Subscription]struct{})}, nil
}

// Observe feeds one sample, re-estimates and publishes the change, if any.
// It returns the change and whether there was one. A bad or out-of-order
// sample is reported (ErrInvalid, ErrOutOfOrder) and leaves the
// reservation as it was.
func (r *Reservation) Observe(s Sample) (Change, bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok, err := r.engine.observe(s)
	if err != nil || !ok {
		return c, ok, err
	}
	for sub := range r.subs {
		sub.offer(c)
	}
	return c, true, nil
}

// Restore starts the reservation from prev, the value an earlier run of the
// same agent published, instead of from zero. Without it a restarted agent
// would lend nothing until its estimate had stayed higher for GrowAfter, and
// its QoS would evict the running tasks it adopted. Restoring lends nothing
// that the business needs: the next Observe still shrinks at once to what the
// business leaves idle. Call it before the first Observe; a NaN, infinite or
// negative amount is refused with an error wrapping ErrInvalid.
func (r *Reservation) Restore(prev Resources) error {
	if err := checkAmounts("Restore", prev); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.engine
	e.current = prev
	for res := range numResources {
		e.damper.cur[res] = prev.get(res)
	}
	return nil
}

// Current returns the reservation now.
func (r *Reservation) Current() Resources {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.engine.current
}

// Subscribe returns a subscription that receives the Changes published
// from now on, latest value first (see Subscription). Close it when done.
func (r *Reservation) Subscribe() *Subscription {
	s := &Subscription{c: make(chan Change, 1), r: r}
	r.mu.Lock()
	r.subs[s] = struct{}{}
	r.mu.Unlock()
	return s
}

// Subscription is one subscriber's mailbox, returned by Subscribe.
//
// Delivery is latest-value: the mailbox holds one Change, and a Change
// published while the previous one is still unread replaces it, which
// counts as dropped. A reservation is a level, so only the newest matters,
// and every Change carries From and To. Publishing never waits for a
// subscriber.
type Subscription struct {
	c       chan Change
	r       *Reservation
	dropped uint64 // guarded by r.mu
}

// C returns the channel Changes arrive on. Close closes it after the last
// delivery: a Change published before Close and not yet read is still
// received, then the channel reports closed. The Reservation itself never
// closes it.
func (s *Subscription) C() <-chan Change { return s.c }

// Dropped returns how many Changes this subscriber did not get because a
// newer one replaced them before it read them. It is safe to call from any
// goroutine.
func (s *Subscription) Dropped() uint64 {
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	return s.dropped
}

// Close stops delivery and closes C. It is idempotent and safe to call from
// any goroutine, also while another reads C or calls Observe.
func (s *Subscription) Close() {
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	if _, ok := s.r.subs[s]; ok {
		delete(s.r.subs, s)
		close(s.c)
	}
}

// offer puts c in the mailbox, replacing an unread Change. Called with r.mu
// held, so it is the only sender; the receiver may empty the slot at any
// moment, which only makes the second send succeed.
func (s *Subscription) offer(c Change) {
	select {
	case s.c <- c:
		return
	default:
	}
	select {
	case <-s.c:
		s.dropped++
	default:
	}
	select {
	case s.c <- c:
	default: // unreachable: we are the only sender and the slot is free
	}
}
