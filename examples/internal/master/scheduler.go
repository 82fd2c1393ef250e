package master

import (
	"context"
	"errors"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/gleaner/gleaner/examples/internal/api"
	"github.com/gleaner/gleaner/offer"
)

// framework returns a registered framework or a 404.
func (c *cluster) framework(id string) (*framework, error) {
	if err := validID("framework_id", id); err != nil {
		return nil, err
	}
	f, ok := c.frameworks[id]
	if !ok {
		return nil, notFound("framework %q is not registered: subscribe first", id)
	}
	return f, nil
}

// offersOf checks that every ID names an outstanding offer of the framework.
func (c *cluster) offersOf(frameworkID string, ids []string) ([]outstanding, error) {
	if len(ids) == 0 {
		return nil, badRequest("offer_ids: empty")
	}
	out := make([]outstanding, 0, len(ids))
	seen := make(map[string]bool, len(ids))
	for i, id := range ids {
		if seen[id] {
			return nil, badRequest("offer_ids[%d] %q: listed twice", i, id)
		}
		seen[id] = true
		o, ok := c.offers[id]
		if !ok || o.offer.FrameworkID != frameworkID {
			return nil, notFound("offer_ids[%d] %q: no such outstanding offer for framework %s "+
				"(rescinded, declined, accepted or never made)", i, id, frameworkID)
		}
		out = append(out, o)
	}
	return out, nil
}

// answering checks the common part of Accept and Decline: the framework,
// its outstanding offers and the refuse time.
func (m *Master) answering(c *cluster, frameworkID string, offerIDs []string, refuseSeconds *float64) ([]outstanding, time.Duration, error) {
	if _, err := c.framework(frameworkID); err != nil {
		return nil, 0, err
	}
	offers, err := c.offersOf(frameworkID, offerIDs)
	if err != nil {
		return nil, 0, err
	}
	refuse, err := seconds("refuse_seconds", refuseSeconds, m.cfg.Refuse)
	if err != nil {
		return nil, 0, err
	}
	return offers, refuse, nil
}

// accept launches tasks on offers, all or nothing.
func (m *Master) accept(ctx context.Context, c *cluster, req *api.Accept) (any, error) {
	offers, refuse, err := m.answering(c, req.FrameworkID, req.OfferIDs, req.RefuseSeconds)
	if err != nil {
		return nil, err
	}
	if len(req.Tasks) > api.MaxTasksPerAccept {
		return nil, badRequest("tasks: %d tasks, at most %d in one accept", len(req.Tasks), api.MaxTasksPerAccept)
	}
	f, err := c.framework(req.FrameworkID)
	if err != nil {
		return nil, err
	}
	byOffer := make(map[string]outstanding, len(offers))
	used := make(map[string]offer.Resources, len(offers))
	for i, id := range req.OfferIDs {
		byOffer[id] = offers[i]
	}
	tasks := make([]*task, 0, len(req.Tasks))
	ids := make(map[string]bool, len(req.Tasks))
	now := time.Now()
	for i, ti := range req.Tasks {
		field := fmt.Sprintf("tasks[%d]", i)
		if err := validID(field+".task_id", ti.TaskID); err != nil {
			return nil, err
		}
		if _, exists := c.tasks[ti.TaskID]; exists || ids[ti.TaskID] {
			return nil, conflict("%s.task_id %q: a task with this ID is already running", field, ti.TaskID)
		}
		ids[ti.TaskID] = true
		if err := validID(field+".app_id", ti.AppID); err != nil {
			return nil, err
		}
		o, ok := byOffer[ti.OfferID]
		if !ok {
			return nil, badRequest("%s.offer_id %q: not among offer_ids", field, ti.OfferID)
		}
		if (ti.Cmd == "") == (len(ti.Args) == 0) {
			return nil, badRequest("%s: exactly one of cmd and args must be given", field)
		}
		res, err := parseResources(field+".resources", ti.Resources, false)
		if err != nil {
			return nil, err
		}
		if ti.FrameworkID != "" && ti.FrameworkID != req.FrameworkID {
			return nil, badRequest("%s.framework_id %q: not the accepting framework %q", field, ti.FrameworkID, req.FrameworkID)
		}
		if ti.AgentID != "" && ti.AgentID != o.offer.AgentID {
			return nil, badRequest("%s.agent_id %q: offer %s is on agent %s", field, ti.AgentID, ti.OfferID, o.offer.AgentID)
		}
		if err := m.checkPriority(field+".priority", ti.Priority, c.frameworks[req.FrameworkID].rec.Role); err != nil {
			return nil, err
		}
		ti.Revocable = o.revocable
		used[ti.OfferID] = used[ti.OfferID].Add(res)
		if !o.offer.Resources.Contains(used[ti.OfferID]) {
			return nil, badRequest("%s.resources: tasks on offer %s need %q, more than it holds (%q)",
				field, ti.OfferID, used[ti.OfferID], o.offer.Resources)
		}
		ti.FrameworkID, ti.AgentID, ti.Role = req.FrameworkID, o.offer.AgentID, f.rec.Role
		t := &task{res: res, attributed: true, taskRecord: taskRecord{Info: ti, Hostname: o.offer.Hostname, Sent: now,
			Status: api.TaskStatus{TaskID: ti.TaskID, FrameworkID: ti.FrameworkID, AgentID: ti.AgentID, AppID: ti.AppID,
				State: api.TaskStaging, Time: now, Revocable: ti.Revocable}}}
		t.Info.OfferID = ""
		tasks = append(tasks, t)
	}

	ops := make([]clientv3.Op, 0, len(tasks))
	for _, t := range tasks {
		ops = append(ops, putJSON(m.key("tasks", t.Info.TaskID), t.taskRecord))
	}
	if err := m.save(ctx, c, ops...); err != nil {
		return nil, err
	}
	for id, o := range byOffer {
		delete(c.offers, id)
		if err := c.alloc.Accept(o.allocID, used[id], offer.WithRefuse(refuse)); err != nil {
			// Checked above under the same lock; the allocator agrees.
			return nil, fmt.Errorf("accept offer %s: %w", id, err)
		}
	}
	for _, t := range tasks {
		c.tasks[t.Info.TaskID] = t
		info := t.Info
		c.agents[info.AgentID].send(api.AgentCommand{Type: api.CommandLaunch, Task: &info})
		if info.Replaces != "" {
			c.event(api.ClusterEvent{Kind: api.KindRescheduled, AgentID: info.AgentID, FrameworkID: info.FrameworkID,
				AppID: info.AppID, TaskID: info.TaskID,
				Message: fmt.Sprintf("%s replaces %s on %s", info.TaskID, info.Replaces, t.Hostname)})
		}
	}
	m.metrics.accepted.Add(float64(len(offers)))
	m.metrics.launched.Add(float64(len(tasks)))
	return nil, nil
}

