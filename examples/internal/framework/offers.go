package framework

import (
	"fmt"
	"time"

	"github.com/gleaner/gleaner/examples/internal/api"
	"github.com/gleaner/gleaner/offer"
)

// OfferCall says which call the caller should make to the master about
// offers: offerRevive when there is new work (it also clears decline
// filters), offerSuppress when nothing is pending, offerNone otherwise.
// The scheduler assumes the call is made; after a failed call or a new
// subscription, call ResetOffers.
func (s *scheduler) OfferCall() offerCall {
	want := s.wantsOffers()
	switch {
	case want && (s.wantRevive || s.suppressed):
		s.wantRevive, s.suppressed = false, false
		return offerRevive
	case !want && !s.suppressed:
		s.wantRevive, s.suppressed = false, true
		return offerSuppress
	}
	s.wantRevive = false
	return offerNone
}

// ResetOffers forgets what the master was last told, so that the next
// OfferCall revives or suppresses again.
func (s *scheduler) ResetOffers() {
	s.suppressed = false
	s.wantRevive = true
}

// offerCall is a call about offers to make to the master.
type offerCall uint8

// The offer calls.
const (
	offerNone offerCall = iota
	offerRevive
	offerSuppress
)

func (c offerCall) String() string {
	return [...]string{"none", "revive", "suppress"}[c]
}

// wantsOffers reports whether some app has instances it may launch now.
func (s *scheduler) wantsOffers() bool {
	now := s.cfg.Now()
	for _, st := range s.apps {
		if st.launchable(now) && st.app.Priority <= s.maxPriority && s.pendingCount(st) > 0 {
			return true
		}
	}
	return false
}

// offerLaunches are the tasks to launch on one offer.
type offerLaunches struct {
	OfferID string
	AgentID string
	Tasks   []api.TaskInfo
}

// offerPlan is what to do with a batch of offers: accept some with launches,
// decline the others.
type offerPlan struct {
	Accept  []offerLaunches
	Decline []string // offer IDs with nothing launched on them
}

// ResourceOffers matches the pending instances of every app outside its
// backoff to offers and returns what to accept and decline. Launched tasks
// are STAGING from now on. Apps left with pending instances remember why,
// from offer.Match's rejection counts. Attributes carried by the offers
// update the scheduler's view of the agents, and tasks whose constraints no
// longer hold there are killed (see TakeKills).
func (s *scheduler) ResourceOffers(offers []offer.Offer) offerPlan {
	now := s.cfg.Now()
	s.learnOfferAgents(offers)
	ids := s.appIDs()
	pending, running := s.toPlace(ids, now, len(offers))
	if len(pending) == 0 {
		return offerPlan{Decline: offerIDs(offers)}
	}
	result := offer.Match(offers, pending, running, offer.WithStrategy(s.cfg.Strategy))
	plan := s.launch(offers, result.Launches, now)
	s.notePending(ids, result.Pending, now)
	return plan
}

// learnOfferAgents takes the agents' hostnames and attributes from offers,
// and rechecks the constraints of the tasks on agents whose attributes
// changed.
func (s *scheduler) learnOfferAgents(offers []offer.Offer) {
	var changed []string
	for _, o := range offers {
		if s.learnAgent(o.AgentID, o.Hostname, o.Attributes) {
			changed = append(changed, o.AgentID)
		}
	}
	if len(changed) > 0 {
		s.recheck(changed)
	}
}

