// Package agent is Gleaner's example agent, the program that runs on every
// business machine: it composes monitor, reserve, isolate, rootfs and attrs
// into the agent half of a Mesos-style cluster.
//
// Every sampling interval the monitor's sample (host usage minus the usage
// of the agent's parent cgroup: the business's usage; or, with
// Config.BusinessCgroup, one cgroup's usage) is fed to a reserve
// Reservation. The estimate, bounded by an operator's cap and floor (GET/PUT
// /reservation on the operator socket), is what the agent lends. reserve's QoS throttles tasks (a
// lower CFS quota) or evicts them (TASK_KILLED, reason "evicted: ...") when
// they hold more than that, and the parent cgroup of all tasks is resized to
// it online. The agent reports it to the master with its usage, attributes
// and tasks, and takes LAUNCH and KILL commands from the answers and from a
// long poll.
//
// A task runs as /bin/sh -c cmd (or its args) in a root file system layered
// from its image (fetched through a content-addressed cache in the agent's
// directory) on a versioned base kept there (made from the host's own sh,
// sleep, true and the usual tools with patchelf.Bundle, so no package is
// needed), entered with pivot_root or chroot through the rootfs sandbox
// (its own PID, mount, IPC, UTS and cgroup namespaces, a masked /proc, a
// minimal /dev, no capabilities, no_new_privs, seccomp), inside its own
// cgroup with a pids.max and a device allowlist, which the process joins
// before any of its code runs. It runs as its user (the app's "user"),
// else as a user ID of its own from Config.TaskUIDs when the operator
// reserves a range, else as Config.TaskUser (nobody, shared by every such
// task: in chroot mode, where tasks share the host's PID namespace, they
// can signal each other and the host's processes of that user, which a
// range of their own prevents); as root only for Config.RootRoles. Its fetch
// URIs land in its working directory, through an os.Root, from the
// directories and buckets the operator lists only, within its disk. A disk
// watcher fails tasks whose sandbox outgrows their disk resources ("disk
// limit exceeded: ..."); a task the kernel killed at its memory limit fails
// with "memory limit exceeded: ...".
//
// A task's stdout and stderr go through a FIFO each into files in its
// sandbox, rotated so that each keeps at most Config.LogMaxBytes, and
// survive agent restarts; GET /tasks/{id}/logs serves them, followed while
// the task runs (the master proxies it). The sandbox outlives the task:
// it is collected after Config.SandboxRetention, or sooner, oldest first,
// when the disk is fuller than Config.SandboxDiskWatermark (sandbox.go).
//
// Attributes come from etcd (attrs.Syncer); the configured ones are written
// there at the agent's first start, and etcd is authoritative after that. An
// attrs.Registrar keeps the agent's liveness lease.
//
// The agent keeps everything in one directory (Config.Dir): its binary and
// bundled libraries when installed, the state of its tasks, the operator's
// bounds, the sandboxes, the base root file systems and the image cache. It
// writes nothing outside it but its cgroups, so uninstalling is stopping it
// and deleting the directory.
//
// The shortest use, in a program whose main calls rootfs.Init first:
//
//	id, _ := auth.LoadTLS(pki.Files{CA: "ca.pem", Cert: "agent-node7.pem", Key: "agent-node7-key.pem"})
//	err := agent.Run(ctx, agent.Config{Dir: "/opt/gleaner-agent", TLS: id, Masters: []string{"https://10.0.0.1:5050"}})
//
// When ctx ends, the agent kills its tasks, reports them and removes their
// cgroups, mounts and sandboxes and its parent cgroup. When ctx is cancelled
// with the cause ErrRestart (context.WithCancelCause), or when the agent
// dies, its tasks keep running and the next agent started on the same
// directory adopts them; a task that ended meanwhile is reported failed with
// its exit status unknown.
//
// Without root or cgroups the agent fails closed: it still runs and
// reports, but says isolation is unavailable (AgentReport.Isolation,
// /reservation, /metrics), lends nothing and refuses every task. Only
// Config.Isolation = IsolationNone (-isolation=none) runs tasks unisolated,
// as plain child processes of the agent's own user in their sandbox
// directories, with disk limits and QoS evictions still enforced but no CPU
// or memory limits, and says so.
//
// # Security
//
// The agent's identity is its certificate (Config.TLS, naming
// agent/<ID>): the masters let it register, report and poll only as that
// ID, and etcd lets it write only its own attributes and liveness key. It
// talks only to masters whose certificates name a master, and follows only
// leaders among its configured master URLs. Its HTTPS endpoint (/tasks,
// /metrics) answers operators' and masters' certificates. GET and PUT
// /reservation, which decide how much of the machine is lent, are served
// only on the operator socket (Config.OperatorSocket, in a 0700 directory,
// answering root and the agent's own user), out of reach of tasks, which
// run as other users in their own root file systems:
//
//	curl --unix-socket /opt/gleaner-agent/operator/agent.sock http://agent/reservation
//
// Without isolation (not root, or -isolation=none) tasks run as the
// agent's user and this does not hold.
package agent
