// Package e2e holds Gleaner's end-to-end tests: an embedded etcd, masters,
// agents and the Marathon-style framework composed as in the demo, with real
// cgroups, real task roots and, where separate hosts matter, agents in their
// own network namespaces joined to the test by veth pairs.
//
//	go test -race ./examples/internal/e2e
//
// Tests that need root, cgroups or the ip tool skip with the reason, and
// fail instead when GLEANER_REQUIRE_PRIVILEGED=1.
package e2e
