//go:build linux

package rootfs

import "golang.org/x/sys/unix"

func auditArch() (uint32, bool) { return unix.AUDIT_ARCH_X86_64, true }
