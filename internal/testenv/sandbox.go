package testenv

import "testing"

// The probes below are for the task sandbox (rootfs, the agent's escape
// suite). Each is set-up CI has, so under GLEANER_REQUIRE_PRIVILEGED=1 its
// absence fails rather than skips, like the mount and user namespaces.

// RequireNetworkNamespace skips (or fails) t unless the process can create
// a network namespace.
func RequireNetworkNamespace(t testing.TB) {
	t.Helper()
	live.requireNamespace(t, "network", probeNetworkNamespace)
}

// RequireCgroupNamespace skips (or fails) t unless the process can create
// a cgroup namespace.
func RequireCgroupNamespace(t testing.TB) {
	t.Helper()
	live.requireNamespace(t, "cgroup", probeCgroupNamespace)
}

// RequireSeccomp skips (or fails) t unless the kernel filters system calls
// with seccomp BPF programs.
func RequireSeccomp(t testing.TB) {
	t.Helper()
	if err := probeSeccomp(); err != nil {
		live.missing(t, "test needs seccomp filters: %v", err)
	}
}
