package isolate

import (
	"errors"
	"fmt"

	"github.com/gleaner/gleaner/internal/pkgerr"
)

// Sentinel errors. Every error this package returns for one of these causes
// wraps the matching sentinel, so callers test with errors.Is.
var (
	// ErrNotSupported means the kernel or host lacks what was asked for: a
	// hard CPU limit without CFS bandwidth control, a controller that is not
	// mounted, a cgroup directory FD on cgroup v1.
	ErrNotSupported = errors.New("isolate: not supported on this host")
	// ErrInvalid means bad input; the error is a *FieldError naming the field.
	ErrInvalid = errors.New("isolate: invalid input")
	// ErrNotFound means the task cgroup does not exist (any more).
	ErrNotFound = errors.New("isolate: not found")
	// ErrExists means a task cgroup of that name already exists.
	ErrExists = errors.New("isolate: already exists")
	// ErrMalformed means a cgroup control file did not parse: junk where
	// the kernel writes a number, or a line it always writes missing.
	ErrMalformed = errors.New("isolate: malformed control file")
)

// FieldError reports bad input: which field, the value given, and why it was
// refused. It matches ErrInvalid with errors.Is.
type FieldError struct {
	Field  string
	Value  any
	Reason string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("isolate: invalid %s %v: %s", e.Field, e.Value, e.Reason)
}

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *FieldError) Unwrap() error { return ErrInvalid }

func invalid(field string, value any, format string, args ...any) error {
	return &FieldError{Field: field, Value: value, Reason: fmt.Sprintf(format, args...)}
}

// wrap puts what was being done in front of err, which may come from this
// package already, naming the package once: "isolate: destroy task "t":
// kill /gleaner/t: ...".
func wrap(err error, format string, args ...any) error {
	return pkgerr.Wrap("isolate", err, format, args...)
}
