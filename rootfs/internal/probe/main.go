//go:build linux

// Command probe tries, from inside a task, the things a sandbox must refuse,
// one per invocation, and prints one line: "<attack>: refused: <error>" or
// "<attack>: DONE <what it did>". It always exits 0 when it could try, so
// that a test reads the verdict from its output. The escape suites of rootfs
// and of the agent copy it into task images (it is static: CGO_ENABLED=0).
//
//	probe caps | nnp | seccomp | setuid0 | syscall32
//	probe mount-cgroup DIR | mount-proc DIR | unshare-user | clone-newuser
//	probe mknod-read PATH | write FILE TEXT | read FILE | write-exe PID
//	probe kill PID | ptrace PID | bpf | perf | keyctl
//	probe connect HOST:PORT | http METHOD URL BODY | http-unix SOCKET METHOD PATH BODY
//	probe forks N | fill FILE MB
package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: probe ATTACK [ARGS]")
		os.Exit(2)
	}
	attack, args := os.Args[1], os.Args[2:]
	arg := func(i int) string {
		if i < len(args) {
			return args[i]
		}
		return ""
	}
	done, err := try(attack, arg)
	if err != nil {
		fmt.Printf("%s: refused: %v\n", attack, err)
		return
	}
	fmt.Printf("%s: DONE %s\n", attack, done)
}

