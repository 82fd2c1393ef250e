package sandbox

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// loadSeccomp installs the filters rootfs assembled on this thread, from
// which the command is exec'd or forked, and with allThreads on every
// thread of the helper (TSYNC: the helper staying as init is bound too).
// Loading them needs no_new_privs, which dropPrivileges set.
func loadSeccomp(filters [][]byte, allThreads bool) error {
	if len(filters) == 0 {
		return fmt.Errorf("no filter: the launcher sent none")
	}
	for i, raw := range filters {
		f := decodeFilter(raw)
		if len(f) == 0 {
			return fmt.Errorf("filter %d is empty", i)
		}
		prog := unix.SockFprog{Len: uint16(len(f)), Filter: &f[0]}
		flags := uintptr(0)
		if allThreads {
			flags = unix.SECCOMP_FILTER_FLAG_TSYNC
		}
		_, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, flags, uintptr(unsafe.Pointer(&prog)))
		if errno != 0 {
			return fmt.Errorf("seccomp(SET_MODE_FILTER) of filter %d: %w", i, errno)
		}
	}
	return nil
}
