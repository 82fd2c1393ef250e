//go:build linux

package main

import "runtime"

// runtimeLock keeps the calling goroutine on its thread: unshare and ptrace
// act on the calling thread.
func runtimeLock() { runtime.LockOSThread() }
