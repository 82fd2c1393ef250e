package master

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/gleaner/gleaner/attrs"
	"github.com/gleaner/gleaner/examples/internal/api"
	"github.com/gleaner/gleaner/offer"
)

// parseResources parses a field in Mesos text; empty is allowed when
// optional.
func parseResources(field, text string, optional bool) (offer.Resources, error) {
	if text == "" {
		if optional {
			return offer.Resources{}, nil
		}
		return offer.Resources{}, badRequest("%s: missing", field)
	}
	r, err := offer.ParseResources(text)
	if err != nil {
		return offer.Resources{}, badRequest("%s: %v", field, err)
	}
	return r, nil
}

func validAttributes(field string, m map[string]string) error {
	if _, err := attrs.FromMap(m); err != nil {
		return badRequest("%s: %v", field, err)
	}
	return nil
}

// register adds an agent or takes it back after a restart, keeping its tasks.
func (m *Master) register(ctx context.Context, c *cluster, req *api.RegisterAgent) (any, error) {
	if err := validID("agent_id", req.AgentID); err != nil {
		return nil, err
	}
	if req.Hostname == "" {
		return nil, badRequest("hostname: missing")
	}
	total, err := parseResources("reservation", req.Reservation, false)
	if err != nil {
		return nil, err
	}
	capacity, err := parseResources("capacity", req.Capacity, true)
	if err != nil {
		return nil, err
	}
	if err := validAttributes("attributes", req.Attributes); err != nil {
		return nil, err
	}
	rec := agentRecord{ID: req.AgentID, Hostname: req.Hostname, Endpoint: req.Endpoint,
		Capacity: req.Capacity, Reservation: total.String(), Attributes: req.Attributes}
	if err := m.save(ctx, c, putJSON(m.key("agents", rec.ID), rec)); err != nil {
		return nil, err
	}
	a, ok := c.agents[rec.ID]
	if !ok {
		a = newAgent(rec)
		c.agents[rec.ID] = a
	}
	a.rec, a.capacity = rec, capacity
	a.total = total
	if a.up {
		rescinded, _ := c.alloc.UpdateAgent(rec.ID, c.offerable(a))
		c.rescinded(rescinded, "agent registered again")
	} else {
		offerable := c.offerable(a)
		if err := c.alloc.AddAgent(offer.Agent{ID: rec.ID, Hostname: rec.Hostname, Total: offerable,
			Free: offerable.Subtract(c.heldOn(rec.ID))}); err != nil {
			return nil, fmt.Errorf("add agent %s: %w", rec.ID, err)
		}
		a.up = true
		c.allocateSoon()
	}
	a.since = time.Now()
	// An agent registers before its first sample, so what it lends is
	// often not known yet.
	msg := rec.Hostname + " registered, lending nothing yet"
	if !total.IsEmpty() {
		msg = fmt.Sprintf("%s registered, lending %s", rec.Hostname, total)
	}
	c.event(api.ClusterEvent{Kind: api.KindAgentRegistered, AgentID: rec.ID, Message: msg})
	m.log.Info("agent registered", "agent", rec.ID, "hostname", rec.Hostname, "reservation", total.String())
	return api.RegisterAgentResponse{AgentID: rec.ID, ReportIntervalSeconds: m.cfg.ReportInterval.Seconds()}, nil
}

