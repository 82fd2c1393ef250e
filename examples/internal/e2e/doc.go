// Package e2e holds Gleaner's end-to-end tests: an embedded etcd, masters,
// agents and the Marathon-style framework composed as in the demo
// (package examples/demo/cluster), with real cgroups and real task roots
// (pivot_root into a base made from the host's own programs):
//
//   - an app of six instances with rack:GROUP_BY runs two per rack;
//   - deleting an attribute in etcd moves the tasks that need it within
//     two seconds;
//   - a business load outside Gleaner's cgroups throttles harvested tasks,
//     then evicts one, each within two sampling intervals;
//   - killing the leading master's process leaves the follower leading with
//     every task kept;
//   - killing and restarting an agent's process keeps its tasks running.
//   - Marathon's documented example definitions run, or are refused naming
//     the unsupported field; a curl client written from Marathon's API docs
//     drives an app through create, scale, update, restart, rollback,
//     kill-and-scale and delete (testdata/marathon).
//
// The last two run masters and agents as processes (this test binary,
// re-executed), each agent in its own network namespace behind a bridge,
// joined by a veth pair, with an address of its own: separate hosts.
// BenchmarkSubmitToAllRunning times an app of 100 instances from submission
// to all running on three real agents.
// BenchmarkRollingRestart restarts 100 instances with a COMMAND health
// check under minimumHealthCapacity 0.5 and reports the seconds and the
// fewest healthy tasks seen.
//
//	go test -race ./examples/internal/e2e
//
// On a machine shared with other work, each agent takes an empty cgroup of
// its own as its business, so that the other work is not mistaken for it.
// Tests that need root, cgroups, ip or nsenter skip with the reason, and
// fail instead when GLEANER_REQUIRE_PRIVILEGED=1.
package e2e
