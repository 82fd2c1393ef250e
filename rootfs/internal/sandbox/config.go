// Package sandbox is the code that runs between fork and exec of a task: in
// the launch helper (rootfs/cmd/gleaner-init, or the running program
// re-executed through rootfs.Init). It receives a Config from rootfs.Start
// on a pipe (a binary record, see AppendConfig), enters the task root, drops every privilege the Config does not
// grant and execs the command, or, when the command is PID 1 of its own PID
// namespace, stays as its init: it forwards signals, reaps orphans and
// reports the command's exit status.
//
// It imports nothing but the small core of the standard library and
// golang.org/x/sys (no encoding/json, fmt, os/exec or reflection), so that
// the helper's start, which every launch pays, is little more than the Go
// runtime's own.
package sandbox

// Env is set in the helper's environment by rootfs.Start; rootfs.Init acts
// only when it is present.
const Env = "_GLEANER_ROOTFS_INIT"

// File descriptors the helper is started with.
const (
	ConfigFD = 3 // the Config's record, then EOF once the helper is in its cgroups
	StatusFD = 4 // the helper writes Messages; close-on-exec
)

// Modes, as rootfs.LaunchMode.
const (
	ModeChroot    = 1
	ModePivotRoot = 2
)

// Config is what the helper receives.
type Config struct {
	Root string
	Mode int
	Args []string
	Env  []string
	Dir  string

	// The user the command runs as. The helper switches to it after
	// entering the root; UID 0 keeps root with only Capabilities.
	UID, GID uint32
	Groups   []uint32
	// Capabilities the command keeps (numbers, as unix.CAP_CHOWN), in its
	// bounding, permitted and effective sets; only a command running as
	// UID 0 can use them.
	Capabilities []int
	// LastCapability is the highest capability number the kernel knows
	// (/proc/sys/kernel/cap_last_cap, read once by rootfs): the helper
	// drops every other one up to it from the bounding set.
	LastCapability int

	Rlimits   []Rlimit
	Pdeathsig int
	Parent    int // the launcher's PID, to notice that it died (chroot mode)

	Hostname   string // set in the new UTS namespace (pivot_root mode)
	CgroupNS   bool   // unshare the cgroup namespace once placed in the cgroups
	LoopbackUp bool   // a new network namespace: bring lo up
	UserNS     bool   // in a user namespace of its own: device nodes are bound, not made
	Init       bool   // stay as PID 1 of the namespace and run the command as its child

	// MaskedPaths and ReadonlyPaths are below /proc (pivot_root mode);
	// Devices are the only nodes of the task's /dev.
	MaskedPaths, ReadonlyPaths []string
	Devices                    []Device

	// Seccomp are the BPF filters to load, in order, each an array of
	// struct sock_filter in the machine's byte order (rootfs assembles them
	// once; the helper only loads them, and bytes keep the JSON short).
	Seccomp [][]byte
}

// Device is a character device node of the task's /dev.
type Device struct {
	Name         string
	Major, Minor uint32
}

// Rlimit is one resource limit.
type Rlimit struct {
	Resource int
	Cur, Max uint64
}

// Message is one record the helper writes on StatusFD (see
// AppendMessage). EOF without any message means the command was exec'd
// (chroot mode).
type Message struct {
	// Error: the command could not be started; Step names what failed.
	Error    string
	Step     string
	NotFound bool
	// Started: init mode, the command runs with this PID (in its namespace).
	Started int
	// Exited: init mode, how the command ended.
	Exited *Exit
}

// Exit is how the command ended: a code, or the signal that killed it.
type Exit struct {
	Code   int
	Signal int
}
