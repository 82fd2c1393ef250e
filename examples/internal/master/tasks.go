package master

import (
	"context"
	"fmt"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/gleaner/gleaner/examples/internal/api"
	"github.com/gleaner/gleaner/offer"
)

// setStatus applies a new status to a live task: it persists it (or, when
// terminal, deletes the task's record and gives its resources back), tells
// the framework and records what the dashboard shows. The status's
// identifying fields are filled from the task.
func (m *Master) setStatus(ctx context.Context, c *cluster, t *task, st api.TaskStatus) error {
	st.TaskID, st.FrameworkID, st.AgentID, st.AppID = t.Info.TaskID, t.Info.FrameworkID, t.Info.AgentID, t.Info.AppID
	st.Revocable = t.Info.Revocable
	if st.Time.IsZero() {
		st.Time = time.Now()
	}
	if st.State == api.TaskKilled && st.Reason == "" {
		st.Reason = t.KillReason
	}
	if st.State == t.Status.State && st.Reason == t.Status.Reason && st.Message == t.Status.Message &&
		sameHealth(st.Healthy, t.Status.Healthy) {
		return nil
	}
	key := m.key("tasks", t.Info.TaskID)
	if st.State.Terminal() {
		if err := m.save(ctx, c, clientv3.OpDelete(key)); err != nil {
			return err
		}
		delete(c.tasks, t.Info.TaskID)
		m.release(c, t)
		c.ended = append(c.ended, t.view(st))
		if n := len(c.ended) - keepEnded; n > 0 {
			c.ended = append(c.ended[:0], c.ended[n:]...)
		}
		m.metrics.taskEnded.WithLabelValues(string(st.State)).Inc()
		if kind, ok := endKind(st); ok {
			msg := st.Reason
			if msg == "" {
				msg = st.Message
			}
			ev := api.ClusterEvent{Kind: kind, AgentID: st.AgentID, FrameworkID: st.FrameworkID,
				AppID: st.AppID, TaskID: st.TaskID, Message: msg}
			if kind == api.KindEvicted && st.Eviction != nil {
				ev.Winner = st.Eviction.Winner
			}
			c.event(ev)
		}
	} else {
		rec := t.taskRecord
		rec.Status = st
		if err := m.save(ctx, c, putJSON(key, rec)); err != nil {
			return err
		}
		t.Status = st
	}
	c.notify(t.Info.FrameworkID, api.Event{Type: api.EventUpdate, Status: &st})
	return nil
}

// view is the task with status st as the dashboard shows it.
func (t *task) view(st api.TaskStatus) api.TaskView {
	return api.TaskView{TaskStatus: st, Resources: t.Info.Resources, Hostname: t.Hostname, Priority: t.Info.Priority}
}

// sameHealth reports whether two health verdicts are the same.
func sameHealth(a, b *bool) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}

// endKind maps a terminal status to the dashboard event it makes, if any.
func endKind(st api.TaskStatus) (api.EventKind, bool) {
	switch {
	case strings.HasPrefix(st.Reason, api.ReasonEvicted):
		return api.KindEvicted, true
	case st.State == api.TaskLost:
		return api.KindLost, true
	case st.State == api.TaskFailed:
		return api.KindFailed, true
	case st.State == api.TaskKilled:
		return api.KindKilled, true
	}
	return "", false
}

// release gives an ended task's resources back to the allocator.
func (m *Master) release(c *cluster, t *task) {
	a, ok := c.agents[t.Info.AgentID]
	if !ok || !a.up {
		return // the agent is gone from the allocator already
	}
	defer c.allocateSoon()
	if t.attributed {
		if err := c.alloc.Recover(t.Info.FrameworkID, t.Info.AgentID, t.res); err == nil {
			return
		}
	}
	m.resyncAgent(c, a)
}

// resyncAgent puts an agent back into the allocator with what its live tasks
// hold, for tasks the allocator does not count as any framework's (those
// loaded from etcd after a failover). Its offers are rescinded and the tasks
// on it stop counting towards their frameworks' shares.
func (m *Master) resyncAgent(c *cluster, a *agent) {
	rescinded, err := c.alloc.RemoveAgent(a.rec.ID)
	if err != nil {
		return
	}
	c.rescinded(rescinded, "agent resynchronised")
	held := c.heldOn(a.rec.ID)
	for _, t := range c.tasks {
		if t.Info.AgentID == a.rec.ID {
			t.attributed = false
		}
	}
	total := c.offerable(a)
	if err := c.alloc.AddAgent(offer.Agent{ID: a.rec.ID, Hostname: a.rec.Hostname, Total: total, Free: total.Subtract(held)}); err != nil {
		m.log.Error("re-add agent to allocator", "agent", a.rec.ID, "err", err)
	}
}

// agentGone removes an agent whose liveness lease ended (or that fell
// silent): its offers are rescinded and its tasks are LOST.
func (m *Master) agentGone(ctx context.Context, c *cluster, a *agent, why string) {
	if !a.up {
		return
	}
	a.up = false
	rescinded, _ := c.alloc.RemoveAgent(a.rec.ID)
	c.rescinded(rescinded, "agent gone")
	for _, t := range c.tasks {
		if t.Info.AgentID != a.rec.ID {
			continue
		}
		if err := m.setStatus(ctx, c, t, api.TaskStatus{State: api.TaskLost, Reason: api.ReasonAgentGone,
			Message: why}); err != nil {
			m.log.Warn("mark task lost", "task", t.Info.TaskID, "err", err)
		}
	}
	c.event(api.ClusterEvent{Kind: api.KindAgentGone, AgentID: a.rec.ID, Message: why})
	c.broadcast(api.Event{Type: api.EventAgentChanged, Agent: &api.AgentChange{AgentID: a.rec.ID,
		Hostname: a.rec.Hostname, Attributes: copyMap(m.attributes(a)), Gone: true}})
	m.log.Info("agent gone", "agent", a.rec.ID, "why", why)
}

// checkAgents, every allocation interval, gives up on agents that are
// neither up in etcd nor reporting, and on launched tasks their agent has
// not reported within the grace period.
func (m *Master) checkAgents(ctx context.Context, c *cluster) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cur != c {
		return
	}
	now := time.Now()
	for _, a := range c.sortedAgents() {
		if !a.up {
			continue
		}
		last := a.lastReport
		if a.since.After(last) {
			last = a.since
		}
		if now.Sub(last) < m.cfg.AgentGrace {
			continue
		}
		if v, ok := m.view.Agent(a.rec.ID); ok && v.Up {
			continue
		}
		m.agentGone(ctx, c, a, fmt.Sprintf("no report for %s and no liveness lease in etcd", now.Sub(last).Round(time.Second)))
	}
	m.maintain(ctx, c, now)
}