// report takes an agent's reservation, usage and task list and answers with
// its queued commands.
func (m *Master) report(ctx context.Context, c *cluster, req *api.AgentReport) (any, error) {
	if err := validID("agent_id", req.AgentID); err != nil {
		return nil, err
	}
	a, ok := c.agents[req.AgentID]
	if !ok || !a.up {
		return nil, notFound("agent %q is not registered: register again", req.AgentID)
	}
	total, err := parseResources("reservation", req.Reservation, false)
	if err != nil {
		return nil, err
	}
	var capacity, business, harvested, guaranteed offer.Resources
	for _, f := range []struct {
		name string
		text string
		dst  *offer.Resources
	}{{"capacity", req.Capacity, &capacity}, {"business", req.Business, &business}, {"harvested", req.Harvested, &harvested},
		{"guaranteed", req.Guaranteed, &guaranteed}} {
		if *f.dst, err = parseResources(f.name, f.text, true); err != nil {
			return nil, err
		}
	}
	seen := make(map[string]bool, len(req.Tasks))
	for i, st := range req.Tasks {
		if err := validID(fmt.Sprintf("tasks[%d].task_id", i), st.TaskID); err != nil {
			return nil, err
		}
		if !st.State.Valid() {
			return nil, badRequest("tasks[%d].state %q: not a task state", i, st.State)
		}
		if seen[st.TaskID] {
			return nil, badRequest("tasks[%d].task_id %q: listed twice", i, st.TaskID)
		}
		seen[st.TaskID] = true
	}

	now := time.Now()
	if !total.Equal(a.total) {
		shrank := !total.Contains(a.total)
		a.total = total
		rescinded, err := c.alloc.UpdateAgent(a.rec.ID, c.offerable(a))
		if err != nil {
			return nil, err
		}
		why := "reservation changed to " + total.String()
		if shrank {
			why = "reservation shrank to " + total.String()
		}
		c.rescinded(rescinded, why)
		m.metrics.rescinds.Add(float64(len(rescinded)))
	}
	if !capacity.IsEmpty() {
		a.capacity = capacity
	}
	prevReport := a.lastReport
	a.business, a.harvested, a.isolation, a.lastReport = business, harvested, req.Isolation, now
	m.record(a, prevReport, now)
	a.guaranteed = guaranteed
	a.history = append(a.history, api.UsageSample{Time: now, Reservation: scalars(total),
		Business: scalars(business), Harvested: scalars(harvested)})
	if n := len(a.history) - m.cfg.History; n > 0 {
		a.history = append(a.history[:0], a.history[n:]...)
	}

	for _, st := range req.Tasks {
		t, ok := c.tasks[st.TaskID]
		switch {
		case ok && t.Info.AgentID == a.rec.ID:
			if err := m.setStatus(ctx, c, t, st); err != nil {
				return nil, err
			}
		case !st.State.Terminal():
			// A task the master does not know (ended, or launched by a
			// master whose state was lost): the agent should not run it.
			a.send(api.AgentCommand{Type: api.CommandKill, TaskID: st.TaskID, Reason: "unknown to the master"})
		}
	}
	for _, t := range c.tasks {
		if t.Info.AgentID == a.rec.ID && !seen[t.Info.TaskID] && now.Sub(t.Sent) > m.cfg.AgentGrace {
			if err := m.setStatus(ctx, c, t, api.TaskStatus{State: api.TaskLost, Reason: api.ReasonUnknownToAgent,
				Message: fmt.Sprintf("not in the reports of agent %s for %s", a.rec.ID, now.Sub(t.Sent).Round(time.Second))}); err != nil {
				return nil, err
			}
		}
	}
	m.reportedDrained(c, a.rec.ID, req.Drained)
	return api.ReportResponse{Commands: a.take(), Draining: c.draining(a.rec.ID)}, nil
}

// scalars converts resources to the dashboard's map of scalar amounts.
func scalars(r offer.Resources) api.Scalars {
	out := api.Scalars{}
	for _, e := range r.All() {
		if e.Type == offer.Scalar {
			out[e.Name] += e.Scalar.Float64()
		}
	}
	return out
}

// maxPoll bounds a command long poll.
const maxPoll = 30 * time.Second

// handleCommands is the agents' long poll for commands.
func (m *Master) handleCommands(w http.ResponseWriter, r *http.Request) {
	var req api.PollCommands
	if err := api.DecodeRequest(w, r, &req); err != nil {
		m.writeError(w, err)
		return
	}
	if err := validID("agent_id", req.AgentID); err != nil {
		m.writeError(w, err)
		return
	}
	if req.WaitSeconds < 0 || req.WaitSeconds > maxPoll.Seconds() {
		m.writeError(w, badRequest("wait_seconds %v: must be between 0 and %v", req.WaitSeconds, maxPoll.Seconds()))
		return
	}
	// An agent's identity depends on no state: checked once.
	if err := authorize(m, r, asAgent(func(r *api.PollCommands) string { return r.AgentID }), nil, &req); err != nil {
		m.writeError(w, err)
		return
	}
	timer := time.NewTimer(time.Duration(req.WaitSeconds * float64(time.Second)))
	defer timer.Stop()
	for {
		c := m.lockLeading(w)
		if c == nil {
			return
		}
		a, ok := c.agents[req.AgentID]
		if !ok || !a.up {
			m.mu.Unlock()
			m.writeError(w, notFound("agent %q is not registered: register again", req.AgentID))
			return
		}
		if len(a.cmds) > 0 {
			cmds := a.take()
			m.mu.Unlock()
			api.WriteJSON(w, http.StatusOK, api.CommandsResponse{Commands: cmds})
			return
		}
		notify := a.notify
		m.mu.Unlock()
		select {
		case <-notify:
		case <-timer.C:
			api.WriteJSON(w, http.StatusOK, api.CommandsResponse{Commands: []api.AgentCommand{}})
			return
		case <-r.Context().Done():
			return
		}
	}
}