// toPlace lists what offer.Match needs: the pending instances of the apps
// (ids) outside their backoff, and where every live task runs. On the way
// it trims each app's instances to re-place to its pending count, and an
// app with nothing pending forgets why it was pending.
func (s *scheduler) toPlace(ids []string, now time.Time, offers int) (pending []offer.Task, running []offer.Placement) {
	for _, id := range ids {
		st := s.apps[id]
		for _, t := range s.liveTasks(id) {
			running = append(running, t.placement())
		}
		n := s.pendingCount(st)
		if len(st.replaces) > n { // scaled down since: the oldest need no successor
			st.replaces = st.replaces[len(st.replaces)-n:]
		}
		if n == 0 {
			st.pendingReason, st.pendingRejections, st.pendingSince = "", nil, time.Time{}
			continue
		}
		if !st.launchable(now) {
			continue
		}
		if st.app.Priority > s.maxPriority {
			st.pendingReason = fmt.Sprintf("priority %d: the framework's role may use 0 to %d", st.app.Priority, s.maxPriority)
			st.pendingRejections = nil
			if st.pendingSince.IsZero() {
				st.pendingSince = now
			}
			continue
		}
		res, err := st.app.demand()
		if err != nil { // PutApp takes normalized apps only
			st.pendingReason, st.pendingRejections = err.Error(), nil
			continue
		}
		for i := range n {
			pending = append(pending, offer.Task{ID: fmt.Sprintf("%s#%d", id, i), AppID: id, Resources: res,
				Constraints: st.app.Constraints, Ports: st.app.dynamicPorts()})
		}
		st.offerStats.round(now, offers)
	}
	return pending, running
}

// launch turns offer.Match's launches into STAGING tasks and the plan: one
// accept per offer with at most api.MaxTasksPerAccept tasks, each naming
// the instance it re-places, and a decline for every offer with none.
func (s *scheduler) launch(offers []offer.Offer, launches []offer.Launch, now time.Time) offerPlan {
	byOffer := make(map[string]int)
	var plan offerPlan
	for _, l := range launches {
		if i, ok := byOffer[l.OfferID]; ok && len(plan.Accept[i].Tasks) >= api.MaxTasksPerAccept {
			// One accept consumes the offer and may launch only so many
			// tasks; the rest wait for the next offers.
			continue
		}
		st := s.apps[l.AppID]
		o := offerByID(offers, l.OfferID)
		s.seq++
		t := &task{
			seq: s.seq, id: s.cfg.NewTaskID(l.AppID), appID: l.AppID, agentID: l.AgentID, hostname: l.Hostname,
			attrs: o.Attributes, resources: l.Resources, state: api.TaskStaging, version: st.version, versionAt: st.versioned, stagedAt: now,
			checked: st.app.hasHealthChecks(), ports: st.app.launchPorts(l.Resources),
		}
		s.addTask(st, t)
		i, ok := byOffer[l.OfferID]
		if !ok {
			i = len(plan.Accept)
			byOffer[l.OfferID] = i
			plan.Accept = append(plan.Accept, offerLaunches{OfferID: l.OfferID, AgentID: l.AgentID})
		}
		var replaces string
		if len(st.replaces) > 0 {
			replaces, st.replaces = st.replaces[0], st.replaces[1:]
		}
		plan.Accept[i].Tasks = append(plan.Accept[i].Tasks, taskInfo(&st.app, t, l.OfferID, replaces))
		st.offerStats.used(now)
	}
	for _, o := range offers {
		if _, ok := byOffer[o.ID]; !ok {
			plan.Decline = append(plan.Decline, o.ID)
		}
	}
	return plan
}

// notePending remembers, for each app (of ids) that offer.Match left with
// pending instances, why (its first unplaced instance's rejection counts,
// or "no offers") and since when; an app with nothing pending forgets it.
func (s *scheduler) notePending(ids []string, unplaced []offer.Pending, now time.Time) {
	reported := make(map[string]bool)
	for _, p := range unplaced {
		st := s.apps[p.AppID]
		if reported[p.AppID] {
			continue
		}
		reported[p.AppID] = true
		reason := p.String()
		if reason == "" {
			reason = "no offers"
		}
		if st.pendingReason == "" {
			st.pendingSince = now
		}
		st.pendingReason, st.pendingRejections = reason, p.Rejections
	}
	for _, id := range ids {
		if st := s.apps[id]; !reported[id] && s.pendingCount(st) == 0 {
			st.pendingReason, st.pendingRejections, st.pendingSince = "", nil, time.Time{}
		}
	}
}

func offerIDs(offers []offer.Offer) []string {
	ids := make([]string, len(offers))
	for i, o := range offers {
		ids[i] = o.ID
	}
	return ids
}

func offerByID(offers []offer.Offer, id string) offer.Offer {
	for _, o := range offers {
		if o.ID == id {
			return o
		}
	}
	return offer.Offer{}
}
