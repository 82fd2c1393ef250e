package rootfs

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Process is a command launched by Start.
type Process struct {
	pid  int
	mode LaunchMode
	done chan struct{}
	// Set before done is closed.
	status ExitStatus
	err    error
}

// Pid returns the command's process ID as seen from the caller.
func (p *Process) Pid() int { return p.pid }

// Mode returns the mode the command was launched in.
func (p *Process) Mode() LaunchMode { return p.mode }

// Done is closed when the command has exited and been reaped.
func (p *Process) Done() <-chan struct{} { return p.done }

// Wait waits for the command to exit, or for ctx to end (the command keeps
// running then).
func (p *Process) Wait(ctx context.Context) (ExitStatus, error) {
	select {
	case <-p.done:
		return p.status, p.err
	case <-ctx.Done():
		return ExitStatus{}, ctx.Err()
	}
}

// Signal sends sig to the command's process group.
func (p *Process) Signal(sig syscall.Signal) error {
	select {
	case <-p.done:
		return fmt.Errorf("rootfs: signal pid %d: %w", p.pid, os.ErrProcessDone)
	default:
	}
	if err := unix.Kill(-p.pid, sig); err != nil {
		if err := unix.Kill(p.pid, sig); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("rootfs: signal pid %d: %w", p.pid, err)
		}
	}
	return nil
}

// Stop sends SIGTERM, waits up to grace, then sends SIGKILL and waits for
// the exit. (A command that is PID 1 of its namespace ignores SIGTERM unless
// it handles it, so it is killed after the grace period.)
func (p *Process) Stop(ctx context.Context, grace time.Duration) (ExitStatus, error) {
	if err := p.Signal(unix.SIGTERM); errors.Is(err, os.ErrProcessDone) {
		return p.Wait(ctx)
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.done:
		return p.status, p.err
	case <-t.C:
	case <-ctx.Done():
	}
	p.Signal(unix.SIGKILL)
	select {
	case <-p.done:
		return p.status, p.err
	case <-ctx.Done():
		return ExitStatus{}, ctx.Err()
	}
}

// Init environment: its presence tells Init that this process is the helper.
const initEnv = "_GLEANER_ROOTFS_INIT"

// Start launches spec.Args inside spec.Root and returns once the command has
// been exec'd (or failed to be). ctx bounds the start only; use Stop to end
// the command.
//
// The running program is re-executed as a small helper (see Init): it waits
// on a pipe until Start has placed it in every cgroup of the spec, enters
// the root and execs the command, so no code of the command runs outside
// its cgroups. A failed start leaves no process behind.
func Start(ctx context.Context, spec Spec) (*Process, error) {
	cfg, err := spec.config()
	if err != nil {
		return nil, err
	}
	p := &Process{mode: cfg.Mode, done: make(chan struct{})}
	started := make(chan error, 1)
	var l *launcher
	// The owner goroutine forks and reaps the helper on one locked thread:
	// the parent-death signal fires when the forking thread exits, so that
	// thread must live as long as the child.
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		var err error
		l, err = newLauncher(spec, cfg)
		if err == nil {
			err = l.cmd.Start()
			l.closeChildEnds()
		}
		if err != nil {
			if l != nil {
				l.closeParentEnds()
			}
			started <- fmt.Errorf("rootfs: launch %q: starting helper: %w", spec.Args[0], err)
			close(p.done)
			return
		}
		p.pid = l.cmd.Process.Pid
		started <- nil
		p.status, p.err = exitStatus(l.cmd.Wait())
		close(p.done)
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	if err := l.handshake(ctx, p.pid, cfg); err != nil {
		unix.Kill(p.pid, unix.SIGKILL)
		<-p.done
		return nil, err
	}
	return p, nil
}

func exitStatus(err error) (ExitStatus, error) {
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return ExitStatus{}, err
	}
	var ws syscall.WaitStatus
	if ee != nil {
		ws, _ = ee.Sys().(syscall.WaitStatus)
	}
	if ws.Signaled() {
		return ExitStatus{Code: -1, Signal: ws.Signal()}, nil
	}
	return ExitStatus{Code: ws.ExitStatus()}, nil
}

