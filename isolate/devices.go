package isolate

// DeviceRule allows a task to create (mknod), read or write one kind of
// device node, as a line of the device cgroup's allowlist.
type DeviceRule struct {
	Type   byte   // 'c' character, 'b' block
	Major  int64  // -1 for any
	Minor  int64  // -1 for any
	Access string // any of "r", "w", "m"
}

// DefaultDevices is the device allowlist of every task cgroup, runc's
// default: the nodes of the task's minimal /dev (null, zero, full, random,
// urandom, tty; mknod allowed, as the launch helper makes them inside the
// cgroup), /dev/ptmx and the pseudo-terminals; no other character device
// and no block device at all. A task that creates or finds another node (a
// disk, the kernel's memory) cannot open it.
var DefaultDevices = []DeviceRule{
	{'c', 1, 3, "rwm"}, {'c', 1, 5, "rwm"}, {'c', 1, 7, "rwm"}, {'c', 1, 8, "rwm"},
	{'c', 1, 9, "rwm"}, {'c', 5, 0, "rwm"}, {'c', 5, 2, "rw"}, {'c', 136, -1, "rw"},
}

// DefaultParentPidsMax is the parent cgroup's pids.max unless
// WithParentPidsMax sets another: together the tasks cannot exhaust the
// host's PIDs even when a task has no limit of its own.
const DefaultParentPidsMax = 8192
