package master

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/gleaner/gleaner/examples/internal/api"
	"github.com/gleaner/gleaner/offer"
)

// maintenanceRecord is an agent's maintenance as kept in etcd, under
// <prefix>/master/maintenance/<agent-id>, written before the master acts on
// it like the agents', frameworks' and tasks' records: a new leader drains
// what the old one drained. It may name an agent that has not registered.
type maintenanceRecord struct {
	AgentID    string    `json:"agent_id"`
	Draining   bool      `json:"draining,omitempty"`
	DrainSince time.Time `json:"drain_since,omitzero"`
	Deadline   time.Time `json:"deadline,omitzero"`
	// ByWindow says the drain began with a maintenance window, and ends
	// with it; an operator's drain ends only when an operator says so.
	ByWindow bool                    `json:"by_window,omitempty"`
	Windows  []api.MaintenanceWindow `json:"windows,omitempty"`
}

// empty reports whether the record says nothing and may be deleted.
func (r *maintenanceRecord) empty() bool { return !r.Draining && len(r.Windows) == 0 }

// maintenanceState is the leader's in-memory view of one agent's
// maintenance: the record, and what is derived from the agent's reports.
type maintenanceState struct {
	rec maintenanceRecord
	// drained is the agent's last word: it holds no task.
	drained bool
	// killed says the deadline's kills were sent.
	killed bool
}

func (s *maintenanceState) view() *api.AgentMaintenance {
	return &api.AgentMaintenance{AgentID: s.rec.AgentID, Draining: s.rec.Draining, DrainSince: s.rec.DrainSince,
		Deadline: s.rec.Deadline, Drained: s.rec.Draining && s.drained, Windows: slices.Clone(s.rec.Windows)}
}

// draining reports whether the agent gets no new offers.
func (c *cluster) draining(agentID string) bool {
	s, ok := c.maintenance[agentID]
	return ok && s.rec.Draining
}

// offerable is what the allocator may offer of an agent: its reservation,
// or nothing while it drains.
func (c *cluster) offerable(a *agent) offer.Resources {
	if c.draining(a.rec.ID) {
		return offer.Resources{}
	}
	return a.total
}

// maintenanceOf returns the agent's maintenance view, or nil.
func (c *cluster) maintenanceOf(agentID string) *api.AgentMaintenance {
	if s, ok := c.maintenance[agentID]; ok && !s.rec.empty() {
		return s.view()
	}
	return nil
}

// nextWindow is the agent's earliest window that has not ended, for offers.
func (c *cluster) nextWindow(agentID string) *api.MaintenanceWindow {
	if s, ok := c.maintenance[agentID]; ok && len(s.rec.Windows) > 0 {
		w := s.rec.Windows[0]
		return &w
	}
	return nil
}

// drain marks an agent draining: no new offers from now on, frameworks
// told, and its tasks killed at the deadline if one is given.
func (m *Master) drain(ctx context.Context, c *cluster, req *api.DrainAgent) (any, error) {
	if err := validID("agent_id", req.AgentID); err != nil {
		return nil, err
	}
	deadline := time.Time{}
	if req.DeadlineSeconds != nil {
		d, err := seconds("deadline_seconds", req.DeadlineSeconds, 0)
		if err != nil {
			return nil, err
		}
		deadline = time.Now().Add(d)
	}
	if _, known := c.agents[req.AgentID]; !known {
		return nil, notFound("agent %q is not registered", req.AgentID)
	}
	s := c.maintenanceState(req.AgentID)
	rec := s.rec
	if !rec.Draining {
		rec.DrainSince = time.Now()
	}
	rec.Draining, rec.ByWindow, rec.Deadline = true, false, deadline
	if err := m.setMaintenance(ctx, c, s, rec, "drained by an operator"); err != nil {
		return nil, err
	}
	return s.view(), nil
}

// up ends an agent's drain: it is offered again.
func (m *Master) up(ctx context.Context, c *cluster, req *api.UpAgent) (any, error) {
	if err := validID("agent_id", req.AgentID); err != nil {
		return nil, err
	}
	s, ok := c.maintenance[req.AgentID]
	if !ok || !s.rec.Draining {
		return nil, notFound("agent %q is not draining", req.AgentID)
	}
	rec := s.rec
	rec.Draining, rec.ByWindow, rec.DrainSince, rec.Deadline = false, false, time.Time{}, time.Time{}
	// An operator who ends a drain during a window ends the window too.
	now := time.Now()
	rec.Windows = slices.DeleteFunc(rec.Windows, func(w api.MaintenanceWindow) bool { return !w.Start.After(now) })
	if err := m.setMaintenance(ctx, c, s, rec, "back up: an operator ended the drain"); err != nil {
		return nil, err
	}
	return s.view(), nil
}