// decline returns offers with a filter.
func (m *Master) decline(ctx context.Context, c *cluster, req *api.Decline) (any, error) {
	offers, refuse, err := m.answering(c, req.FrameworkID, req.OfferIDs, req.RefuseSeconds)
	if err != nil {
		return nil, err
	}
	for i, o := range offers {
		delete(c.offers, req.OfferIDs[i])
		if err := c.alloc.Decline(o.allocID, offer.WithRefuse(refuse)); err != nil {
			return nil, fmt.Errorf("decline offer %s: %w", req.OfferIDs[i], err)
		}
	}
	m.metrics.declined.Add(float64(len(offers)))
	return nil, nil
}

func (m *Master) revive(ctx context.Context, c *cluster, req *api.Revive) (any, error) {
	if _, err := c.framework(req.FrameworkID); err != nil {
		return nil, err
	}
	if err := c.alloc.Revive(req.FrameworkID); err != nil {
		return nil, err
	}
	c.allocateSoon()
	return nil, nil
}

func (m *Master) suppress(ctx context.Context, c *cluster, req *api.Suppress) (any, error) {
	if _, err := c.framework(req.FrameworkID); err != nil {
		return nil, err
	}
	return nil, c.alloc.Suppress(req.FrameworkID)
}

// kill asks the task's agent to kill it; the KILLED status comes from the
// agent (a task whose agent is gone is LOST already).
func (m *Master) kill(ctx context.Context, c *cluster, req *api.Kill) (any, error) {
	if _, err := c.framework(req.FrameworkID); err != nil {
		return nil, err
	}
	if err := validID("task_id", req.TaskID); err != nil {
		return nil, err
	}
	t, ok := c.tasks[req.TaskID]
	if !ok || t.Info.FrameworkID != req.FrameworkID {
		return nil, notFound("task_id %q: no live task of framework %s", req.TaskID, req.FrameworkID)
	}
	if len(req.Reason) > 1024 {
		return nil, badRequest("reason: longer than 1024 bytes")
	}
	if !(req.GraceSeconds >= 0 && req.GraceSeconds <= 86400) {
		return nil, badRequest("grace_seconds %v: want 0 to 86400", req.GraceSeconds)
	}
	t.KillReason = req.Reason
	if a, ok := c.agents[t.Info.AgentID]; ok && a.up {
		a.send(api.AgentCommand{Type: api.CommandKill, TaskID: t.Info.TaskID, Reason: req.Reason, GraceSeconds: req.GraceSeconds})
	}
	return nil, nil
}

// checkPriority refuses a task priority below 0 or above what the
// framework's role may use (Config.MaxPriority).
func (m *Master) checkPriority(field string, p int, role string) error {
	if top := m.maxPriority(role); p < 0 || p > top {
		return badRequest("%s %d: role %q may use priorities 0 to %d", field, p, role, top)
	}
	return nil
}

// maxPriority is the highest task priority the frameworks of role may use.
func (m *Master) maxPriority(role string) int { return m.cfg.MaxPriority[role] }

// maxRejections bounds the reasons one pending app may report: one per
// resource, role and constraint of an app is far fewer.
const maxRejections = 100

