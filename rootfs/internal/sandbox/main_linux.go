package sandbox

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Main runs the helper: it never returns. It execs the command (chroot
// mode), or runs it as a child and exits with it (init mode), or writes a
// Message naming the failed step and exits with status 127.
func Main() {
	// Every per-thread attribute set below (capabilities, no_new_privs,
	// the parent-death signal) is set on this thread, and the command is
	// exec'd or forked from it.
	runtime.LockOSThread()
	status := os.NewFile(StatusFD, "status")
	unix.CloseOnExec(ConfigFD)
	unix.CloseOnExec(StatusFD)
	err := run(status)
	m := Message{Error: err.Error(), Step: "start"}
	var se *stepError
	if errors.As(err, &se) {
		m.Step, m.NotFound = se.step, se.notFound
	}
	send(status, m)
	os.Exit(127)
}

// stepError names the step of entering the sandbox that failed, as runc's
// errors do.
type stepError struct {
	step     string
	err      error
	notFound bool
}

func (e *stepError) Error() string { return e.step + ": " + e.err.Error() }
func (e *stepError) Unwrap() error { return e.err }

func step(name string, err error) error {
	if err == nil {
		return nil
	}
	return &stepError{step: name, err: err}
}

func send(w io.Writer, m Message) {
	w.Write(AppendMessage(nil, m))
}

func run(status *os.File) error {
	pipe := os.NewFile(ConfigFD, "config")
	defer pipe.Close()
	in := bufio.NewReader(pipe)
	cfg, err := readConfig(in)
	if err != nil {
		return err
	}
	// The root is entered while the parent places the helper in the
	// task's cgroups: nothing of the command runs before it is placed.
	if err := enterNamespaces(cfg); err != nil {
		return err
	}
	if err := enterRoot(cfg); err != nil {
		return err
	}
	for _, rl := range cfg.Rlimits {
		if err := unix.Setrlimit(rl.Resource, &unix.Rlimit{Cur: rl.Cur, Max: rl.Max}); err != nil {
			return step("rlimits", fmt.Errorf("setrlimit %d (cur %d, max %d): %w", rl.Resource, rl.Cur, rl.Max, err))
		}
	}
	if err := unix.Chdir(cfg.Dir); err != nil {
		return &stepError{step: "working directory", err: fmt.Errorf("%s: %w", cfg.Dir, err), notFound: errors.Is(err, unix.ENOENT)}
	}
	path, err := lookPath(cfg.Args[0], cfg.Env)
	if err != nil {
		return err
	}
	if err := awaitPlacement(in); err != nil {
		return err
	}
	// The cgroup namespace, made once placed, is rooted at the task's
	// cgroups.
	if cfg.CgroupNS {
		if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
			return step("cgroup namespace", err)
		}
	}
	if err := dropPrivileges(cfg); err != nil {
		return err
	}
	if err := loadSeccomp(cfg.Seccomp, cfg.Init); err != nil {
		return step("seccomp", err)
	}
	// A credential change clears the parent-death signal: set it again.
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(cfg.Pdeathsig), 0, 0, 0); err != nil {
		return step("parent-death signal", err)
	}
	if cfg.Init {
		return initMain(cfg, path, status)
	}
	// Re-parented: the launcher died before the signal was armed. (Not
	// "ppid == 1": the launcher may itself be PID 1, in a container.)
	if os.Getppid() != cfg.Parent {
		return step("exec", errors.New("parent exited before the command started"))
	}
	err = unix.Exec(path, cfg.Args, cfg.Env)
	return &stepError{step: "exec", err: fmt.Errorf("%s: %w", path, err), notFound: errors.Is(err, unix.ENOENT)}
}

// readConfig reads the Config's record, which the parent wrote before
// starting the helper.
func readConfig(in *bufio.Reader) (Config, error) {
	body, err := readRecord(in)
	if err != nil {
		return Config{}, step("config", err)
	}
	cfg, err := decodeConfig(body)
	if err != nil {
		return Config{}, step("config", err)
	}
	if len(cfg.Args) == 0 {
		return Config{}, step("config", errors.New("no command"))
	}
	return cfg, nil
}

// awaitPlacement blocks until the parent has placed the helper in every
// cgroup of the task and closed the config pipe; a byte before EOF means it
// gave up.
func awaitPlacement(in *bufio.Reader) error {
	rest, err := io.ReadAll(in)
	if err != nil {
		return step("cgroup placement", err)
	}
	if len(rest) > 0 {
		return step("cgroup placement", fmt.Errorf("the launcher sent %q instead of closing the pipe", rest))
	}
	return nil
}

// enterNamespaces finishes the UTS and network namespaces the helper was
// cloned into.
func enterNamespaces(cfg Config) error {
	if cfg.Hostname != "" {
		if err := unix.Sethostname([]byte(cfg.Hostname)); err != nil {
			return step("hostname", err)
		}
	}
	if cfg.LoopbackUp {
		if err := loopbackUp(); err != nil {
			return step("network namespace: lo up", err)
		}
	}
	return nil
}

// loopbackUp brings lo up in a new network namespace, so that a task with
// network "none" can still talk to itself.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}

// lookPath finds the command inside the (already entered) root.
func lookPath(name string, env []string) (string, error) {
	notFound := func(format string, args ...any) error {
		return &stepError{step: "command", err: fmt.Errorf(format, args...), notFound: true}
	}
	if strings.Contains(name, "/") {
		if _, err := os.Stat(name); err != nil {
			return "", notFound("%s: %v", name, err)
		}
		return name, nil
	}
	pathEnv := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			pathEnv = v
		}
	}
	for _, dir := range filepath.SplitList(pathEnv) {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", notFound("%q not in PATH %s: executable file not found", name, pathEnv)
}

// waitStatus turns a wait status into an Exit.
func waitStatus(ws syscall.WaitStatus) Exit {
	if ws.Signaled() {
		return Exit{Code: -1, Signal: int(ws.Signal())}
	}
	return Exit{Code: ws.ExitStatus()}
}
