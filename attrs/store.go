package attrs

import (
	"context"
	"fmt"
)

// Entry is one stored attribute with the etcd revision that last wrote it.
type Entry struct {
	Agent    string
	Name     string
	Value    Value
	Revision int64 // mod revision; pass it to CompareAndSet
}

// Store reads and writes agents' attributes, one key per attribute. The
// etcd implementation (NewEtcdStore) is the real one; the in-memory one
// (NewMemStore) has the same semantics, revisions included, for tests of
// code that uses a Store.
//
// Every error about one attribute is an *AttributeError naming it.
type Store interface {
	// Get returns one attribute, or ErrNotFound.
	Get(ctx context.Context, agent, name string) (Entry, error)
	// Set writes one attribute and returns the new revision.
	Set(ctx context.Context, agent, name string, v Value) (int64, error)
	// CompareAndSet writes one attribute only if its current revision is
	// rev (0: only if it does not exist), else fails with ErrConflict.
	CompareAndSet(ctx context.Context, agent, name string, v Value, rev int64) (int64, error)
	// Delete removes one attribute, or fails with ErrNotFound.
	Delete(ctx context.Context, agent, name string) (int64, error)

	// Agent returns one agent's attributes sorted by name, and the store
	// revision they were read at. An unknown agent has none.
	Agent(ctx context.Context, agent string) ([]Entry, int64, error)
	// SetAgent writes all of as for one agent in one transaction (at most
	// MaxTxnOps attributes); attributes not in as are left alone.
	SetAgent(ctx context.Context, agent string, as Attributes) (int64, error)
	// DeleteAgent removes all of one agent's attributes, or fails with
	// ErrNotFound if it has none.
	DeleteAgent(ctx context.Context, agent string) (int64, error)
	// List returns every agent's attributes sorted by agent, then name, and
	// the store revision they were read at.
	List(ctx context.Context) ([]Entry, int64, error)
}

// MaxTxnOps is etcd's default --max-txn-ops, the most attributes SetAgent
// writes at once.
const MaxTxnOps = 128

// requestOverhead is room left in a request for everything but key and
// value: the protobuf framing of a Put or a Txn op.
const requestOverhead = 512

// checkSize refuses a write of one attribute that etcd, configured with
// --max-request-bytes maxBytes, would refuse.
func checkSize(keys keyspace, maxBytes int, agent, name string, v Value) error {
	key, val := keys.attribute(agent, name), v.String()
	if len(key)+len(val)+requestOverhead > maxBytes {
		return &AttributeError{Agent: agent, Name: name, Value: shorten(val),
			Err: fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(key)+len(val), maxBytes-requestOverhead)}
	}
	return nil
}

// checkTxnSize is checkSize for the one transaction of SetAgent.
func checkTxnSize(keys keyspace, maxBytes int, agent string, as Attributes) error {
	size := 0
	for _, a := range as {
		if err := checkSize(keys, maxBytes, agent, a.Name, a.Value); err != nil {
			return err
		}
		size += len(keys.attribute(agent, a.Name)) + len(a.Value.String()) + 16
	}
	if size+requestOverhead > maxBytes {
		return &AttributeError{Agent: agent, Err: fmt.Errorf("%w: %d bytes of attributes in one transaction, limit %d", ErrTooLarge, size, maxBytes-requestOverhead)}
	}
	return nil
}

// checkWrite validates the agent, name and value of a write.
func checkWrite(agent, name string, v Value) error {
	if err := checkAgent(agent); err != nil {
		return err
	}
	if err := ValidateName(name); err != nil {
		return withAgent(err, agent)
	}
	return withAgent(v.validate(name), agent)
}

// checkKey validates the agent and name of a read or a delete, so that a
// name no write accepts is refused rather than reported not found.
func checkKey(agent, name string) error {
	if err := checkAgent(agent); err != nil {
		return err
	}
	return withAgent(ValidateName(name), agent)
}

func checkAgentAttributes(agent string, as Attributes) error {
	if err := checkAgent(agent); err != nil {
		return err
	}
	if len(as) > MaxTxnOps {
		return &AttributeError{Agent: agent, Err: fmt.Errorf("%w: %d attributes in one transaction, at most %d", ErrInvalid, len(as), MaxTxnOps)}
	}
	return withAgent(as.Validate(), agent)
}

func checkAgent(agent string) error {
	if err := ValidateName(agent); err != nil {
		return &AttributeError{Agent: agent, Err: fmt.Errorf("agent ID: %w", err.(*AttributeError).Err)}
	}
	return nil
}

// withAgent fills in the agent of an *AttributeError.
func withAgent(err error, agent string) error {
	if ae, ok := err.(*AttributeError); ok && ae.Agent == "" {
		ae.Agent = agent
	}
	return err
}

func notFound(agent, name string) error {
	return &AttributeError{Agent: agent, Name: name, Err: ErrNotFound}
}

func conflict(agent, name string, want, have int64) error {
	return &AttributeError{Agent: agent, Name: name, Err: fmt.Errorf("%w: revision is %d, expected %d", ErrConflict, have, want)}
}
