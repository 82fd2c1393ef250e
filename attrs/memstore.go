package attrs

import (
	"context"
	"slices"
	"strings"
	"sync"
)

// MemStore is a Store in memory with etcd's revision semantics: one
// revision counter for the whole store, bumped by every write, and etcd's
// request size limit (WithMaxRequestBytes). It is meant for tests of code
// that takes a Store; it is safe for concurrent use.
type MemStore struct {
	mu       sync.Mutex
	rev      int64
	keys     keyspace
	maxBytes int
	kvs      map[string]Entry // by etcd key
}

var _ Store = (*MemStore)(nil)

// NewMemStore returns an empty in-memory store at revision 1, like a fresh
// etcd.
func NewMemStore(opts ...StoreOption) (*MemStore, error) {
	o, err := collect(opts, StoreOption.applyStore)
	if err != nil {
		return nil, err
	}
	return &MemStore{rev: 1, keys: keyspace{o.prefix}, maxBytes: o.maxRequestBytes, kvs: make(map[string]Entry)}, nil
}

// Get implements Store.
func (m *MemStore) Get(ctx context.Context, agent, name string) (Entry, error) {
	if err := checkKey(agent, name); err != nil {
		return Entry{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.kvs[m.keys.attribute(agent, name)]
	if !ok {
		return Entry{}, notFound(agent, name)
	}
	return e, ctx.Err()
}

// Set implements Store.
func (m *MemStore) Set(ctx context.Context, agent, name string, v Value) (int64, error) {
	return m.put(ctx, agent, name, v, -1)
}

// CompareAndSet implements Store.
func (m *MemStore) CompareAndSet(ctx context.Context, agent, name string, v Value, rev int64) (int64, error) {
	return m.put(ctx, agent, name, v, rev)
}

// put writes one attribute; rev < 0 means unconditionally.
func (m *MemStore) put(ctx context.Context, agent, name string, v Value, rev int64) (int64, error) {
	if err := checkWrite(agent, name, v); err != nil {
		return 0, err
	}
	if err := checkSize(m.keys, m.maxBytes, agent, name, v); err != nil {
		return 0, err
	}
	if err := m.lock(ctx, agent); err != nil {
		return 0, err
	}
	defer m.mu.Unlock()
	key := m.keys.attribute(agent, name)
	if rev >= 0 {
		if have := m.kvs[key].Revision; have != rev {
			return 0, conflict(agent, name, rev, have)
		}
	}
	m.rev++
	m.kvs[key] = Entry{Agent: agent, Name: name, Value: v, Revision: m.rev}
	return m.rev, nil
}

// Delete implements Store.
func (m *MemStore) Delete(ctx context.Context, agent, name string) (int64, error) {
	if err := checkKey(agent, name); err != nil {
		return 0, err
	}
	if err := m.lock(ctx, agent); err != nil {
		return 0, err
	}
	defer m.mu.Unlock()
	key := m.keys.attribute(agent, name)
	if _, ok := m.kvs[key]; !ok {
		return 0, notFound(agent, name)
	}
	m.rev++
	delete(m.kvs, key)
	return m.rev, nil
}

// Agent implements Store.
func (m *MemStore) Agent(ctx context.Context, agent string) ([]Entry, int64, error) {
	if err := checkAgent(agent); err != nil {
		return nil, 0, err
	}
	return m.list(ctx, m.keys.attributes(agent))
}

// List implements Store.
func (m *MemStore) List(ctx context.Context) ([]Entry, int64, error) {
	return m.list(ctx, m.keys.agents())
}

func (m *MemStore) list(ctx context.Context, prefix string) ([]Entry, int64, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	keys := make([]string, 0)
	for k := range m.kvs {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys) // etcd's order: by key
	es := make([]Entry, len(keys))
	for i, k := range keys {
		es[i] = m.kvs[k]
	}
	return es, m.rev, nil
}

// SetAgent implements Store.
func (m *MemStore) SetAgent(ctx context.Context, agent string, as Attributes) (int64, error) {
	if err := checkAgentAttributes(agent, as); err != nil {
		return 0, err
	}
	if err := checkTxnSize(m.keys, m.maxBytes, agent, as); err != nil {
		return 0, err
	}
	if err := m.lock(ctx, agent); err != nil {
		return 0, err
	}
	defer m.mu.Unlock()
	if len(as) == 0 {
		return m.rev, nil // etcd does not bump the revision for an empty transaction
	}
	m.rev++ // one transaction, one revision
	for _, a := range as {
		m.kvs[m.keys.attribute(agent, a.Name)] = Entry{Agent: agent, Name: a.Name, Value: a.Value, Revision: m.rev}
	}
	return m.rev, nil
}

// DeleteAgent implements Store.
func (m *MemStore) DeleteAgent(ctx context.Context, agent string) (int64, error) {
	if err := m.lock(ctx, agent); err != nil {
		return 0, err
	}
	defer m.mu.Unlock()
	prefix, n := m.keys.attributes(agent), 0
	for k := range m.kvs {
		if strings.HasPrefix(k, prefix) {
			delete(m.kvs, k)
			n++
		}
	}
	if n == 0 {
		return 0, notFound(agent, "")
	}
	m.rev++
	return m.rev, nil
}

// lock checks the agent ID and ctx and then locks the store; on success the
// caller unlocks.
func (m *MemStore) lock(ctx context.Context, agent string) error {
	if err := checkAgent(agent); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	return nil
}
