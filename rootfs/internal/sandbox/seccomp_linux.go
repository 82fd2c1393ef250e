package sandbox

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// loadSeccomp installs the filters rootfs assembled, on every thread of
// the helper (TSYNC: when the helper stays as init, its own threads are
// bound too). Loading them needs no_new_privs, which dropPrivileges set.
func loadSeccomp(filters [][]byte) error {
	if len(filters) == 0 {
		return fmt.Errorf("no filter: the launcher sent none")
	}
	for i, raw := range filters {
		f := decodeFilter(raw)
		if len(f) == 0 {
			return fmt.Errorf("filter %d is empty", i)
		}
		prog := unix.SockFprog{Len: uint16(len(f)), Filter: &f[0]}
		_, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&prog)))
		if errno != 0 {
			return fmt.Errorf("seccomp(SET_MODE_FILTER, TSYNC) of filter %d: %w", i, errno)
		}
	}
	return nil
}
