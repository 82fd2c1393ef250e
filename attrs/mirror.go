package attrs

import (
	"cmp"
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// kvEvent is one key's new state: a put with its value, or a deletion.
type kvEvent struct {
	key     string
	value   []byte
	rev     int64
	deleted bool
}

// mirror keeps a prefix of etcd mirrored, the way etcd's own clients do:
// read everything, watch from the next revision, and on a compacted
// revision, a closed watch or every resync period read everything again and
// watch anew. A probe every probe interval detects that etcd is away; the
// mirrored data is kept meanwhile and reported stale, and the first
// successful probe afterwards triggers a resync.
//
// apply receives every change, resyncs included (as the difference to what
// was known), always from the goroutine running run, in revision order.
type mirror struct {
	cli    *clientv3.Client
	prefix string
	o      options
	log    *slog.Logger
	apply  func(evs []kvEvent, initial bool)

	// Owned by the run goroutine.
	known map[string]int64 // key -> mod revision

	mu          sync.Mutex
	rev         int64
	lastContact time.Time
	stale       bool
	err         error
	ready       chan struct{}
	readyOnce   sync.Once
}

func newMirror(cli *clientv3.Client, prefix string, o options, apply func([]kvEvent, bool)) *mirror {
	return &mirror{
		cli: cli, prefix: prefix, o: o, apply: apply,
		log:   o.logger.With("prefix", prefix),
		known: make(map[string]int64),
		ready: make(chan struct{}),
	}
}

func (m *mirror) run(ctx context.Context) {
	probe := time.NewTicker(m.o.probe)
	defer probe.Stop()
	for ctx.Err() == nil {
		if err := m.resync(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			m.markStale(err)
			select {
			case <-ctx.Done():
				return
			case <-probe.C:
			}
			continue
		}
		m.watch(ctx, probe)
	}
}

// watch follows the prefix until a resync is due.
func (m *mirror) watch(ctx context.Context, probe *time.Ticker) {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	m.mu.Lock()
	from := m.rev + 1
	m.mu.Unlock()
	// clientv3's Watch blocks until the watch stream is up, which is never
	// while etcd is away; start it aside so that probes carry on meanwhile.
	started, done := make(chan clientv3.WatchChan, 1), make(chan struct{})
	go func() {
		defer close(done)
		started <- m.cli.Watch(wctx, m.prefix, clientv3.WithPrefix(), clientv3.WithRev(from))
	}()
	defer func() {
		cancel()
		<-done
	}()
	var wch clientv3.WatchChan // nil, so never ready, until started
	resync := time.NewTimer(m.o.resync)
	defer resync.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case wch = <-started:
		case resp, ok := <-wch:
			switch {
			case !ok:
				m.log.Warn("attrs: watch closed; resyncing")
				return
			case resp.CompactRevision != 0:
				m.log.Info("attrs: watch revision compacted; resyncing", "from", from, "compacted", resp.CompactRevision)
				return
			case resp.Err() != nil:
				m.log.Warn("attrs: watch failed; resyncing", "err", resp.Err())
				return
			}
			m.contact(resp.Header.Revision)
			m.events(resp.Events)
		case <-probe.C:
			m.log.Debug("attrs: probing etcd")
			wasStale := m.status().Stale
			if err := m.probe(ctx); err != nil {
				m.markStale(err)
				continue
			}
			m.contact(0)
			if wasStale {
				return // etcd is back: read everything again
			}
		case <-resync.C:
			m.log.Debug("attrs: periodic resync")
			return
		}
	}
}

// probe asks etcd for one key with a linearizable read, which needs a
// reachable member and a leader.
func (m *mirror) probe(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, m.o.probe)
	defer cancel()
	_, err := m.cli.Get(ctx, m.prefix, clientv3.WithCountOnly())
	return err
}

// resync reads the whole prefix and applies the difference to what was
// known.
func (m *mirror) resync(ctx context.Context) error {
	initial := m.status().Revision == 0
	// Keys seen in this read; not needed when nothing is known yet, which
	// spares a large map on the first load of a big cluster.
	var seen map[string]struct{}
	if len(m.known) > 0 {
		seen = make(map[string]struct{}, len(m.known))
	}
	var evs []kvEvent
	rev, err := getPrefix(ctx, m.cli, m.prefix, m.o.probe, func(kv *mvccpb.KeyValue) error {
		key := string(kv.Key)
		if seen != nil {
			seen[key] = struct{}{}
		}
		if m.known[key] != kv.ModRevision {
			evs = append(evs, kvEvent{key: key, value: kv.Value, rev: kv.ModRevision})
		}
		return nil
	})
	if err != nil {
		return err
	}
	var gone []kvEvent
	for key := range m.known {
		if _, ok := seen[key]; !ok {
			gone = append(gone, kvEvent{key: key, rev: rev, deleted: true})
		}
	}
	slices.SortFunc(gone, func(a, b kvEvent) int { return cmp.Compare(a.key, b.key) })
	evs = append(evs, gone...)
	m.record(evs)
	m.contact(rev)
	m.apply(evs, initial)
	m.readyOnce.Do(func() { close(m.ready) })
	return nil
}

// events applies watch events, skipping any a resync already covered.
func (m *mirror) events(wevs []*clientv3.Event) {
	evs := make([]kvEvent, 0, len(wevs))
	for _, we := range wevs {
		key := string(we.Kv.Key)
		known, ok := m.known[key]
		switch we.Type {
		case clientv3.EventTypePut:
			if ok && known >= we.Kv.ModRevision {
				continue
			}
			evs = append(evs, kvEvent{key: key, value: we.Kv.Value, rev: we.Kv.ModRevision})
		case clientv3.EventTypeDelete:
			if !ok {
				continue
			}
			evs = append(evs, kvEvent{key: key, rev: we.Kv.ModRevision, deleted: true})
		}
	}
	m.record(evs)
	if len(evs) > 0 {
		m.apply(evs, false)
	}
}

func (m *mirror) record(evs []kvEvent) {
	for _, ev := range evs {
		if ev.deleted {
			delete(m.known, ev.key)
		} else {
			m.known[ev.key] = ev.rev
		}
	}
}

// contact records that etcd answered, at revision rev if rev > 0.
func (m *mirror) contact(rev int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stale {
		m.log.Info("attrs: etcd reachable again", "stale_for", time.Since(m.lastContact).Round(time.Millisecond))
	}
	if rev > m.rev {
		m.rev = rev
	}
	m.lastContact, m.stale, m.err = time.Now(), false, nil
}

func (m *mirror) markStale(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.stale {
		m.log.Warn("attrs: etcd unreachable; keeping last known values", "err", err)
	}
	m.stale, m.err = true, err
}

func (m *mirror) status() Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := Status{Stale: m.stale, LastContact: m.lastContact, Revision: m.rev, Err: m.err}
	if !m.lastContact.IsZero() {
		s.Age = time.Since(m.lastContact)
	}
	if m.lastContact.IsZero() && m.err != nil {
		s.Stale = true
	}
	return s
}

// follower is what Syncer and ClusterView share: a mirror run under a
// Run/Close lifecycle, with subscribers to its changes.
type follower struct {
	mirror *mirror
	life   lifecycle
	subs   *broadcaster
}

func (f *follower) run(ctx context.Context) error {
	rctx, err := f.life.begin(ctx)
	if err != nil {
		return err
	}
	f.mirror.run(rctx)
	return f.life.end(ctx)
}

func (f *follower) close() error {
	f.life.close()
	f.subs.close()
	return nil
}
