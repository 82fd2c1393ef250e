// Package pkgerr gives an error chain its package's name once.
//
// Every error a library package returns starts with the package's name
// ("rootfs: ..."), and its sentinels lead ("rootfs: not found: base ...").
// When the package puts what it was doing in front of an error that already
// came from itself, fmt.Errorf("rootfs: unpack %s: %w", ...) would say the
// name twice ("rootfs: unpack a.tar: rootfs: invalid input: ..."); Wrap says
// it once ("rootfs: unpack a.tar: invalid input: ..."). It lives under the
// module's internal/, as internal/cgroupstat does, so that the packages that
// use it stay usable alone.
package pkgerr

import (
	"fmt"
	"strings"
)

// Wrap returns err with what the package pkg was doing in front of it,
// formatted as fmt.Sprintf(format, args...): "pkg: doing: cause", where the
// cause's own leading "pkg: " is left out. errors.Is and errors.As see err.
func Wrap(pkg string, err error, format string, args ...any) error {
	return &wrapped{prefix: pkg + ": ", doing: fmt.Sprintf(format, args...), err: err}
}

type wrapped struct {
	prefix string
	doing  string
	err    error
}

func (e *wrapped) Error() string {
	return e.prefix + e.doing + ": " + strings.TrimPrefix(e.err.Error(), e.prefix)
}

func (e *wrapped) Unwrap() error { return e.err }
