package attrs

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrInvalid reports bad input: a malformed attribute text, a name with
	// a '/', a value that etcd would refuse, a bad option value.
	ErrInvalid = errors.New("attrs: invalid input")
	// ErrNotFound reports that an attribute or agent has no key in the store.
	ErrNotFound = errors.New("attrs: not found")
	// ErrConflict reports that a compare-and-set lost: the attribute's
	// revision was not the expected one.
	ErrConflict = errors.New("attrs: revision conflict")
	// ErrTooLarge reports a value larger than etcd accepts in one request.
	// It wraps ErrInvalid, so errors.Is(err, ErrInvalid) holds as well.
	ErrTooLarge = fmt.Errorf("%w: value too large for etcd's request limit", ErrInvalid)
	// ErrClosed reports a call on a Syncer, ClusterView or Registrar after
	// Close, or a second Run.
	ErrClosed = errors.New("attrs: closed")
)

// AttributeError names the attribute (and, when known, the agent and the
// offending value) that an operation failed on. Err wraps one of the
// package's sentinels or the underlying etcd error.
type AttributeError struct {
	Agent string // empty when the operation is not about one agent
	Name  string // attribute name; empty when the agent ID itself is at fault
	Value string // offending value, shortened to 64 bytes; may be empty
	Err   error
}

func (e *AttributeError) Error() string {
	s := "attrs:"
	if e.Agent != "" {
		s += fmt.Sprintf(" agent %q", e.Agent)
	}
	if e.Name != "" {
		s += fmt.Sprintf(" attribute %q", e.Name)
	}
	if e.Value != "" {
		s += fmt.Sprintf(" value %q", e.Value)
	}
	// The cause is usually one of this package's sentinels: its own
	// "attrs: " would only repeat the prefix.
	return s + ": " + strings.TrimPrefix(e.Err.Error(), "attrs: ")
}

func (e *AttributeError) Unwrap() error { return e.Err }

// shorten keeps error messages readable when the value is megabytes long.
func shorten(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}

func invalid(name, value, format string, args ...any) error {
	return &AttributeError{Name: name, Value: shorten(value), Err: fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)}
}
