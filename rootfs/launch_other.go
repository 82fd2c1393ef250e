//go:build !linux

package rootfs

import (
	"context"
	"fmt"
	"syscall"
	"time"
)

// Init does nothing outside Linux.
func Init() {}

// Process is a launched command (Linux only).
type Process struct{}

// Start needs Linux.
func Start(ctx context.Context, spec Spec) (*Process, error) {
	return nil, fmt.Errorf("%w: launch on this platform", ErrNotSupported)
}

// Pid returns 0.
func (p *Process) Pid() int { return 0 }

// Wait returns ErrNotSupported.
func (p *Process) Wait(ctx context.Context) (ExitStatus, error) { return ExitStatus{}, ErrNotSupported }

// Signal returns ErrNotSupported.
func (p *Process) Signal(sig syscall.Signal) error { return ErrNotSupported }

// Stop returns ErrNotSupported.
func (p *Process) Stop(ctx context.Context, grace time.Duration) (ExitStatus, error) {
	return ExitStatus{}, ErrNotSupported
}

// PivotRootSupported reports false outside Linux.
func PivotRootSupported() bool { return false }

// Mode returns ModeAuto.
func (p *Process) Mode() LaunchMode { return ModeAuto }

// Done returns a closed channel.
func (p *Process) Done() <-chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}
