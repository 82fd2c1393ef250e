package monitor

import (
	"errors"
	"fmt"
)

var (
	// ErrNotSupported reports that the kernel or the platform lacks a
	// feature, for example pressure stall information (PSI) or statfs.
	ErrNotSupported = errors.New("monitor: not supported")
	// ErrNotFound reports that a watched process or cgroup does not exist.
	ErrNotFound = errors.New("monitor: not found")
	// ErrInvalid reports bad input from the caller: an option value, a
	// pid, a cgroup path.
	ErrInvalid = errors.New("monitor: invalid input")
	// ErrClosed reports a second Run of a Sampler: a Sampler runs once.
	ErrClosed = errors.New("monitor: closed")
	// ErrMalformed reports a /proc, /sys or cgroup file that does not
	// parse; the error is a *ParseError naming the file and the line.
	ErrMalformed = errors.New("monitor: malformed kernel file")
)

// ParseError is returned when a kernel file does not have the expected
// shape. File is the path that was read and Line the 1-based line number
// (the line after the last one when the file ended too early).
type ParseError struct {
	File string
	Line int
	// Field names what was being parsed, for example "MemAvailable" or
	// "cpu1 iowait".
	Field string
	// Value is the offending text; empty when the field is missing.
	Value string
	Err   error
}

func (e *ParseError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("%s:%d: %s: %v", e.File, e.Line, e.Field, e.Err)
	}
	return fmt.Sprintf("%s:%d: %s %q: %v", e.File, e.Line, e.Field, e.Value, e.Err)
}

// Unwrap returns both the cause and ErrMalformed, so that
// errors.Is(err, ErrMalformed) holds for every parse error.
func (e *ParseError) Unwrap() []error { return []error{ErrMalformed, e.Err} }

var (
	errTruncated   = errors.New("file ends early (truncated?)")
	errNotNumber   = errors.New("not a number")
	errShortLine   = errors.New("too few fields")
	errMissingLine = errors.New("required line missing")
	errSyntax      = errors.New("unexpected text")
)
