package attrs

import (
	"cmp"
	"context"
	"maps"
	"slices"
	"sync"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Agent is one agent as the cluster view sees it.
type Agent struct {
	ID string
	// Up is true while the agent's lease key exists (see Registrar).
	Up bool
	// Attributes formatted for constraints (Attributes.Map). Shared: do
	// not modify.
	Attributes map[string]string
}

// ClusterView keeps every agent's attributes and liveness current, on the
// master, with one watch over the whole prefix (and the same resync, probe
// and staleness rules as Syncer). Use Select to find the agents that
// satisfy a constraint, and Subscribe to learn which agent lost or changed
// an attribute, so that tasks whose constraints no longer hold there can be
// moved:
//
//	for c := range changes {
//		for _, task := range tasksOn[c.Agent] {
//			if c.Kind == attrs.AgentGone || !task.Constraints.Hold(c.Attributes) { ... }
//		}
//	}
//
// Options read: WithPrefix, WithResyncPeriod, WithProbeInterval, WithLogger.
type ClusterView struct {
	follower
	keys keyspace

	mu     sync.RWMutex
	agents map[string]*agentState
}

type agentState struct {
	up    bool
	typed map[string]Value
	// strs is replaced, never modified, once a Change or Agent holds it.
	strs map[string]string
}

// NewClusterView returns a view over cli; call Run to start it. The caller
// keeps owning cli.
func NewClusterView(cli *clientv3.Client, opts ...ClusterViewOption) (*ClusterView, error) {
	o, err := collect(opts, ClusterViewOption.applyClusterView)
	if err != nil {
		return nil, err
	}
	v := &ClusterView{keys: keyspace{o.prefix}, agents: make(map[string]*agentState)}
	v.subs = newBroadcaster()
	v.mirror = newMirror(cli, v.keys.agents(), o, v.apply)
	return v, nil
}

// Run follows etcd until ctx ends or Close is called. It returns ctx's
// error, or nil after Close, or ErrClosed if called twice.
func (v *ClusterView) Run(ctx context.Context) error { return v.run(ctx) }

// Close stops Run, waits for it, and closes every subscription channel.
func (v *ClusterView) Close() error { return v.close() }

// Ready is closed once the first full read has been loaded.
func (v *ClusterView) Ready() <-chan struct{} { return v.mirror.ready }

// Status reports whether the view is fresh.
func (v *ClusterView) Status() Status { return v.mirror.status() }

// Subscribe returns a subscription to every change after the first full
// read, in etcd's order. Changes queue without bound until read (none is
// dropped), so drain C or Close the subscription.
func (v *ClusterView) Subscribe() *Subscription { return v.subs.subscribe() }

// Agent returns one agent.
func (v *ClusterView) Agent(id string) (Agent, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	st, ok := v.agents[id]
	if !ok {
		return Agent{}, false
	}
	return Agent{ID: id, Up: st.up, Attributes: st.strs}, true
}

// Attributes returns one agent's typed attributes sorted by name.
func (v *ClusterView) Attributes(id string) Attributes {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if st, ok := v.agents[id]; ok {
		return sortedAttributes(st.typed)
	}
	return nil
}

// Agents returns every known agent sorted by ID: those with attributes and
// those that are up.
func (v *ClusterView) Agents() []Agent { return v.selectAgents(nil) }

// Select returns the agents for which pred is true, sorted by ID. pred runs
// under the view's read lock and must not call back into the view.
func (v *ClusterView) Select(pred func(Agent) bool) []Agent { return v.selectAgents(pred) }

func (v *ClusterView) selectAgents(pred func(Agent) bool) []Agent {
	v.mu.RLock()
	var out []Agent
	for id, st := range v.agents {
		a := Agent{ID: id, Up: st.up, Attributes: st.strs}
		if pred == nil || pred(a) {
			out = append(out, a)
		}
	}
	v.mu.RUnlock()
	slices.SortFunc(out, func(a, b Agent) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

func (v *ClusterView) apply(evs []kvEvent, initial bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	// On the initial load nobody holds the maps yet and no changes are
	// delivered, so they are filled in place rather than copied per key.
	fresh := make(map[*agentState]bool)
	var changes []Change
	emit := func(c Change) {
		if !initial {
			changes = append(changes, c)
		}
	}
	for _, ev := range evs {
		agent, name, alive, ok := v.keys.parse(ev.key)
		if !ok {
			continue
		}
		st := v.agents[agent]
		if st == nil {
			st = &agentState{typed: make(map[string]Value), strs: map[string]string{}}
			v.agents[agent] = st
			fresh[st] = true
		}
		if alive {
			if st.up != !ev.deleted {
				st.up = !ev.deleted
				kind := AgentUp
				if ev.deleted {
					kind = AgentGone
				}
				emit(Change{Kind: kind, Agent: agent, Revision: ev.rev, Attributes: st.strs})
			}
		} else {
			old := st.typed[name]
			now, _ := decode(v.mirror, ev, name)
			if !old.Equal(now) {
				if !initial || !fresh[st] {
					st.strs = maps.Clone(st.strs)
					fresh[st] = initial
				}
				if now.IsZero() {
					delete(st.typed, name)
					delete(st.strs, name)
				} else {
					st.typed[name] = now
					st.strs[name] = now.MesosString()
				}
				emit(Change{
					Kind: changeKind(old, now), Agent: agent, Name: name,
					Old: old, New: now, Revision: ev.rev, Attributes: st.strs,
				})
			}
		}
		if !st.up && len(st.typed) == 0 {
			delete(v.agents, agent)
		}
	}
	v.subs.publish(changes...)
}
