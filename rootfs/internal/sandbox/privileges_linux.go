package sandbox

import (
	"fmt"
	"slices"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// dropPrivileges leaves the thread with the command's user and only the
// capabilities cfg grants, in this order: the bounding set (which needs
// CAP_SETPCAP, so first), the ambient set, the user and groups (a switch to
// a non-zero UID clears every capability), the remaining sets for a root
// command, no_new_privs (so that no setuid binary or file capability
// raises anything again), and non-dumpable (no task process may open
// /proc/<helper>/exe or ptrace the helper).
func dropPrivileges(cfg Config) error {
	keep := cfg.Capabilities
	if cfg.UID != 0 {
		keep = nil
	}
	for c := 0; c <= cfg.LastCapability; c++ {
		if slices.Contains(keep, c) {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil {
			return step("capability bounding set", fmt.Errorf("drop %d: %w", c, err))
		}
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return step("ambient capabilities", err)
	}
	if err := setUser(cfg); err != nil {
		return err
	}
	if err := setCapabilities(keep); err != nil {
		return step("capabilities", err)
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return step("no_new_privs", err)
	}
	return step("non-dumpable", unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0))
}

// setCapabilities sets the permitted, effective and inheritable sets of
// this thread to keep.
func setCapabilities(keep []int) error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	for _, c := range keep {
		data[c/32].Permitted |= 1 << (uint(c) % 32)
	}
	for i := range data {
		data[i].Effective = data[i].Permitted
		data[i].Inheritable = data[i].Permitted
	}
	return unix.Capset(&hdr, &data[0])
}

// setUser switches to the command's user and groups. An init (which stays
// running) switches every thread, as the syscall package does; a helper that
// execs the command switches only this thread, the one that execs, which
// saves stopping the others three times.
func setUser(cfg Config) error {
	groups := make([]int, len(cfg.Groups))
	for i, g := range cfg.Groups {
		groups[i] = int(g)
	}
	if cfg.Init {
		// In a user namespace setgroups is denied (its gid map was
		// written without it) and the groups are already none.
		if !cfg.UserNS {
			if err := syscall.Setgroups(groups); err != nil {
				return step("user", fmt.Errorf("setgroups %v: %w", cfg.Groups, err))
			}
		}
		if err := syscall.Setresgid(int(cfg.GID), int(cfg.GID), int(cfg.GID)); err != nil {
			return step("user", fmt.Errorf("setgid %d: %w", cfg.GID, err))
		}
		if err := syscall.Setresuid(int(cfg.UID), int(cfg.UID), int(cfg.UID)); err != nil {
			return step("user", fmt.Errorf("setuid %d: %w", cfg.UID, err))
		}
		return nil
	}
	var gp unsafe.Pointer
	gs := make([]uint32, len(cfg.Groups))
	copy(gs, cfg.Groups)
	if len(gs) > 0 {
		gp = unsafe.Pointer(&gs[0])
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, uintptr(len(gs)), uintptr(gp), 0); e != 0 {
		return step("user", fmt.Errorf("setgroups %v: %w", cfg.Groups, e))
	}
	g := uintptr(cfg.GID)
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, g, g, g); e != 0 {
		return step("user", fmt.Errorf("setgid %d: %w", cfg.GID, e))
	}
	u := uintptr(cfg.UID)
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, u, u, u); e != 0 {
		return step("user", fmt.Errorf("setuid %d: %w", cfg.UID, e))
	}
	return nil
}
