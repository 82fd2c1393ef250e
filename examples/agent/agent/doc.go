// Package agent is Gleaner's example agent, the program that runs on every
// business machine: it composes monitor, reserve, isolate, rootfs and attrs
// into the agent half of a Mesos-style cluster.
//
// Every sampling interval the monitor's sample (host usage minus the usage
// of the agent's cgroup: the business's usage) is fed to a reserve
// Reservation; the result, bounded by an operator's cap and floor (GET/PUT
// /reservation), is the amount lent to harvested work. The parent cgroup of
// all tasks is resized to it online, reserve's QoS throttles or evicts tasks
// when they hold more than it, and the agent reports it to the master with
// its attributes (kept in step with etcd by attrs) and its tasks.
//
// Tasks arrive as launch commands from the master. Each runs as /bin/sh -c
// cmd (or its args) in a root file system layered from the task's image on a
// versioned base kept under the agent's directory (a busybox base is seeded
// from the host's /bin/busybox), entered with pivot_root or chroot, inside
// its own cgroup, which the process joins before any of its code runs. A
// disk watcher kills tasks whose sandbox outgrows their disk resources.
//
// The agent keeps everything in one directory (Config.Dir): its binary and
// bundled libraries when installed, the state of its tasks, their sandboxes,
// the base root file systems and the image cache. It writes nothing outside
// it but its cgroups, so uninstalling is stopping it and deleting the
// directory.
//
// The shortest use, in a program whose main calls rootfs.Init first:
//
//	err := agent.Run(ctx, agent.Config{Dir: "/opt/gleaner-agent", Masters: []string{"http://10.0.0.1:5050"}})
//
// When ctx ends, the agent kills its tasks and removes its cgroups, mounts
// and sandboxes. When ctx is cancelled with the cause ErrRestart
// (context.WithCancelCause), or when the agent dies, its tasks keep running
// and the next agent started on the same directory adopts them.
//
// Without root or cgroups the agent still runs: isolation is reported as
// unavailable (AgentReport.Isolation, /metrics) and tasks run as plain child
// processes in their sandbox directories on the host's file system, with
// disk limits and QoS evictions still enforced but no CPU or memory limits.
package agent
