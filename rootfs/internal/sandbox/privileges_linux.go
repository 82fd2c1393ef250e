package sandbox

import (
	"fmt"
	"slices"
	"syscall"

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

// setUser switches to the command's user. The launcher started the helper
// with the command's group and supplementary groups already (so that an
// init, which must switch every thread, switches only the user); they are
// checked here. An init switches every thread, as the syscall package does;
// a helper that execs the command switches only this thread, the one that
// execs, which saves stopping the others.
func setUser(cfg Config) error {
	if err := checkGroups(cfg); err != nil {
		return step("user", err)
	}
	if cfg.Init {
		if err := syscall.Setresuid(int(cfg.UID), int(cfg.UID), int(cfg.UID)); err != nil {
			return step("user", fmt.Errorf("setuid %d: %w", cfg.UID, err))
		}
		return nil
	}
	u := uintptr(cfg.UID)
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, u, u, u); e != 0 {
		return step("user", fmt.Errorf("setuid %d: %w", cfg.UID, e))
	}
	return nil
}

// checkGroups makes sure the helper runs with the command's group and
// supplementary groups (in a user namespace: group 0 and none). IDs are
// compared as the kernel's unsigned 32 bits: x/sys returns them as C ints,
// negative from 2^31 on.
func checkGroups(cfg Config) error {
	rgid, egid, sgid := unix.Getresgid()
	if uint32(rgid) != cfg.GID || uint32(egid) != cfg.GID || uint32(sgid) != cfg.GID {
		return fmt.Errorf("started with group %d/%d/%d, want %d", uint32(rgid), uint32(egid), uint32(sgid), cfg.GID)
	}
	list, err := unix.Getgroups()
	if err != nil {
		return fmt.Errorf("getgroups: %w", err)
	}
	groups := make([]uint32, len(list))
	for i, g := range list {
		groups[i] = uint32(g)
	}
	want := slices.Clone(cfg.Groups)
	slices.Sort(groups)
	slices.Sort(want)
	if !slices.Equal(groups, want) {
		return fmt.Errorf("started with groups %v, want %v", groups, want)
	}
	return nil
}
