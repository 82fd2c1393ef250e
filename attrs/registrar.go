package attrs

import (
	"context"
	"errors"
	"math"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Registrar keeps an agent registered as up: it puts the agent's liveness
// key under a lease with a TTL and keeps the lease alive, always draining
// the keep-alive channel. If the lease is lost (etcd was away longer than
// the TTL) it registers again on its own. A ClusterView reports the agent
// gone when the lease expires.
type Registrar struct {
	cli   *clientv3.Client
	agent string
	keys  keyspace
	o     options
	life  lifecycle

	mu    sync.Mutex
	lease clientv3.LeaseID
}

// NewRegistrar returns a Registrar for agent over cli; call Run to register.
// The caller keeps owning cli.
func NewRegistrar(cli *clientv3.Client, agent string, opts ...RegistrarOption) (*Registrar, error) {
	if err := checkAgent(agent); err != nil {
		return nil, err
	}
	o, err := collect(opts, RegistrarOption.applyRegistrar)
	if err != nil {
		return nil, err
	}
	return &Registrar{cli: cli, agent: agent, keys: keyspace{o.prefix}, o: o}, nil
}

// Run registers and keeps the registration alive until ctx ends or Close is
// called. When ctx ends the lease is left to expire, as after a crash; Close
// revokes it so that the agent is gone at once.
func (r *Registrar) Run(ctx context.Context) error {
	rctx, err := r.life.begin(ctx)
	if err != nil {
		return err
	}
	log := r.o.logger.With("agent", r.agent)
	for rctx.Err() == nil {
		err := r.session(rctx)
		if rctx.Err() != nil {
			break
		}
		log.Warn("attrs: registration lost; registering again", "err", err)
		select {
		case <-rctx.Done():
		case <-time.After(r.o.ttl / 4):
		}
	}
	return r.life.end(ctx)
}

// session grants a lease, puts the liveness key under it and drains its
// keep-alive responses until the lease is lost or ctx ends.
func (r *Registrar) session(ctx context.Context) error {
	gctx, cancel := context.WithTimeout(ctx, r.o.ttl)
	defer cancel()
	ttl := int64(math.Ceil(r.o.ttl.Seconds()))
	lease, err := r.cli.Grant(gctx, ttl)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.lease = lease.ID
	r.mu.Unlock()
	if _, err := r.cli.Put(gctx, r.keys.alive(r.agent), time.Now().UTC().Format(time.RFC3339), clientv3.WithLease(lease.ID)); err != nil {
		return err
	}
	ka, err := r.cli.KeepAlive(ctx, lease.ID)
	if err != nil {
		return err
	}
	for range ka {
		// Drained so the client never blocks; responses carry nothing we
		// need.
	}
	return errors.New("keep-alive ended: lease expired or etcd unreachable")
}

// Close stops Run and revokes the lease, so the agent is reported gone now
// rather than after the TTL.
func (r *Registrar) Close() error {
	if !r.life.close() {
		return nil
	}
	r.mu.Lock()
	id := r.lease
	r.mu.Unlock()
	if id == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.o.probe)
	defer cancel()
	_, err := r.cli.Revoke(ctx, id)
	if errors.Is(err, rpctypes.ErrLeaseNotFound) {
		return nil // expired or revoked meanwhile: the agent is gone already
	}
	return err
}
