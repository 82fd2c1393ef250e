package master

import (
	"context"
	"time"

	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/gleaner/gleaner/examples/internal/api"
)

// campaignLoop takes part in the election until ctx ends: it campaigns with
// a fresh session, leads while the session lives, and campaigns again after
// losing it, as etcd's concurrency package intends.
func (m *Master) campaignLoop(ctx context.Context) {
	ttl := int(m.cfg.SessionTTL.Round(time.Second) / time.Second)
	for ctx.Err() == nil {
		sess, err := concurrency.NewSession(m.cfg.Etcd, concurrency.WithTTL(ttl), concurrency.WithContext(ctx))
		if err != nil {
			m.log.Warn("etcd session", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
			continue
		}
		m.term(ctx, sess)
		// Revoke the lease with a context of its own (the session's may be
		// over), so that a follower takes over at once.
		sess.Orphan()
		rctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, _ = m.cfg.Etcd.Revoke(rctx, sess.Lease())
		cancel()
	}
}

// term is one session: observe the leader, campaign, lead until the session
// or ctx ends.
func (m *Master) term(ctx context.Context, sess *concurrency.Session) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	el := concurrency.NewElection(sess, m.cfg.Prefix+"/master/election")
	observed := make(chan struct{})
	go func() {
		defer close(observed)
		for resp := range el.Observe(ctx) {
			if len(resp.Kvs) > 0 {
				m.setLeaderURL(string(resp.Kvs[0].Value))
			}
		}
	}()
	defer func() { cancel(); <-observed }()

	campaign := make(chan error, 1)
	go func() { campaign <- el.Campaign(ctx, m.url) }()
	select {
	case err := <-campaign:
		if err != nil {
			if ctx.Err() == nil {
				m.log.Warn("campaign", "err", err)
			}
			return
		}
	case <-sess.Done():
		cancel()
		<-campaign
		return
	}
	m.setLeaderURL(m.url)
	c, err := m.loadCluster(ctx, el)
	if err != nil {
		m.log.Error("load state from etcd; resigning", "err", err)
		m.resign(el)
		return
	}
	m.lead(c)
	m.log.Info("leading", "url", m.url, "term", c.term)

	tick := time.NewTicker(m.cfg.AllocationInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			m.stepDown(c, "stopping")
			m.resign(el)
			return
		case <-sess.Done():
			m.stepDown(c, "etcd session lost")
			return
		case <-c.lost:
			m.stepDown(c, "a guarded write failed: another master leads")
			m.resign(el)
			return
		case <-tick.C:
			m.allocate(ctx, c)
			m.checkAgents(ctx, c)
		case <-c.allocNow:
			m.allocate(ctx, c)
		}
	}
}

func (m *Master) resign(el *concurrency.Election) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = el.Resign(ctx)
}

func (m *Master) setLeaderURL(u string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.leader = u
}

func (m *Master) lead(c *cluster) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cur = c
	c.event(api.ClusterEvent{Kind: api.KindLeader, Message: "master " + m.cfg.ID + " leads at " + m.url})
	m.metrics.leader.Set(1)
	close(m.leaderCh)
	m.leaderCh = make(chan struct{})
}

// stepDown drops the in-memory state and ends every framework stream.
func (m *Master) stepDown(c *cluster, why string) {
	m.log.Info("no longer leading", "why", why)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cur != c {
		return
	}
	m.cur = nil
	if m.leader == m.url {
		m.leader = ""
	}
	for _, f := range c.frameworks {
		if f.sub != nil {
			f.sub.close()
		}
	}
	for _, a := range c.agents {
		a.wake()
	}
	m.metrics.leader.Set(0)
	close(m.leaderCh)
	m.leaderCh = make(chan struct{})
}
