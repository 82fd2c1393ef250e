package testenv_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/gleaner/gleaner/internal/testenv"
)

// Tests that need real kernel features state them first; the helper skips
// with the reason, or fails under GLEANER_REQUIRE_PRIVILEGED=1.
func ExampleRequireCgroupV1() {
	_ = func(t *testing.T) {
		testenv.RequireCgroupV1(t, "cpu", "memory", "pids")
		// ... create a cgroup, run a child, assert its usage
	}
}

// A test of 32-bit files checks them first and executes them last: on a
// kernel without 32-bit execution the checks still run and only the
// execution skips.
func ExampleRequireExec32() {
	_ = func(t *testing.T) {
		// ... edit prog, check it with readelf and debug/elf
		t.Run("runs", func(t *testing.T) {
			testenv.RequireExec32(t)
			// ... exec prog, compare its output
		})
	}
}

// Waiting for a counter, not sleeping: the test is as fast as the machine
// allows and cannot pass vacuously when the machine is slow.
func ExampleEventually() {
	_ = func(t *testing.T) {
		var rounds atomic.Int64
		go func() { rounds.Add(1) }() // the code under test
		testenv.Eventually(t, 30*time.Second, func() bool { return rounds.Load() >= 1 }, "one allocation round")
	}
}
