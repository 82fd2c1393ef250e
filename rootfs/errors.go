package rootfs

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gleaner/gleaner/internal/pkgerr"
)

// Sentinel errors. Every error this package returns that falls into one of
// these classes wraps the sentinel, so callers can use errors.Is.
var (
	// ErrNotFound: an object, base version, bundle or command does not exist.
	ErrNotFound = errors.New("rootfs: not found")
	// ErrInvalid: a caller-supplied value (URI, digest, spec field, option)
	// is bad; the message names it.
	ErrInvalid = errors.New("rootfs: invalid input")
	// ErrChecksum: fetched content does not match the expected sha256.
	ErrChecksum = errors.New("rootfs: checksum mismatch")
	// ErrUnsafe: an archive entry was refused (escape, device, limit).
	ErrUnsafe = errors.New("rootfs: unsafe archive")
	// ErrNotSupported: the kernel or platform lacks what was asked for.
	ErrNotSupported = errors.New("rootfs: not supported")
	// ErrDenied: the request is well-formed but the policy forbids it (a
	// file:// URI outside the allowed directories, plain http without a
	// digest).
	ErrDenied = errors.New("rootfs: denied by policy")
	// ErrTooLarge: an object is larger than the caller's limit.
	ErrTooLarge = errors.New("rootfs: object too large")
	// ErrExists: a destination that must be new already exists.
	ErrExists = errors.New("rootfs: already exists")
)

// ChecksumError reports content whose sha256 is not the expected one.
type ChecksumError struct {
	Object string // URI or path of the object
	Want   string // expected hex sha256
	Got    string // actual hex sha256
}

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("rootfs: %s: sha256 %s, want %s", e.Object, e.Got, e.Want)
}

// Unwrap makes errors.Is(err, ErrChecksum) true.
func (e *ChecksumError) Unwrap() error { return ErrChecksum }

// EntryError reports an archive entry that was refused, with the entry's name
// and the reason.
type EntryError struct {
	Name   string // entry name as written in the archive
	Reason string
}

func (e *EntryError) Error() string {
	return fmt.Sprintf("archive entry %q refused: %s", e.Name, e.Reason)
}

// Unwrap makes errors.Is(err, ErrUnsafe) true.
func (e *EntryError) Unwrap() error { return ErrUnsafe }

// FetchError wraps a failure to read or write a remote object with its URI.
type FetchError struct {
	URI string
	Op  string // "fetch" or "upload"
	Err error
}

func (e *FetchError) Error() string {
	// The cause is often one of this package's sentinels: its own
	// "rootfs: " would only repeat the prefix.
	return fmt.Sprintf("rootfs: %s %s: %s", e.Op, e.URI, strings.TrimPrefix(e.Err.Error(), "rootfs: "))
}

// Unwrap returns the cause.
func (e *FetchError) Unwrap() error { return e.Err }

// wrap puts what was being done in front of err, which may come from this
// package already, naming the package once: "rootfs: unpack a.tar: archive
// entry "x": invalid input: short content".
func wrap(err error, format string, args ...any) error {
	return pkgerr.Wrap("rootfs", err, format, args...)
}
