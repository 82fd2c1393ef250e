package rootfs

import (
	"fmt"
	"os"
	"syscall"
)

// LaunchMode says how Start enters the task root.
type LaunchMode int

const (
	// ModeAuto picks ModePivotRoot when the kernel has mount and PID
	// namespaces and the caller may create them, ModeChroot otherwise.
	ModeAuto LaunchMode = iota
	// ModeChroot chroots into the root; no namespaces are created, so the
	// task sees the host's process table and the root's own /proc and /dev
	// (if any).
	ModeChroot
	// ModePivotRoot creates new mount, PID, IPC, UTS and cgroup
	// namespaces, mounts the root again without setuid or device files, a
	// fresh /proc with its sensitive files masked or read-only, a minimal
	// /dev and a tmpfs /tmp inside it, and pivot_roots into it. A small
	// init (the launch helper) is PID 1 of the namespace: it forwards
	// signals to the command, reaps orphans and exits with the command.
	ModePivotRoot
)

func (m LaunchMode) String() string {
	switch m {
	case ModeAuto:
		return "auto"
	case ModeChroot:
		return "chroot"
	case ModePivotRoot:
		return "pivot_root"
	}
	return fmt.Sprintf("LaunchMode(%d)", int(m))
}

// Network says which network a command sees.
type Network string

// Networks.
const (
	NetworkHost Network = ""     // the host's network
	NetworkNone Network = "none" // its own namespace with loopback only
)

// HelperName is the launch helper's file name: rootfs/cmd/gleaner-init
// built under this name and installed next to the program that calls
// Start.
const HelperName = "gleaner-init"

// HelperPackage is the import path of the launch helper's main package.
const HelperPackage = "github.com/gleaner/gleaner/rootfs/cmd/gleaner-init"

// IDMap is the host user that root inside a user namespace is.
type IDMap struct {
	HostUID, HostGID uint32
}

// Credential is the user the command runs as.
type Credential struct {
	UID    uint32
	GID    uint32
	Groups []uint32 // supplementary groups; none when empty
}

// Rlimit is one resource limit, such as unix.RLIMIT_NOFILE.
type Rlimit struct {
	Resource int
	Cur, Max uint64
}

// Spec describes a command to launch inside a task root. Its fields are
// plain values so that a caller such as package isolate can fill the
// cgroup fields without this package importing it.
type Spec struct {
	Root string   // task root directory on the host
	Args []string // Args[0]: absolute path inside Root, or a name looked up in Env's PATH
	Env  []string // the command's whole environment
	Dir  string   // working directory inside Root; default "/"
	Mode LaunchMode

	// Credential is the user the command runs as; nil runs it as root (of
	// the host: callers running untrusted code pass an unprivileged user).
	// Whatever the user, the command runs with no_new_privs, a seccomp
	// filter refusing what Docker's default profile refuses, and a
	// capability bounding set of Capabilities (root) or empty (any other
	// user).
	Credential *Credential
	// UserNamespace, when set (ModePivotRoot), runs the command in a user
	// namespace of its own where root (the only user there) is this
	// unprivileged host user: a task that needs to be root inside gets
	// root's powers over its own root file system only, and whatever it
	// does reaches the host as that user. Credential must then be root
	// (nil or UID 0).
	UserNamespace *IDMap
	// Capabilities are what a root command keeps ("CAP_CHOWN" or
	// "chown"); nil means DefaultCapabilities, an empty slice none.
	Capabilities []string
	Rlimits      []Rlimit

	// Network is NetworkHost (default: the host's network, as Mesos and
	// Nomad default) or NetworkNone (a network namespace of its own with
	// only loopback).
	Network Network
	// Hostname is the command's host name in its UTS namespace
	// (ModePivotRoot); default "gleaner".
	Hostname string

	// Helper is the path of the launch helper, a build of
	// rootfs/cmd/gleaner-init. Empty means HelperName next to the running
	// program when it is there, else the running program itself, which
	// must then call Init first in main (and starts far slower).
	Helper string

	// Stdout and Stderr are host paths of files (usually in the task's
	// sandbox directory) created or truncated for the command's output;
	// empty means /dev/null. Stdin is always /dev/null.
	Stdout, Stderr string
	// StdoutFile and StderrFile, when set, are used instead of the paths
	// (for example os.Stdout in a command-line tool). The caller keeps
	// ownership.
	StdoutFile, StderrFile *os.File

	// ParentDeathSignal is sent to the command when the launching thread
	// dies; 0 means SIGKILL.
	ParentDeathSignal syscall.Signal

	// CgroupProcsFiles are absolute paths of cgroup v1 cgroup.procs files,
	// one per hierarchy. The child's PID is written into each before any
	// of the command's code runs.
	CgroupProcsFiles []string
	// CgroupDir is an open cgroup v2 directory. The child is created in it
	// (clone3 with CLONE_INTO_CGROUP through SysProcAttr.UseCgroupFD).
	CgroupDir *os.File
}

// ExitStatus is how a command ended.
type ExitStatus struct {
	Code   int            // exit code; -1 when killed by a signal
	Signal syscall.Signal // the signal that killed it, or 0
}

// Success reports exit code 0.
func (s ExitStatus) Success() bool { return s.Code == 0 && s.Signal == 0 }

func (s ExitStatus) String() string {
	if s.Signal != 0 {
		return "killed by " + s.Signal.String()
	}
	return fmt.Sprintf("exit code %d", s.Code)
}
