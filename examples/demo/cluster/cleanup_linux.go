//go:build linux

package cluster

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/prometheus/procfs"
	"golang.org/x/sys/unix"

	"github.com/gleaner/gleaner/isolate"
)

// cgroupsWritable reports whether this process can make cgroups.
func cgroupsWritable() bool {
	f, err := isolate.Detect()
	return err == nil && f.Mode != isolate.Unavailable && f.Has("cpu") && f.Has("memory")
}

// removeCgroups kills whatever still runs in the cgroups under each of
// parents (deepest first) and removes them, on every hierarchy. Without
// cgroups (not root) there is nothing to remove.
func removeCgroups(ctx context.Context, parents ...string) error {
	if !cgroupsWritable() {
		return nil
	}
	var errs []error
	for _, p := range parents {
		iso, err := isolate.New(isolate.WithParent(p))
		if err != nil {
			errs = append(errs, fmt.Errorf("cgroup %s: %w", p, err))
			continue
		}
		if err := iso.Destroy(ctx); err != nil {
			errs = append(errs, fmt.Errorf("cgroup %s: %w", p, err))
		}
	}
	return errors.Join(errs...)
}

// unmountUnder detaches every mount point at or below dir, deepest first:
// task roots a crashed launch left mounted must not keep the directory from
// being removed.
func unmountUnder(dir string) error {
	mounts, err := procfs.GetMounts()
	if err != nil {
		return fmt.Errorf("listing mounts: %w", err)
	}
	dir = filepath.Clean(dir)
	var points []string
	for _, m := range mounts {
		if m.MountPoint == dir || strings.HasPrefix(m.MountPoint, dir+"/") {
			points = append(points, m.MountPoint)
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(points)))
	var errs []error
	for _, p := range points {
		if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", p, err))
		}
	}
	return errors.Join(errs...)
}
