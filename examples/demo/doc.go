// Command demo runs a whole Gleaner cluster on this machine, on loopback:
// an embedded etcd, a master with its dashboard, three agents (each in its
// own cgroup subtree and directory, on racks r1, r2 and r3 over two zones),
// the Marathon-style framework and two sample apps, one of which waits for
// an attribute no agent has yet.
//
//	go run ./examples/demo
//
// It is secured as a real cluster is: at start it mints a throwaway CA and
// a certificate for every component into <dir>/pki (Go's crypto/x509), runs
// the embedded etcd with TLS and its authentication (each component an etcd
// user limited to its key prefixes), and the master, agents and framework
// speak TLS 1.3 with client certificates, under the master's ACL
// (cluster.Policy). -insecure runs it all plaintext; the dashboard then
// says so in red.
//
// It prints the dashboard's URL (with a read-only bearer token in its
// fragment), the framework API's URL, the curl commands that post an app
// to the framework and read the master's state with the demo's operator
// certificate, the attrctl command that sets an attribute, and a summary
// whenever the cluster changes.
// Each agent lends a slice of this machine (1 cpu, 512 MB) minus what its
// business uses. Where it can make cgroups, the demo gives each agent a
// simulated business (CPU rising and falling in a slow wave, in a cgroup of
// its own), so that the demo has something to lend on a busy machine too;
// -host-business makes the agents measure the host instead, as on a real
// business machine.
// Ctrl-C stops everything and removes every cgroup, mount and directory it
// made. Without root it still runs; the agents report isolation as
// unavailable and run tasks as plain processes.
//
// With -screenshot FILE it waits for the dashboard to show running tasks,
// saves a PNG of it taken with headless chromium, and exits.
package main
