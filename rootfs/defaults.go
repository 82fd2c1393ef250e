package rootfs

// The defaults of a launched command's file system, in one table as runc's
// specconv.Example keeps them: what a task sees of /proc and /dev when
// nobody asks for more (ModePivotRoot; ModeChroot mounts nothing). With
// DefaultCapabilities and DeniedSyscalls they are the whole sandbox.
var (
	// MaskedPaths are hidden: a file is covered by /dev/null, a directory
	// by an empty read-only tmpfs. They leak host memory, keys, timers,
	// interrupts and hardware. (/sys is not mounted at all, so
	// /sys/firmware and the rest of it are out of sight.)
	MaskedPaths = []string{
		"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
		"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
		"/proc/sched_debug", "/proc/scsi", "/proc/interrupts",
	}
	// ReadonlyPaths stay visible but cannot be written: kernel tunables,
	// the sysrq trigger, IRQ affinities, bus and file-system settings.
	ReadonlyPaths = []string{
		"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
	}
	// Devices are the only device nodes in the task's /dev, beside a
	// private devpts (/dev/pts, /dev/ptmx) and /dev/shm. Package isolate's
	// device cgroup allowlist lets exactly these (and the pseudo-terminals)
	// be opened.
	Devices = []Device{
		{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8},
		{"urandom", 1, 9}, {"tty", 5, 0},
	}
)

// Device is a character device node: its name in /dev and its numbers.
type Device struct {
	Name         string
	Major, Minor uint32
}
