// Package cluster runs a whole Gleaner cluster in one process, on loopback:
// an embedded etcd, masters, agents (each in its own cgroup subtree and
// directory) and the Marathon-style framework with its apps. It is what
// `go run ./examples/demo` starts, and what the end-to-end tests build on.
//
//	c, err := cluster.Start(ctx, cluster.Config{})
//	if err != nil { ... }
//	defer c.Close(context.Background())
//	fmt.Println("dashboard:", c.DashboardURL())
//
// Close stops everything and removes every cgroup, mount and directory the
// cluster made. Without root the agents run with isolation unavailable.
//
// The cluster is secure unless Config.Insecure: every component gets a
// certificate of Config.CA (default: a throwaway CA), written to <dir>/pki,
// etcd serves TLS with its authentication and a user per component, and
// the master enforces Policy. Client and HTTPClient act as Admin.
package cluster