// maxWindows bounds a maintenance schedule.
const maxWindows = 10000

// setSchedule replaces every agent's maintenance windows.
func (m *Master) setSchedule(ctx context.Context, c *cluster, req *api.MaintenanceSchedule) (any, error) {
	if len(req.Windows) > maxWindows {
		return nil, badRequest("windows: %d entries, at most %d", len(req.Windows), maxWindows)
	}
	want := map[string][]api.MaintenanceWindow{}
	for i, w := range req.Windows {
		field := fmt.Sprintf("windows[%d]", i)
		if w.Start.IsZero() {
			return nil, badRequest("%s.start: missing", field)
		}
		if !(w.DurationSeconds > 0 && w.DurationSeconds <= 365*24*3600) {
			return nil, badRequest("%s.duration_seconds %v: must be more than 0 and at most one year", field, w.DurationSeconds)
		}
		if len(w.AgentIDs) == 0 {
			return nil, badRequest("%s.agent_ids: empty", field)
		}
		for j, id := range w.AgentIDs {
			if err := validID(fmt.Sprintf("%s.agent_ids[%d]", field, j), id); err != nil {
				return nil, err
			}
			want[id] = append(want[id], w.MaintenanceWindow)
		}
	}
	ids := make([]string, 0, len(want)+len(c.maintenance))
	for id := range want {
		ids = append(ids, id)
	}
	for id := range c.maintenance {
		if _, ok := want[id]; !ok {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	for _, id := range ids {
		ws := want[id]
		sort.Slice(ws, func(i, j int) bool { return ws[i].Start.Before(ws[j].Start) })
		s := c.maintenanceState(id)
		rec := s.rec
		rec.Windows = ws
		if err := m.setMaintenance(ctx, c, s, rec, ""); err != nil {
			return nil, err
		}
	}
	m.maintain(ctx, c, time.Now())
	return nil, nil
}

// handleSchedule answers GET PathSchedule.
func (m *Master) handleSchedule(w http.ResponseWriter, r *http.Request) {
	c := m.lockLeading(w)
	if c == nil {
		return
	}
	out := m.schedule(c)
	m.mu.Unlock()
	api.WriteJSON(w, http.StatusOK, out)
}

// schedule is the windows by agent.
func (m *Master) schedule(c *cluster) api.MaintenanceSchedule {
	out := api.MaintenanceSchedule{Windows: []api.ScheduledWindow{}}
	ids := make([]string, 0, len(c.maintenance))
	for id := range c.maintenance {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		for _, w := range c.maintenance[id].rec.Windows {
			out.Windows = append(out.Windows, api.ScheduledWindow{AgentIDs: []string{id}, MaintenanceWindow: w})
		}
	}
	return out
}

// maintenanceState returns the agent's state, creating an empty one.
func (c *cluster) maintenanceState(agentID string) *maintenanceState {
	s, ok := c.maintenance[agentID]
	if !ok {
		s = &maintenanceState{rec: maintenanceRecord{AgentID: agentID}}
		c.maintenance[agentID] = s
	}
	return s
}

// setMaintenance writes rec to etcd, then applies it: the allocator stops
// or resumes offering the agent, frameworks hear of the change, and the
// dashboard records it (why, when a drain begins or ends).
func (m *Master) setMaintenance(ctx context.Context, c *cluster, s *maintenanceState, rec maintenanceRecord, why string) error {
	key := m.key("maintenance", rec.AgentID)
	op := putJSON(key, rec)
	if rec.empty() {
		op = clientv3.OpDelete(key)
	}
	if err := m.save(ctx, c, op); err != nil {
		return err
	}
	wasDraining := s.rec.Draining
	s.rec = rec
	if !rec.Draining {
		s.drained, s.killed = false, false
	}
	if rec.empty() {
		delete(c.maintenance, rec.AgentID)
	}
	if a, ok := c.agents[rec.AgentID]; ok && a.up && wasDraining != rec.Draining {
		rescinded, err := c.alloc.UpdateAgent(a.rec.ID, c.offerable(a))
		if err == nil {
			c.rescinded(rescinded, "agent draining")
		}
		c.allocateSoon()
	}
	switch {
	case rec.Draining && !wasDraining:
		msg := why
		if !rec.Deadline.IsZero() {
			msg += fmt.Sprintf("; tasks left at %s are killed", rec.Deadline.Format(time.RFC3339))
		}
		c.event(api.ClusterEvent{Kind: api.KindDraining, AgentID: rec.AgentID, Message: msg})
		m.log.Info("agent draining", "agent", rec.AgentID, "why", why, "deadline", rec.Deadline)
	case !rec.Draining && wasDraining:
		c.event(api.ClusterEvent{Kind: api.KindUp, AgentID: rec.AgentID, Message: why})
		m.log.Info("agent up", "agent", rec.AgentID, "why", why)
	}
	view := s.view()
	c.broadcast(api.Event{Type: api.EventMaintenance, Maintenance: view})
	return nil
}

// maintain, every allocation interval, starts and ends the drains of
// maintenance windows, kills the tasks still on draining agents whose
// deadline passed, and notes agents that drained.
func (m *Master) maintain(ctx context.Context, c *cluster, now time.Time) {
	ids := make([]string, 0, len(c.maintenance))
	for id := range c.maintenance {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		s := c.maintenance[id]
		rec := s.rec
		rec.Windows = slices.DeleteFunc(slices.Clone(rec.Windows), func(w api.MaintenanceWindow) bool { return !w.End().After(now) })
		active := len(rec.Windows) > 0 && !rec.Windows[0].Start.After(now)
		why := ""
		switch {
		case active && !rec.Draining:
			w := rec.Windows[0]
			rec.Draining, rec.ByWindow, rec.DrainSince, rec.Deadline = true, true, now, w.Start
			why = fmt.Sprintf("maintenance window from %s for %s", w.Start.Format(time.RFC3339),
				time.Duration(w.DurationSeconds*float64(time.Second)))
		case !active && rec.Draining && rec.ByWindow:
			rec.Draining, rec.ByWindow, rec.DrainSince, rec.Deadline = false, false, time.Time{}, time.Time{}
			why = "back up: the maintenance window ended"
		}
		if why != "" || len(rec.Windows) != len(s.rec.Windows) {
			if err := m.setMaintenance(ctx, c, s, rec, why); err != nil {
				m.log.Warn("maintenance", "agent", id, "err", err)
				continue
			}
		}
		if rec.Draining && !s.killed && !rec.Deadline.IsZero() && !now.Before(rec.Deadline) {
			s.killed = true
			m.killDrained(c, id)
		}
	}
}

// killDrained kills the tasks still on a draining agent past its deadline.
func (m *Master) killDrained(c *cluster, agentID string) {
	a, ok := c.agents[agentID]
	if !ok || !a.up {
		return
	}
	n := 0
	for _, t := range c.tasks {
		if t.Info.AgentID != agentID || t.KillReason != "" {
			continue
		}
		t.KillReason = api.ReasonDrained + ": agent " + agentID + " drained for maintenance, deadline passed"
		a.send(api.AgentCommand{Type: api.CommandKill, TaskID: t.Info.TaskID, Reason: t.KillReason})
		n++
	}
	if n > 0 {
		m.log.Info("drain deadline passed; killing what is left", "agent", agentID, "tasks", n)
	}
}

// reportedDrained takes an agent's word that it holds no task while it
// drains, and records the first time it says so.
func (m *Master) reportedDrained(c *cluster, agentID string, drained bool) {
	s, ok := c.maintenance[agentID]
	if !ok || !s.rec.Draining || s.drained == drained {
		return
	}
	for _, t := range c.tasks {
		if t.Info.AgentID == agentID {
			return // the master still counts a task there: not yet
		}
	}
	s.drained = drained
	if drained {
		c.event(api.ClusterEvent{Kind: api.KindDrained, AgentID: agentID,
			Message: fmt.Sprintf("drained after %s: no task left", time.Since(s.rec.DrainSince).Round(time.Second))})
		c.broadcast(api.Event{Type: api.EventMaintenance, Maintenance: s.view()})
	}
}
