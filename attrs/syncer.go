package attrs

import (
	"context"
	"maps"
	"sync"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Syncer keeps one agent's attributes in step with etcd, on the agent. It
// reads everything under the agent's key, watches from the next revision,
// reads everything again every resync period and after a compacted watch,
// and keeps the last known values while etcd is away (Status reports them
// stale, with their age) until etcd answers again.
//
// Attributes from the agent's configuration (WithLocal) merge with etcd's:
// etcd wins for a name it has, the local value shows otherwise.
type Syncer struct {
	follower
	agent string
	keys  keyspace
	local map[string]Value

	mu     sync.Mutex
	remote map[string]Value // from etcd
	merged map[string]Value // what the agent has: remote over local
}

// NewSyncer returns a Syncer for agent over cli; call Run to start it. The
// caller keeps owning cli.
func NewSyncer(cli *clientv3.Client, agent string, opts ...SyncerOption) (*Syncer, error) {
	if err := checkAgent(agent); err != nil {
		return nil, err
	}
	o, err := collect(opts, SyncerOption.applySyncer)
	if err != nil {
		return nil, err
	}
	if err := o.local.Validate(); err != nil {
		return nil, withAgent(err, agent)
	}
	s := &Syncer{
		agent:  agent,
		keys:   keyspace{o.prefix},
		local:  make(map[string]Value, len(o.local)),
		remote: make(map[string]Value),
	}
	for _, a := range o.local {
		s.local[a.Name] = a.Value
	}
	s.merged = maps.Clone(s.local)
	s.subs = newBroadcaster()
	s.mirror = newMirror(cli, s.keys.attributes(agent), o, s.apply)
	return s, nil
}

// Run syncs until ctx ends or Close is called. It returns ctx's error, or
// nil after Close, or ErrClosed if called twice.
func (s *Syncer) Run(ctx context.Context) error { return s.run(ctx) }

// Close stops Run, waits for it, and closes every subscription channel.
func (s *Syncer) Close() error { return s.close() }

// Ready is closed once the first read from etcd has been applied.
func (s *Syncer) Ready() <-chan struct{} { return s.mirror.ready }

// Attributes returns the agent's current attributes, sorted by name.
func (s *Syncer) Attributes() Attributes {
	s.mu.Lock()
	defer s.mu.Unlock()
	return sortedAttributes(s.merged)
}

// Status reports whether the attributes are fresh.
func (s *Syncer) Status() Status { return s.mirror.status() }

// Subscribe returns a subscription to every change to the agent's
// attributes from now on, in order. Changes queue without bound until read
// (none is dropped), so drain C or Close the subscription. Values from etcd
// that differ from the local ones are delivered as changes by the first
// sync.
func (s *Syncer) Subscribe() *Subscription { return s.subs.subscribe() }

func (s *Syncer) apply(evs []kvEvent, _ bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var changes []Change
	for _, ev := range evs {
		_, name, alive, ok := s.keys.parse(ev.key)
		if !ok || alive {
			continue
		}
		remote, ok := decode(s.mirror, ev, name)
		if ok {
			s.remote[name] = remote
		} else {
			delete(s.remote, name)
		}
		old := s.merged[name]
		now, ok := s.remote[name]
		if !ok {
			now = s.local[name]
		}
		if old.Equal(now) {
			continue
		}
		if now.IsZero() {
			delete(s.merged, name)
		} else {
			s.merged[name] = now
		}
		changes = append(changes, Change{
			Kind: changeKind(old, now), Agent: s.agent, Name: name,
			Old: old, New: now, Revision: ev.rev,
			Attributes: sortedAttributes(s.merged).Map(),
		})
	}
	s.subs.publish(changes...)
}

// decode returns the value an event sets; false for a deletion or for a
// value that does not parse, which is logged and treated as absent.
func decode(m *mirror, ev kvEvent, name string) (Value, bool) {
	if ev.deleted {
		return Value{}, false
	}
	v, err := parseValue(name, string(ev.value))
	if err != nil {
		m.log.Warn("attrs: ignoring unparsable attribute", "key", ev.key, "err", err)
		return Value{}, false
	}
	return v, true
}

func sortedAttributes(m map[string]Value) Attributes {
	as := make(Attributes, 0, len(m))
	for name, v := range m {
		as = append(as, Attribute{Name: name, Value: v})
	}
	as.sort()
	return as
}
