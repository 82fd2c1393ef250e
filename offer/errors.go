package offer

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error this package returns wraps one of them, so
// callers can tell the cases apart with errors.Is.
var (
	// ErrInvalid reports bad input: malformed resource or constraint text,
	// a negative scalar, an inverted range, resources an offer does not hold.
	ErrInvalid = errors.New("offer: invalid input")
	// ErrNotFound reports an unknown agent, framework or offer ID.
	ErrNotFound = errors.New("offer: not found")
	// ErrExists reports an agent or framework that is already registered.
	ErrExists = errors.New("offer: already exists")
)

// SyntaxError describes text that could not be parsed. It names what was
// being parsed, the offending token and the byte offset at which the token
// starts, so that a user can find the mistake in a long resource string:
//
//	resources: "cpus:-1" at 0: negative scalar
//
// A SyntaxError wraps ErrInvalid.
type SyntaxError struct {
	What   string // "resources" or "constraint"
	Token  string // the offending token, as written
	Offset int    // byte offset of Token in the input
	Msg    string // what is wrong with it
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("%s: %q at %d: %s", e.What, e.Token, e.Offset, e.Msg)
}

// Unwrap returns ErrInvalid.
func (e *SyntaxError) Unwrap() error { return ErrInvalid }