// initConfig is what the helper receives on its config pipe.
type initConfig struct {
	Root      string
	Mode      LaunchMode
	Args      []string
	Env       []string
	Dir       string
	Cred      *Credential
	Rlimits   []Rlimit
	Pdeathsig syscall.Signal
	Parent    int // the launcher's PID, to notice that it died (chroot mode)
}

// initError is what the helper sends back when it cannot exec.
type initError struct {
	Msg      string
	NotFound bool
}

func (s Spec) config() (initConfig, error) {
	if len(s.Args) == 0 || s.Args[0] == "" {
		return initConfig{}, fmt.Errorf("rootfs: launch: spec Args: %w: empty command", ErrInvalid)
	}
	if !filepath.IsAbs(s.Root) {
		return initConfig{}, fmt.Errorf("rootfs: launch: spec Root %q: %w: want an absolute path", s.Root, ErrInvalid)
	}
	if fi, err := os.Stat(s.Root); err != nil || !fi.IsDir() {
		return initConfig{}, fmt.Errorf("rootfs: launch: root %s: %w", s.Root, ErrNotFound)
	}
	dir := s.Dir
	if dir == "" {
		dir = "/"
	}
	if !filepath.IsAbs(dir) {
		return initConfig{}, fmt.Errorf("rootfs: launch: spec Dir %q: %w: want an absolute path inside the root", s.Dir, ErrInvalid)
	}
	for _, f := range s.CgroupProcsFiles {
		if !filepath.IsAbs(f) || filepath.Base(f) != "cgroup.procs" {
			return initConfig{}, fmt.Errorf("rootfs: launch: spec CgroupProcsFiles %q: %w: want an absolute path to cgroup.procs", f, ErrInvalid)
		}
	}
	mode := s.Mode
	switch mode {
	case ModeAuto:
		mode = ModeChroot
		if PivotRootSupported() {
			mode = ModePivotRoot
		}
	case ModeChroot:
	case ModePivotRoot:
		if !PivotRootSupported() {
			return initConfig{}, fmt.Errorf("rootfs: launch: mode %s: %w: no mount/PID namespaces or no CAP_SYS_ADMIN", mode, ErrNotSupported)
		}
	default:
		return initConfig{}, fmt.Errorf("rootfs: launch: spec Mode %d: %w", int(s.Mode), ErrInvalid)
	}
	sig := s.ParentDeathSignal
	if sig == 0 {
		sig = unix.SIGKILL
	}
	return initConfig{Root: s.Root, Mode: mode, Args: s.Args, Env: s.Env, Dir: dir,
		Cred: s.Credential, Rlimits: s.Rlimits, Pdeathsig: sig, Parent: os.Getpid()}, nil
}

var pivotOnce = sync.OnceValue(probePivotRoot)

// PivotRootSupported reports whether ModePivotRoot can be used: the kernel
// has mount and PID namespaces and this process has CAP_SYS_ADMIN.
func PivotRootSupported() bool { return pivotOnce() }

func probePivotRoot() bool {
	for _, ns := range []string{"/proc/self/ns/mnt", "/proc/self/ns/pid"} {
		if _, err := os.Stat(ns); err != nil {
			return false
		}
	}
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err == nil && caps&(1<<unix.CAP_SYS_ADMIN) != 0
		}
	}
	return false
}

// launcher holds the helper command and the pipes of one Start.
type launcher struct {
	cmd            *exec.Cmd
	cfgR, cfgW     *os.File // parent writes the config once the child is placed
	errR, errW     *os.File // child reports a failure to exec; EOF means exec'd
	stdout, stderr *os.File
	childEnds      []*os.File
	procs          []string // cgroup v1 cgroup.procs files
}

