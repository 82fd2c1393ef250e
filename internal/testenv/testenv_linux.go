//go:build linux

package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"

	"golang.org/x/sys/unix"
)

// probeUserNamespaces runs `true` in a new user namespace. Trying is the only
// reliable test: sysctls, LSMs and seccomp profiles can each forbid it.
func probeUserNamespaces() error {
	return runInNamespace(&syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}},
	})
}

// probeMountNamespace runs `true` in a new mount namespace.
func probeMountNamespace() error {
	return runInNamespace(&syscall.SysProcAttr{
		Cloneflags:   syscall.CLONE_NEWNS,
		Unshareflags: syscall.CLONE_NEWNS,
	})
}

func runInNamespace(attr *syscall.SysProcAttr) error {
	path, err := exec.LookPath("true")
	if err != nil {
		return fmt.Errorf("no `true` binary to probe with: %w", err)
	}
	cmd := exec.Command(path)
	cmd.SysProcAttr = attr
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%w %s", err, out)
	}
	return nil
}

func onTmpfs(path string) bool {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return false
	}
	return st.Type == unix.TMPFS_MAGIC
}
