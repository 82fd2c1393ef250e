// Package gleaner is the root of a library for running batch work on the idle
// CPU, memory and disk of machines that already serve a business, without
// disturbing that business.
//
// # The problem
//
// Business machines are provisioned for their peak and sit mostly idle, yet
// they cannot be rebooted, upgraded or polluted with new system packages.
// Gleaner lends their slack to batch work the way a patched Mesos + Marathon
// deployment did: it measures what the business uses, lends only what is idle
// right now, takes it back the moment the business needs it, and leaves no
// trace when it is removed.
//
// # The data path
//
//  1. monitor samples the host (CPU from /proc/stat deltas, MemAvailable,
//     statfs, PSI) and Gleaner's own usage; business usage is the difference.
//  2. reserve turns the samples into an idle estimate, smooths it with
//     hysteresis (shrink fast, grow slow) and publishes the reservation;
//     isolate resizes the parent cgroup to it online, and reserve's QoS
//     decides which tasks to throttle or evict when it drops below what tasks
//     hold.
//  3. The agent reports its reservation and its attributes (attrs, kept in
//     etcd) to the master.
//  4. The master's allocator (offer) sends resource offers to frameworks by
//     weighted Dominant Resource Fairness.
//  5. A framework matches pending tasks to offers under Marathon-style
//     placement constraints (offer) and declines what it does not use.
//  6. The agent fetches the task image and layers it on a versioned base root
//     filesystem (rootfs), creates the task's cgroup (isolate) and launches the
//     task inside it, chrooted or pivot_rooted.
//
// Attribute changes flow from etcd to agents and the master; a task whose
// constraints no longer hold is killed and placed again. The agent itself is
// installed as one directory whose shared libraries are found through an
// $ORIGIN-relative rpath written by patchelf.
//
// # Packages
//
//   - offer: resources, constraints, matching, weighted DRF allocation (pure).
//   - monitor: host and own-usage sampling from /proc and /sys.
//   - reserve: idle estimation, hysteresis, reservation, QoS, trace replay.
//   - isolate: cgroups for tasks and the parent, disk-usage enforcement.
//   - rootfs: fetch, unpack, layer, pack and launch task images.
//   - attrs: typed agent attributes in etcd, syncer, cluster view, liveness.
//   - patchelf: pure-Go ELF editing and shared-library bundling.
//   - examples: master, agent, framework, CLIs and the all-in-one demo.
//
// Each package stands alone: an in-house scheduler may import just one.
// Start reading with offer (the vocabulary of resources and constraints) and
// reserve (the decisions that make harvesting safe).
package gleaner
