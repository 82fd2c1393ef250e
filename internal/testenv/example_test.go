package testenv_test

import (
	"testing"

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