func try(attack string, arg func(int) string) (string, error) {
	switch attack {
	case "caps":
		hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
		var data [2]unix.CapUserData
		if err := unix.Capget(&hdr, &data[0]); err != nil {
			return "", err
		}
		bnd := 0
		for c := 0; c <= unix.CAP_LAST_CAP; c++ {
			if r, _ := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(c), 0, 0, 0); r == 1 {
				bnd++
			}
		}
		return fmt.Sprintf("effective=%x,%x bounding-count=%d uid=%d", data[1].Effective, data[0].Effective, bnd, os.Getuid()), nil
	case "nnp":
		r, err := unix.PrctlRetInt(unix.PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0)
		return fmt.Sprintf("no_new_privs=%d", r), err
	case "seccomp":
		r, err := unix.PrctlRetInt(unix.PR_GET_SECCOMP, 0, 0, 0, 0)
		return fmt.Sprintf("seccomp=%d", r), err
	case "syscall32":
		return getpid32()
	case "setuid0":
		if err := syscall.Setuid(0); err != nil {
			return "", err
		}
		return fmt.Sprintf("uid=%d", os.Getuid()), nil
	case "mount-cgroup":
		os.MkdirAll(arg(0), 0o755)
		return "mounted cgroupfs", unix.Mount("cgroup", arg(0), "cgroup", 0, "pids")
	case "mount-proc":
		os.MkdirAll(arg(0), 0o755)
		return "mounted procfs", unix.Mount("proc", arg(0), "proc", 0, "")
	case "unshare-user":
		runtimeLock()
		return "new user namespace", unix.Unshare(unix.CLONE_NEWUSER)
	case "clone-newuser":
		// A raw clone, as a C program would: the child exits at once.
		r, _, errno := unix.RawSyscall6(unix.SYS_CLONE, uintptr(unix.CLONE_NEWUSER|uintptr(unix.SIGCHLD)), 0, 0, 0, 0, 0)
		if errno != 0 {
			return "", errno
		}
		if r == 0 {
			unix.RawSyscall(unix.SYS_EXIT, 0, 0, 0)
		}
		var ws unix.WaitStatus
		unix.Wait4(int(r), &ws, 0, nil)
		return "cloned into a new user namespace", nil
	case "mknod-read":
		if err := unix.Mknod(arg(0), unix.S_IFBLK|0o600, int(unix.Mkdev(majorMinor(arg(1))))); err != nil {
			return "", err
		}
		f, err := os.Open(arg(0))
		if err != nil {
			return "", err
		}
		defer f.Close()
		buf := make([]byte, 512)
		n, err := f.Read(buf)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("read %d bytes of the raw disk", n), nil
	case "write":
		f, err := os.OpenFile(arg(0), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			return "", err
		}
		_, err = f.WriteString(arg(1))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return "wrote " + arg(0), err
	case "read":
		data, err := os.ReadFile(arg(0))
		return fmt.Sprintf("read %d bytes of %s", len(data), arg(0)), err
	case "write-exe":
		f, err := os.OpenFile("/proc/"+arg(0)+"/exe", os.O_WRONLY, 0)
		if err != nil {
			return "", err
		}
		f.Close()
		return "opened the helper's binary for writing", nil
	case "kill":
		pid, _ := strconv.Atoi(arg(0))
		return fmt.Sprintf("signalled %d", pid), unix.Kill(pid, unix.SIGKILL)
	case "ptrace":
		pid, _ := strconv.Atoi(arg(0))
		runtimeLock()
		if err := unix.PtraceAttach(pid); err != nil {
			return "", err
		}
		unix.PtraceDetach(pid)
		return fmt.Sprintf("attached to %d", pid), nil
	case "bpf":
		_, _, errno := unix.Syscall(unix.SYS_BPF, 0, 0, 0)
		if errno == unix.EPERM || errno == unix.ENOSYS {
			return "", errno
		}
		return fmt.Sprintf("bpf reached the kernel (%v)", errno), nil
	case "perf":
		attr := unix.PerfEventAttr{Type: unix.PERF_TYPE_SOFTWARE, Config: unix.PERF_COUNT_SW_CPU_CLOCK}
		attr.Size = uint32(unsafe.Sizeof(attr))
		fd, err := unix.PerfEventOpen(&attr, -1, 0, -1, 0)
		if err != nil {
			return "", err
		}
		unix.Close(fd)
		return "opened a perf event on every process", nil
	case "keyctl":
		_, err := unix.KeyctlJoinSessionKeyring("probe")
		return "joined a keyring", err
	case "connect":
		c, err := net.DialTimeout("tcp", arg(0), 2*time.Second)
		if err != nil {
			return "", err
		}
		c.Close()
		return "connected to " + arg(0), nil
	case "http", "http-unix":
		// An attacker does not check whose server answers: only what the
		// server asks of the client can keep it out.
		tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
		if attack == "http-unix" {
			socket := arg(0)
			tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, "unix", socket)
			}
			all := arg
			arg = func(i int) string { return all(i + 1) }
		}
		url := arg(1)
		if attack == "http-unix" {
			url = "http://operator" + url
		}
		req, err := http.NewRequest(arg(0), url, strings.NewReader(arg(2)))
		if err != nil {
			return "", err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
		if err != nil {
			return "", err
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		if resp.StatusCode >= 300 {
			return "", fmt.Errorf("HTTP %s: %s", resp.Status, body)
		}
		return "HTTP " + resp.Status, nil
	case "forks":
		n, _ := strconv.Atoi(arg(0))
		started := 0
		var err error
		for ; started < n; started++ {
			var pid int
			pid, err = syscall.ForkExec(os.Args[0], []string{"probe", "sleep"}, &syscall.ProcAttr{})
			if err != nil {
				break
			}
			_ = pid
		}
		if err != nil {
			return "", fmt.Errorf("after %d processes: %w", started, err)
		}
		return fmt.Sprintf("started %d processes", started), nil
	case "sleep":
		select {}
	case "fill":
		mb, _ := strconv.Atoi(arg(1))
		f, err := os.Create(arg(0))
		if err != nil {
			return "", err
		}
		defer f.Close()
		chunk := make([]byte, 1<<20)
		for i := range mb {
			if _, err := f.Write(chunk); err != nil {
				return "", fmt.Errorf("after %d MB: %w", i, err)
			}
		}
		return fmt.Sprintf("wrote %d MB", mb), f.Sync()
	}
	return "", fmt.Errorf("unknown attack %q", attack)
}

func majorMinor(s string) (uint32, uint32) {
	maj, min, _ := strings.Cut(s, ":")
	a, _ := strconv.Atoi(maj)
	b, _ := strconv.Atoi(min)
	return uint32(a), uint32(b)
}
