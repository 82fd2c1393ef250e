package attrs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// EtcdStore is the Store kept in etcd.
type EtcdStore struct {
	cli      *clientv3.Client
	keys     keyspace
	maxBytes int
}

var _ Store = (*EtcdStore)(nil)

// NewEtcdStore returns a Store over cli. The caller keeps owning cli.
func NewEtcdStore(cli *clientv3.Client, opts ...StoreOption) (*EtcdStore, error) {
	o, err := collect(opts, StoreOption.applyStore)
	if err != nil {
		return nil, err
	}
	return &EtcdStore{cli: cli, keys: keyspace{o.prefix}, maxBytes: o.maxRequestBytes}, nil
}

// etcdError wraps an error from etcd with the attribute it was about,
// turning etcd's "request is too large" into ErrTooLarge.
func etcdError(err error, agent, name string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, rpctypes.ErrRequestTooLarge) || status.Code(err) == codes.ResourceExhausted {
		err = fmt.Errorf("%w: %w", ErrTooLarge, err)
	}
	return &AttributeError{Agent: agent, Name: name, Err: err}
}

// Get implements Store.
func (s *EtcdStore) Get(ctx context.Context, agent, name string) (Entry, error) {
	if err := checkKey(agent, name); err != nil {
		return Entry{}, err
	}
	resp, err := s.cli.Get(ctx, s.keys.attribute(agent, name))
	if err != nil {
		return Entry{}, etcdError(err, agent, name)
	}
	if len(resp.Kvs) == 0 {
		return Entry{}, notFound(agent, name)
	}
	return s.entry(resp.Kvs[0])
}

// entry decodes a key-value pair; a value that does not parse (written by
// hand with etcdctl) is an error naming the attribute.
func (s *EtcdStore) entry(kv *mvccpb.KeyValue) (Entry, error) {
	agent, name, _, _ := s.keys.parse(string(kv.Key))
	v, err := parseValue(name, string(kv.Value))
	if err != nil {
		return Entry{}, withAgent(err, agent)
	}
	return Entry{Agent: agent, Name: name, Value: v, Revision: kv.ModRevision}, nil
}

// Set implements Store.
func (s *EtcdStore) Set(ctx context.Context, agent, name string, v Value) (int64, error) {
	if err := s.checkPut(agent, name, v); err != nil {
		return 0, err
	}
	resp, err := s.cli.Put(ctx, s.keys.attribute(agent, name), v.String())
	if err != nil {
		return 0, etcdError(err, agent, name)
	}
	return resp.Header.Revision, nil
}

func (s *EtcdStore) checkPut(agent, name string, v Value) error {
	if err := checkWrite(agent, name, v); err != nil {
		return err
	}
	return checkSize(s.keys, s.maxBytes, agent, name, v)
}

// CompareAndSet implements Store.
func (s *EtcdStore) CompareAndSet(ctx context.Context, agent, name string, v Value, rev int64) (int64, error) {
	if err := s.checkPut(agent, name, v); err != nil {
		return 0, err
	}
	key := s.keys.attribute(agent, name)
	cmp := clientv3.Compare(clientv3.ModRevision(key), "=", rev)
	if rev == 0 {
		cmp = clientv3.Compare(clientv3.CreateRevision(key), "=", 0)
	}
	resp, err := s.cli.Txn(ctx).If(cmp).
		Then(clientv3.OpPut(key, v.String())).
		Else(clientv3.OpGet(key)).Commit()
	if err != nil {
		return 0, etcdError(err, agent, name)
	}
	if !resp.Succeeded {
		var have int64
		if kvs := resp.Responses[0].GetResponseRange().Kvs; len(kvs) > 0 {
			have = kvs[0].ModRevision
		}
		return 0, conflict(agent, name, rev, have)
	}
	return resp.Header.Revision, nil
}

// Delete implements Store.
func (s *EtcdStore) Delete(ctx context.Context, agent, name string) (int64, error) {
	if err := checkKey(agent, name); err != nil {
		return 0, err
	}
	resp, err := s.cli.Delete(ctx, s.keys.attribute(agent, name))
	if err != nil {
		return 0, etcdError(err, agent, name)
	}
	if resp.Deleted == 0 {
		return 0, notFound(agent, name)
	}
	return resp.Header.Revision, nil
}

// Agent implements Store.
func (s *EtcdStore) Agent(ctx context.Context, agent string) ([]Entry, int64, error) {
	if err := checkAgent(agent); err != nil {
		return nil, 0, err
	}
	return s.list(ctx, s.keys.attributes(agent))
}

// List implements Store.
func (s *EtcdStore) List(ctx context.Context) ([]Entry, int64, error) {
	return s.list(ctx, s.keys.agents())
}

func (s *EtcdStore) list(ctx context.Context, prefix string) ([]Entry, int64, error) {
	var es []Entry
	rev, err := getPrefix(ctx, s.cli, prefix, 0, func(kv *mvccpb.KeyValue) error {
		if _, _, alive, ok := s.keys.parse(string(kv.Key)); !ok || alive {
			return nil
		}
		e, err := s.entry(kv)
		if err != nil {
			return err
		}
		es = append(es, e)
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return es, rev, nil
}

// SetAgent implements Store.
func (s *EtcdStore) SetAgent(ctx context.Context, agent string, as Attributes) (int64, error) {
	if err := checkAgentAttributes(agent, as); err != nil {
		return 0, err
	}
	if err := checkTxnSize(s.keys, s.maxBytes, agent, as); err != nil {
		return 0, err
	}
	ops := make([]clientv3.Op, 0, len(as))
	for _, a := range as {
		ops = append(ops, clientv3.OpPut(s.keys.attribute(agent, a.Name), a.Value.String()))
	}
	resp, err := s.cli.Txn(ctx).Then(ops...).Commit()
	if err != nil {
		return 0, etcdError(err, agent, "")
	}
	return resp.Header.Revision, nil
}

// DeleteAgent implements Store.
func (s *EtcdStore) DeleteAgent(ctx context.Context, agent string) (int64, error) {
	if err := checkAgent(agent); err != nil {
		return 0, err
	}
	resp, err := s.cli.Delete(ctx, s.keys.attributes(agent), clientv3.WithPrefix())
	if err != nil {
		return 0, etcdError(err, agent, "")
	}
	if resp.Deleted == 0 {
		return 0, notFound(agent, "")
	}
	return resp.Header.Revision, nil
}

// pageSize bounds one Range response while reading a large prefix.
const pageSize = 5000

// getPrefix reads every key under prefix at one revision, in pages, calling
// fn in key order, and returns that revision.
// A positive pageTimeout bounds each page's request, so that a read while
// etcd is away fails instead of retrying until ctx ends.
func getPrefix(ctx context.Context, cli *clientv3.Client, prefix string, pageTimeout time.Duration, fn func(*mvccpb.KeyValue) error) (int64, error) {
	end := clientv3.GetPrefixRangeEnd(prefix)
	key, rev := prefix, int64(0)
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(pageSize)}
		if rev != 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		pctx, cancel := ctx, context.CancelFunc(func() {})
		if pageTimeout > 0 {
			pctx, cancel = context.WithTimeout(ctx, pageTimeout)
		}
		resp, err := cli.Get(pctx, key, opts...)
		cancel()
		if err != nil {
			return 0, fmt.Errorf("attrs: reading %s: %w", prefix, err)
		}
		if rev == 0 {
			rev = resp.Header.Revision
		}
		for _, kv := range resp.Kvs {
			if err := fn(kv); err != nil {
				return 0, err
			}
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return rev, nil
		}
		key = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}
