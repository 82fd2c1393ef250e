package auth

import (
	"context"
	"fmt"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/gleaner/gleaner/internal/etcdauth"
)

// EtcdUser is a principal's etcd user: the common name of its certificate.
func EtcdUser(p Principal) string { return p.String() }

// EtcdPrefixes returns the key prefixes, under the cluster's prefix, that p
// may read and that it may read and write, like Kubernetes' node
// authorizer: an agent only its own attributes and liveness
// (<prefix>/agents/<id>/); a master its state and election
// (<prefix>/master/) and every agent's keys to read; an operator (attrctl)
// the whole prefix; a framework nothing (it talks to the master only).
func EtcdPrefixes(prefix string, p Principal) (read, readWrite []string) {
	prefix = strings.TrimRight(prefix, "/")
	switch p.Kind {
	case KindAgent:
		return nil, []string{prefix + "/agents/" + p.Name + "/"}
	case KindMaster:
		return []string{prefix + "/agents/"}, []string{prefix + "/master/"}
	case KindOperator:
		return nil, []string{prefix + "/"}
	}
	return nil, nil
}

// ProvisionEtcd creates, for each principal, its etcd user with a role of
// the same name holding EtcdPrefixes. cli must be etcd's root user. It is
// idempotent: run it again to add agents.
func ProvisionEtcd(ctx context.Context, cli *clientv3.Client, prefix string, principals ...Principal) error {
	for _, p := range principals {
		if err := p.Validate(); err != nil {
			return err
		}
		read, rw := EtcdPrefixes(prefix, p)
		if read == nil && rw == nil {
			continue
		}
		if err := etcdauth.Grant(ctx, cli, EtcdUser(p), read, rw); err != nil {
			return fmt.Errorf("auth: provision etcd for %s: %w", p, err)
		}
	}
	return nil
}
