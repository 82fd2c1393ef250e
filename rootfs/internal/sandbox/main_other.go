//go:build !linux

package sandbox

import "os"

// Main exits: the helper runs only on Linux.
func Main() { os.Exit(127) }
