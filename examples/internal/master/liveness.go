package master

import (
	"context"
	"fmt"

	"github.com/gleaner/gleaner/attrs"
	"github.com/gleaner/gleaner/examples/internal/api"
)

// followChanges applies the cluster view's changes while leading: a gone
// agent's tasks are lost; changed attributes are announced to frameworks,
// which decide what no longer fits.
func (m *Master) followChanges(ctx context.Context, changes <-chan attrs.Change) {
	for ch := range changes {
		m.mu.Lock()
		c := m.cur
		if c == nil {
			m.mu.Unlock()
			continue
		}
		a, known := c.agents[ch.Agent]
		switch ch.Kind {
		case attrs.AgentGone:
			if known {
				m.agentGone(ctx, c, a, "liveness lease in etcd ended")
			}
		case attrs.Added, attrs.Updated, attrs.Removed:
			msg := fmt.Sprintf("%s %s", ch.Name, ch.Kind)
			switch ch.Kind {
			case attrs.Added:
				msg = fmt.Sprintf("%s added: %s", ch.Name, ch.New.MesosString())
			case attrs.Updated:
				msg = fmt.Sprintf("%s changed: %s → %s", ch.Name, ch.Old.MesosString(), ch.New.MesosString())
			case attrs.Removed:
				msg = fmt.Sprintf("%s removed (was %s)", ch.Name, ch.Old.MesosString())
			}
			c.event(api.ClusterEvent{Kind: api.KindAttributesChanged, AgentID: ch.Agent, Message: msg})
			if known {
				a.inEtcd = true
				c.broadcast(api.Event{Type: api.EventAgentChanged, Agent: &api.AgentChange{
					AgentID: ch.Agent, Hostname: a.rec.Hostname, Attributes: copyMap(ch.Attributes), Gone: !a.up}})
			}
		}
		m.mu.Unlock()
	}
}

func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
