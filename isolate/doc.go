// Package isolate confines harvested tasks with Linux cgroups, through
// github.com/containerd/cgroups/v3: a hard (CFS quota) or soft (shares) CPU
// limit, a memory limit with OOM events, a pids limit, stats, kill-all and
// removal, all under one parent cgroup whose CPU quota and memory limit
// follow the agent's reservation, so harvested work together never exceeds
// what was estimated idle. A DiskWatcher enforces sandbox disk limits by
// periodic du-like scans, as Mesos's disk/du isolator does.
//
// Hosts in legacy or hybrid cgroup mode are driven through cgroup v1 (each
// controller's hierarchy found from the mounts, so cpu and cpuacct may be
// separate mounts); unified hosts through cgroup v2. Limits are mapped with
// Mesos's constants: 1024 shares per CPU (at least 2), a quota of CPUs ×
// 100 ms per 100 ms period (at least 1 ms), memory at least 32 MiB.
//
// The shortest use:
//
//	iso, err := isolate.New(isolate.WithParent("/gleaner"))
//	...
//	err = iso.Resize(3.5, 8<<30) // from the reservation's subscriber
//	task, err := iso.Create("task-42", isolate.Limits{CPUs: 0.5, MemoryBytes: 256 << 20})
//	err = task.AddPID(pid)       // or start the child in it, see ProcsFiles and OpenDir
//	...
//	err = task.Destroy(ctx)      // SIGKILL everything, remove the cgroup
//
// After an agent restart, New with the same parent and Load adopt the task
// cgroups that still run.
//
// Everything but the limit types is Linux-only.
package isolate
