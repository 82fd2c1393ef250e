//go:build !linux

package cluster

import "context"

// removeCgroups has nothing to do where there are no cgroups.
func removeCgroups(context.Context, ...string) error { return nil }

// unmountUnder has nothing to do: the demo mounts nothing off Linux.
func unmountUnder(string) error { return nil }

// cgroupsWritable is false: there are no cgroups.
func cgroupsWritable() bool { return false }
