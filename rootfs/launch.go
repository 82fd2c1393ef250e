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
	// ModePivotRoot creates new mount and PID namespaces, mounts a fresh
	// /proc, a minimal /dev and a tmpfs /tmp inside the root, and
	// pivot_roots into it. The command is PID 1 of its namespace.
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

	Credential *Credential // nil: run as the caller's user
	Rlimits    []Rlimit

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