func newLauncher(spec Spec, cfg initConfig) (l *launcher, err error) {
	l = &launcher{procs: spec.CgroupProcsFiles}
	defer func() {
		if err != nil {
			l.closeChildEnds()
			l.closeParentEnds()
		}
	}()
	if l.cfgR, l.cfgW, err = os.Pipe(); err != nil {
		return l, err
	}
	if l.errR, l.errW, err = os.Pipe(); err != nil {
		return l, err
	}
	l.childEnds = []*os.File{l.cfgR, l.errW}
	if l.stdout = spec.StdoutFile; l.stdout == nil {
		if l.stdout, err = openOutput(spec.Stdout); err != nil {
			return l, err
		}
		l.childEnds = append(l.childEnds, l.stdout)
	}
	if l.stderr = spec.StderrFile; l.stderr == nil {
		if l.stderr, err = openOutput(spec.Stderr); err != nil {
			return l, err
		}
		l.childEnds = append(l.childEnds, l.stderr)
	}
	self, err := os.Executable()
	if err != nil {
		return l, err
	}
	l.cmd = &exec.Cmd{
		Path:       self,
		Args:       []string{"rootfs-init"},
		Env:        []string{initEnv + "=1"},
		Stdout:     l.stdout,
		Stderr:     l.stderr,
		ExtraFiles: []*os.File{l.cfgR, l.errW}, // fds 3 and 4
		SysProcAttr: &syscall.SysProcAttr{
			Setpgid:   true,
			Pdeathsig: cfg.Pdeathsig,
		},
	}
	if cfg.Mode == ModePivotRoot {
		// Cloneflags for the PID namespace (the helper becomes PID 1);
		// Unshareflags for the mount namespace, because only then does Go
		// make every mount private before the helper runs.
		l.cmd.SysProcAttr.Cloneflags = unix.CLONE_NEWPID
		l.cmd.SysProcAttr.Unshareflags = unix.CLONE_NEWNS
	}
	if spec.CgroupDir != nil {
		l.cmd.SysProcAttr.UseCgroupFD = true
		l.cmd.SysProcAttr.CgroupFD = int(spec.CgroupDir.Fd())
	}
	return l, nil
}

func openOutput(path string) (*os.File, error) {
	if path == "" {
		return os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	}
	// O_NOFOLLOW: the file usually sits in a task's sandbox, where a link
	// must not turn the task's output into a write to a host file.
	return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND|unix.O_NOFOLLOW, 0o640)
}

func (l *launcher) closeChildEnds() {
	for _, f := range l.childEnds {
		f.Close()
	}
	l.childEnds = nil
}

func (l *launcher) closeParentEnds() {
	for _, f := range []*os.File{l.cfgW, l.errR} {
		if f != nil {
			f.Close()
		}
	}
}

// handshake places the child in its cgroups, releases it with the config
// and waits until it has exec'd the command or reported why it could not.
func (l *launcher) handshake(ctx context.Context, pid int, cfg initConfig) error {
	defer l.closeParentEnds()
	name := cfg.Args[0]
	for _, procs := range l.procs {
		if err := writeProcs(procs, pid); err != nil {
			return fmt.Errorf("rootfs: launch %q: placing pid %d in cgroup %s: %w", name, pid, filepath.Dir(procs), err)
		}
	}
	data, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	if _, err := l.cfgW.Write(data); err != nil {
		return fmt.Errorf("rootfs: launch %q: sending config to helper: %w", name, err)
	}
	l.cfgW.Close()
	l.cfgW = nil
	// The helper's error pipe is close-on-exec: EOF without a message means
	// the command is running. Cancelling ctx closes the pipe to unblock.
	stop := context.AfterFunc(ctx, func() { l.errR.SetReadDeadline(time.Now()) })
	defer stop()
	msg, err := io.ReadAll(l.errR)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("rootfs: launch %q: %w", name, ctx.Err())
		}
		return fmt.Errorf("rootfs: launch %q: reading helper status: %w", name, err)
	}
	if len(msg) == 0 {
		return nil
	}
	var ie initError
	if err := json.Unmarshal(msg, &ie); err != nil {
		return fmt.Errorf("rootfs: launch %q in %s: helper failed: %s", name, cfg.Root, msg)
	}
	if ie.NotFound {
		return fmt.Errorf("rootfs: launch %q in root %s: %s: %w", name, cfg.Root, ie.Msg, ErrNotFound)
	}
	return fmt.Errorf("rootfs: launch %q in root %s: %s", name, cfg.Root, ie.Msg)
}

func writeProcs(path string, pid int) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(strconv.Itoa(pid))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
