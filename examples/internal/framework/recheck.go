package framework

import (
	"github.com/gleaner/gleaner/examples/internal/api"

	"fmt"
	"maps"
	"slices"

	"github.com/gleaner/gleaner/offer"
)

// AgentChanged tells the scheduler an agent's current hostname and
// attributes, as the master's attribute-change event does. Tasks there
// whose app's constraints no longer hold are killed (see TakeKills) and
// their instances become pending again.
func (s *scheduler) AgentChanged(agentID, hostname string, attrs map[string]string) {
	if hostname == "" {
		hostname = s.agents[agentID].hostname
	}
	if s.learnAgent(agentID, hostname, attrs) {
		s.recheck([]string{agentID})
	}
}

// AgentGone tells the scheduler that an agent and its tasks are gone. The
// tasks are dropped as LOST without counting against their apps' backoff,
// and their instances become pending again.
func (s *scheduler) AgentGone(agentID string) {
	delete(s.agents, agentID)
	for _, id := range s.appIDs() {
		st := s.apps[id]
		for _, t := range s.appTasks(id) {
			if t.agentID != agentID {
				continue
			}
			s.removeTask(st, t)
			s.wantRevive = true
			if t.killReason == "" {
				s.recordEnd(st, t, api.TaskLost, api.ReasonAgentGone)
			}
		}
		if st.deleted && len(st.tasks) == 0 {
			delete(s.apps, id)
			continue
		}
		s.converge(st)
	}
	s.progress()
}

// AgentDraining tells the scheduler whether an agent drains, as the
// master's MAINTENANCE events do. The apps' tasks there are replaced
// elsewhere, each new task ready before an old one goes, within the apps'
// upgrade strategies.
func (s *scheduler) AgentDraining(agentID string, draining bool) {
	if s.draining[agentID] == draining {
		return
	}
	if draining {
		s.draining[agentID] = true
	} else {
		delete(s.draining, agentID)
	}
	for _, id := range s.appIDs() {
		s.converge(s.apps[id])
	}
	s.wantRevive = true
	s.progress()
}

// learnAgent records an agent's hostname and attributes and reports whether
// they differ from what its tasks were placed (or last checked) with.
func (s *scheduler) learnAgent(agentID, hostname string, attrs map[string]string) bool {
	s.agents[agentID] = agent{hostname: hostname, attrs: attrs}
	changed := false
	for _, t := range s.tasks {
		if t.agentID == agentID && (t.hostname != hostname || !maps.Equal(t.attrs, attrs)) {
			t.hostname, t.attrs = hostname, attrs
			changed = true
		}
	}
	return changed
}

// recheck kills the tasks on the changed agents whose constraints no longer
// hold. Each app's tasks elsewhere are kept as they are and judged first;
// then each task on a changed agent is judged against the tasks kept so
// far, so that of two tasks that now share a UNIQUE value only the one on
// the changed agent goes. GROUP_BY is judged only on whether the agent
// still has the field: an uneven spread is a reason to place new tasks
// elsewhere, not to kill running ones.
func (s *scheduler) recheck(changed []string) {
	for _, id := range s.appIDs() {
		st := s.apps[id]
		if st.deleted || len(st.app.Constraints) == 0 {
			continue
		}
		live := s.liveTasks(id)
		onChanged := func(t *task) bool { return slices.Contains(changed, t.agentID) }
		if !slices.ContainsFunc(live, onChanged) {
			continue
		}
		var kept []offer.Placement
		for _, t := range live {
			if !onChanged(t) {
				kept = append(kept, t.placement())
			}
		}
		for _, t := range live {
			if !onChanged(t) {
				continue
			}
			if c, ok := violated(st.app.Constraints, t, kept); ok {
				s.kill(t, killConstraint, fmt.Sprintf("constraint %s no longer holds on agent %s", c, t.agentID))
				continue
			}
			kept = append(kept, t.placement())
		}
	}
}

// violated returns the first constraint that does not let t run where it
// runs, given the app's other tasks kept.
func violated(cs []offer.Constraint, t *task, kept []offer.Placement) (offer.Constraint, bool) {
	for _, c := range cs {
		others := kept
		if c.Op == offer.GroupBy {
			others = nil
		}
		if !c.Check(t.hostname, t.attrs, others) {
			return c, true
		}
	}
	return offer.Constraint{}, false
}

func (t *task) placement() offer.Placement {
	return offer.Placement{TaskID: t.id, AppID: t.appID, AgentID: t.agentID, Hostname: t.hostname, Attributes: t.attrs}
}
