//go:build linux

package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"unsafe"

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

var (
	exec32Once   sync.Once
	exec32Cached exec32Result
)

// probeExec32Once builds and runs the 32-bit probe the first time it is
// called in this process and returns that result afterwards.
func probeExec32Once() exec32Result {
	exec32Once.Do(func() { exec32Cached = probeExec32() })
	return exec32Cached
}

func probeExec32() exec32Result {
	if runtime.GOARCH != "amd64" && runtime.GOARCH != "386" {
		return exec32Result{unsupported: "a " + runtime.GOARCH + " CPU cannot run them"}
	}
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		return exec32Result{buildErr: err}
	}
	dir, err := os.MkdirTemp("", "gleaner-testenv-exec32-")
	if err != nil {
		return exec32Result{buildErr: err}
	}
	defer os.RemoveAll(dir)
	src, prog := filepath.Join(dir, "probe.c"), filepath.Join(dir, "probe")
	if err := os.WriteFile(src, []byte(exec32Source), 0o600); err != nil {
		return exec32Result{buildErr: err}
	}
	if out, err := exec.Command(gcc, "-m32", "-o", prog, src).CombinedOutput(); err != nil {
		return exec32Result{buildErr: fmt.Errorf("%w: %s", err, out)}
	}
	out, err := exec.Command(prog).CombinedOutput()
	switch {
	case errors.Is(err, syscall.ENOEXEC):
		return exec32Result{runErr: fmt.Errorf("%w: %v", errENOEXEC, err)}
	case err != nil || string(out) != exec32Output:
		return exec32Result{runErr: describeRun(out, err)}
	}
	return exec32Result{}
}

// probeNetworkNamespace runs `true` in a new network namespace.
func probeNetworkNamespace() error {
	return runInNamespace(&syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET})
}

// probeCgroupNamespace runs `true` in a new cgroup namespace.
func probeCgroupNamespace() error {
	return runInNamespace(&syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWCGROUP})
}

// probeSeccomp asks the kernel whether it has seccomp filters: prctl
// PR_GET_SECCOMP fails with EINVAL on a kernel built without seccomp, and
// the seccomp(2) call SECCOMP_GET_ACTION_AVAIL answers for filter mode.
func probeSeccomp() error {
	if _, err := unix.PrctlRetInt(unix.PR_GET_SECCOMP, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_GET_SECCOMP): %w", err)
	}
	action := uint32(unix.SECCOMP_RET_ERRNO)
	if _, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_GET_ACTION_AVAIL, 0, uintptr(unsafe.Pointer(&action))); errno != 0 {
		return fmt.Errorf("seccomp(SECCOMP_GET_ACTION_AVAIL): %w", errno)
	}
	return nil
}
