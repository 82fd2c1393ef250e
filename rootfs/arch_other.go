//go:build linux && !amd64

package rootfs

func auditArch() (uint32, bool) { return 0, false }
