package rootfs

import (
	"fmt"
	"sync"

	seccomp "github.com/elastic/go-seccomp-bpf"
	"github.com/elastic/go-seccomp-bpf/arch"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/gleaner/gleaner/rootfs/internal/sandbox"
)

// DeniedSyscalls fail with EPERM in every launched command: what Docker's
// default profile refuses a container without CAP_SYS_ADMIN, in one table.
// They change the host (mount, swap, clock, modules, kexec, reboot,
// accounting, quotas), reach beyond the task (ptrace and process_vm_* of
// other processes, setns, open_by_handle_at, kcmp), widen the kernel's
// attack surface (bpf, perf_event_open, userfaultfd, keyrings, NUMA
// policy), or are obsolete. Names this architecture lacks are skipped.
var DeniedSyscalls = []string{
	"acct", "add_key", "bpf", "clock_adjtime", "clock_settime", "delete_module",
	"finit_module", "fsconfig", "fsmount", "fsopen", "fspick", "get_mempolicy",
	"init_module", "ioperm", "iopl", "kcmp", "kexec_file_load", "kexec_load",
	"keyctl", "lookup_dcookie", "mbind", "mount", "mount_setattr", "move_mount",
	"move_pages", "name_to_handle_at", "open_by_handle_at", "open_tree",
	"perf_event_open", "pivot_root", "process_vm_readv", "process_vm_writev",
	"ptrace", "quotactl", "reboot", "request_key", "set_mempolicy", "setns",
	"settimeofday", "swapoff", "swapon", "syslog", "umount2", "unshare",
	"uselib", "userfaultfd", "ustat", "_sysctl", "sysfs", "nfsservctl",
	"create_module", "get_kernel_syms", "query_module", "vhangup",
}

// namespaceFlags are the clone flags that create namespaces; a clone with
// any of them is refused, as unshare is.
var namespaceFlags = []uint64{
	unix.CLONE_NEWNS, unix.CLONE_NEWUTS, unix.CLONE_NEWIPC, unix.CLONE_NEWUSER,
	unix.CLONE_NEWPID, unix.CLONE_NEWNET, unix.CLONE_NEWCGROUP, unix.CLONE_NEWTIME,
}

// Policy is the seccomp policy of every launched command: allow by default,
// refuse DeniedSyscalls and namespace-creating clones with EPERM, and
// clone3 with ENOSYS (its flags sit behind a pointer a filter cannot read;
// ENOSYS makes the C library fall back to clone, which is filtered).
func Policy() seccomp.Policy {
	clone := make([]seccomp.NameWithConditions, len(namespaceFlags))
	for i, f := range namespaceFlags {
		clone[i] = seccomp.NameWithConditions{Name: "clone",
			Conditions: seccomp.ArgumentConditions{{Argument: 0, Operation: seccomp.BitsSet, Value: f}}}
	}
	names := make([]string, 0, len(DeniedSyscalls))
	for _, n := range DeniedSyscalls {
		if hasSyscall(n) {
			names = append(names, n)
		}
	}
	return seccomp.Policy{
		DefaultAction: seccomp.ActionAllow,
		Syscalls: []seccomp.SyscallGroup{
			{Action: seccomp.ActionErrno, Names: names},
			{Action: seccomp.ActionErrno, NamesWithCondtions: clone},
			{Action: seccomp.ActionErrno | seccomp.Action(unix.ENOSYS), Names: []string{"clone3"}},
		},
	}
}

// seccompFilters assembles, once per process, the filter every launch
// sends to its helper: a prefix refusing system calls of any other
// architecture (Policy is written for this one, and the 32-bit entry points
// of an x86-64 kernel would otherwise go around it), then Policy. One
// program rather than two: each filter the helper loads is compiled by the
// kernel on every launch. The helper only loads it, so a launch does not
// pay for the assembly.
var seccompFilters = sync.OnceValues(func() ([][]byte, error) {
	p := Policy()
	insts, err := p.Assemble()
	if err != nil {
		return nil, fmt.Errorf("rootfs: seccomp policy: %w", err)
	}
	if arch, ok := auditArch(); ok {
		// The policy's jumps are relative, so a prefix leaves them right.
		native := []bpf.Instruction{
			bpf.LoadAbsolute{Off: 4, Size: 4}, // seccomp_data.arch
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: arch, SkipTrue: 1},
			bpf.RetConstant{Val: unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)},
		}
		insts = append(native, insts...)
	}
	filter, err := sockFilter(insts)
	if err != nil {
		return nil, err
	}
	return [][]byte{sandbox.EncodeFilter(filter)}, nil
})

func sockFilter(insts []bpf.Instruction) ([]unix.SockFilter, error) {
	raw, err := bpf.Assemble(insts)
	if err != nil {
		return nil, fmt.Errorf("rootfs: seccomp filter: %w", err)
	}
	out := make([]unix.SockFilter, len(raw))
	for i, in := range raw {
		out[i] = unix.SockFilter{Code: in.Op, Jt: in.Jt, Jf: in.Jf, K: in.K}
	}
	return out, nil
}

// hasSyscall reports whether this architecture has the named system call
// (older ones such as uselib are x86-only).
func hasSyscall(name string) bool {
	info, err := arch.GetInfo("")
	if err != nil {
		return false
	}
	_, ok := info.SyscallNames[name]
	return ok
}
