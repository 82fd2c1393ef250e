//go:build !linux

package rootfs

import (
	"context"
	"fmt"
	"os"
)

// Layer needs Linux (overlayfs or Linux file metadata).
func Layer(ctx context.Context, base, bundle, dir string, mode LayerMode) (*TaskRoot, error) {
	return nil, fmt.Errorf("%w: layer on this platform", ErrNotSupported)
}

// Remove deletes the task root directory.
func (r *TaskRoot) Remove() error { return os.RemoveAll(r.dir) }