func (m *Master) reportPending(ctx context.Context, c *cluster, req *api.ReportPending) (any, error) {
	f, err := c.framework(req.FrameworkID)
	if err != nil {
		return nil, err
	}
	if len(req.Pending) > 10000 {
		return nil, badRequest("pending: %d entries, at most 10000", len(req.Pending))
	}
	out := make([]api.PendingApp, 0, len(req.Pending))
	for i, p := range req.Pending {
		if err := validID(fmt.Sprintf("pending[%d].app_id", i), p.AppID); err != nil {
			return nil, err
		}
		if p.Waiting < 0 {
			return nil, badRequest("pending[%d].waiting %d: negative", i, p.Waiting)
		}
		if len(p.Rejections) > maxRejections {
			return nil, badRequest("pending[%d].rejections: %d entries, at most %d", i, len(p.Rejections), maxRejections)
		}
		for j, r := range p.Rejections {
			if !r.Kind.Valid() {
				return nil, badRequest("pending[%d].rejections[%d].kind %q: want resource, role, constraint or filter", i, j, r.Kind)
			}
			if r.Offers < 0 {
				return nil, badRequest("pending[%d].rejections[%d].offers %d: negative", i, j, r.Offers)
			}
		}
		p.FrameworkID = req.FrameworkID
		out = append(out, p)
	}
	if len(req.Deployments) > maxDeployments {
		return nil, badRequest("deployments: %d entries, at most %d", len(req.Deployments), maxDeployments)
	}
	deployments := make([]api.Deployment, 0, len(req.Deployments))
	for i, d := range req.Deployments {
		if d.ID == "" || len(d.ID) > 64 || len(d.Actions) > 1000 {
			return nil, badRequest("deployments[%d]: id %q must be 1 to 64 bytes, with at most 1000 actions", i, d.ID)
		}
		for j, a := range d.Actions {
			if err := validID(fmt.Sprintf("deployments[%d].actions[%d].app_id", i, j), a.AppID); err != nil {
				return nil, err
			}
		}
		d.FrameworkID = req.FrameworkID
		deployments = append(deployments, d)
	}
	f.pending = out
	f.deployments = deployments
	return nil, nil
}

// maxDeployments bounds the deployments one framework may report.
const maxDeployments = 1000

// teardown kills a framework's tasks and forgets it.
func (m *Master) teardown(ctx context.Context, c *cluster, req *api.Teardown) (any, error) {
	f, err := c.framework(req.FrameworkID)
	if err != nil {
		return nil, err
	}
	if err := m.save(ctx, c, clientv3.OpDelete(m.key("frameworks", f.rec.ID))); err != nil {
		return nil, err
	}
	for _, t := range c.tasks {
		if t.Info.FrameworkID == f.rec.ID {
			t.KillReason = "framework torn down"
			if a, ok := c.agents[t.Info.AgentID]; ok && a.up {
				a.send(api.AgentCommand{Type: api.CommandKill, TaskID: t.Info.TaskID, Reason: t.KillReason})
			}
		}
	}
	for wire, o := range c.offers {
		if o.offer.FrameworkID == f.rec.ID {
			delete(c.offers, wire)
		}
	}
	if err := c.alloc.RemoveFramework(f.rec.ID); err != nil && !errors.Is(err, offer.ErrNotFound) {
		return nil, err
	}
	delete(c.frameworks, f.rec.ID)
	if f.sub != nil {
		f.sub.push(api.Event{Type: api.EventError, Message: "framework torn down"})
		f.sub.close()
	}
	return nil, nil
}

// allocate runs one allocation cycle and sends the offers.
func (m *Master) allocate(ctx context.Context, c *cluster) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cur != c {
		return
	}
	start := time.Now()
	offers := c.alloc.Allocate()
	byFw := make(map[string][]api.Offer)
	held := make(map[string]offer.Resources) // by agent: live tasks and offers made this round
	if len(offers) > 0 {
		for _, t := range c.tasks {
			held[t.Info.AgentID] = held[t.Info.AgentID].Add(t.res)
		}
	}
	for _, o := range offers {
		wire := c.wireID(o.ID)
		var as map[string]string
		revocable := true
		if a := c.agents[o.AgentID]; a != nil {
			as = m.attributes(a)
			o.Hostname = a.rec.Hostname
			// Only what fits in the agent's guarantee beside what is held
			// there already is safe from the business.
			held[o.AgentID] = held[o.AgentID].Add(o.Resources)
			revocable = !a.guaranteed.Contains(held[o.AgentID])
		}
		o.Attributes = as
		c.offers[wire] = outstanding{allocID: o.ID, offer: o, revocable: revocable}
		byFw[o.FrameworkID] = append(byFw[o.FrameworkID], api.Offer{ID: wire, FrameworkID: o.FrameworkID,
			AgentID: o.AgentID, Hostname: o.Hostname, Attributes: copyMap(as), Resources: o.Resources.String(),
			Revocable: revocable, Unavailability: c.nextWindow(o.AgentID)})
	}
	for fw, list := range byFw {
		c.notify(fw, api.Event{Type: api.EventOffers, Offers: list})
	}
	m.metrics.offered.Add(float64(len(offers)))
	m.metrics.allocation.Observe(time.Since(start).Seconds())
}
