package rootfs

import (
	"fmt"
	"strings"
)

// DefaultCapabilities are the capabilities a command running as root keeps
// when Spec.Capabilities is nil: Docker's default set without CAP_MKNOD
// (no device nodes), CAP_NET_RAW (no raw packets on the host's network),
// CAP_SYS_CHROOT (the classic way out of a chroot), CAP_SETFCAP, CAP_SETPCAP
// and CAP_AUDIT_WRITE. A command running as any other user keeps none.
var DefaultCapabilities = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
	"CAP_SETGID", "CAP_SETUID", "CAP_NET_BIND_SERVICE",
}

// capabilityNumbers maps capability names to their numbers
// (include/uapi/linux/capability.h).
var capabilityNumbers = map[string]int{
	"CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_DAC_READ_SEARCH": 2, "CAP_FOWNER": 3,
	"CAP_FSETID": 4, "CAP_KILL": 5, "CAP_SETGID": 6, "CAP_SETUID": 7, "CAP_SETPCAP": 8,
	"CAP_LINUX_IMMUTABLE": 9, "CAP_NET_BIND_SERVICE": 10, "CAP_NET_BROADCAST": 11,
	"CAP_NET_ADMIN": 12, "CAP_NET_RAW": 13, "CAP_IPC_LOCK": 14, "CAP_IPC_OWNER": 15,
	"CAP_SYS_MODULE": 16, "CAP_SYS_RAWIO": 17, "CAP_SYS_CHROOT": 18, "CAP_SYS_PTRACE": 19,
	"CAP_SYS_PACCT": 20, "CAP_SYS_ADMIN": 21, "CAP_SYS_BOOT": 22, "CAP_SYS_NICE": 23,
	"CAP_SYS_RESOURCE": 24, "CAP_SYS_TIME": 25, "CAP_SYS_TTY_CONFIG": 26, "CAP_MKNOD": 27,
	"CAP_LEASE": 28, "CAP_AUDIT_WRITE": 29, "CAP_AUDIT_CONTROL": 30, "CAP_SETFCAP": 31,
	"CAP_MAC_OVERRIDE": 32, "CAP_MAC_ADMIN": 33, "CAP_SYSLOG": 34, "CAP_WAKE_ALARM": 35,
	"CAP_BLOCK_SUSPEND": 36, "CAP_AUDIT_READ": 37, "CAP_PERFMON": 38, "CAP_BPF": 39,
	"CAP_CHECKPOINT_RESTORE": 40,
}

// capabilities turns names ("CAP_CHOWN" or "chown") into numbers.
func capabilities(names []string) ([]int, error) {
	out := make([]int, 0, len(names))
	for _, n := range names {
		name := strings.ToUpper(n)
		if !strings.HasPrefix(name, "CAP_") {
			name = "CAP_" + name
		}
		c, ok := capabilityNumbers[name]
		if !ok {
			return nil, fmt.Errorf("%w: launch: spec Capabilities %q: unknown capability", ErrInvalid, n)
		}
		out = append(out, c)
	}
	return out, nil
}
