package rootfs

import (
	"bufio"
	"context"
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

	"github.com/gleaner/gleaner/rootfs/internal/sandbox"
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
// the exit. (In ModePivotRoot the init forwards SIGTERM to the command, so
// a command that does not handle it dies of it, as outside a namespace.)
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

// Start launches spec.Args inside spec.Root and returns once the command has
// been exec'd (or failed to be). ctx bounds the start only; use Stop to end
// the command.
//
// The launch helper (see Spec.Helper and Init) waits on a pipe until Start
// has placed it in every cgroup of the spec, enters the root, drops every
// privilege the spec does not grant and execs the command (ModeChroot) or
// runs it as its init (ModePivotRoot), so no code of the command runs
// outside its cgroups or with more rights than granted. A failed start
// leaves no process behind.
func Start(ctx context.Context, spec Spec) (*Process, error) {
	cfg, err := spec.config()
	if err != nil {
		return nil, err
	}
	p := &Process{mode: LaunchMode(cfg.Mode), done: make(chan struct{})}
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
			started <- fmt.Errorf("rootfs: launch %q: starting helper %s: %w", spec.Args[0], l.helperName(), err)
			close(p.done)
			return
		}
		p.pid = l.cmd.Process.Pid
		started <- nil
		p.status, p.err = exitStatus(l.cmd.Wait())
		// An init reports how the command ended; its own exit is only a
		// translation of that.
		if exit := l.finalStatus(); exit != nil {
			p.status, p.err = ExitStatus{Code: exit.Code, Signal: syscall.Signal(exit.Signal)}, nil
		}
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

// launchConfig is the helper's configuration and how to clone it.
type launchConfig struct {
	sandbox.Config
	cloneflags, unshareflags uintptr
	userNS                   *IDMap
}

func (s Spec) config() (launchConfig, error) {
	if len(s.Args) == 0 || s.Args[0] == "" {
		return launchConfig{}, fmt.Errorf("%w: launch: spec Args: empty command", ErrInvalid)
	}
	if !filepath.IsAbs(s.Root) {
		return launchConfig{}, fmt.Errorf("%w: launch: spec Root %q: want an absolute path", ErrInvalid, s.Root)
	}
	if fi, err := os.Stat(s.Root); err != nil || !fi.IsDir() {
		return launchConfig{}, fmt.Errorf("%w: launch: root %s", ErrNotFound, s.Root)
	}
	dir := s.Dir
	if dir == "" {
		dir = "/"
	}
	if !filepath.IsAbs(dir) {
		return launchConfig{}, fmt.Errorf("%w: launch: spec Dir %q: want an absolute path inside the root", ErrInvalid, s.Dir)
	}
	for _, f := range s.CgroupProcsFiles {
		if !filepath.IsAbs(f) || filepath.Base(f) != "cgroup.procs" {
			return launchConfig{}, fmt.Errorf("%w: launch: spec CgroupProcsFiles %q: want an absolute path to cgroup.procs", ErrInvalid, f)
		}
	}
	capNames := s.Capabilities
	if capNames == nil {
		capNames = DefaultCapabilities
	}
	caps, err := capabilities(capNames)
	if err != nil {
		return launchConfig{}, err
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
			return launchConfig{}, fmt.Errorf("%w: launch: mode %s: no mount/PID namespaces or no CAP_SYS_ADMIN", ErrNotSupported, mode)
		}
	default:
		return launchConfig{}, fmt.Errorf("%w: launch: spec Mode %d", ErrInvalid, int(s.Mode))
	}
	sig := s.ParentDeathSignal
	if sig == 0 {
		sig = unix.SIGKILL
	}
	filters, err := seccompFilters()
	if err != nil {
		return launchConfig{}, fmt.Errorf("%w: launch: %w", ErrNotSupported, err)
	}
	lastCap, err := lastCapability()
	if err != nil {
		return launchConfig{}, fmt.Errorf("%w: launch: %w", ErrNotSupported, err)
	}
	lc := launchConfig{Config: sandbox.Config{Root: s.Root, Mode: int(mode), Args: s.Args, Env: s.Env, Dir: dir,
		Capabilities: caps, LastCapability: lastCap, Pdeathsig: int(sig), Parent: os.Getpid(), Seccomp: filters,
		MaskedPaths: MaskedPaths, ReadonlyPaths: ReadonlyPaths}}
	for _, d := range Devices {
		lc.Devices = append(lc.Devices, sandbox.Device{Name: d.Name, Major: d.Major, Minor: d.Minor})
	}
	if c := s.Credential; c != nil {
		lc.UID, lc.GID, lc.Groups = c.UID, c.GID, c.Groups
	}
	for _, rl := range s.Rlimits {
		lc.Rlimits = append(lc.Rlimits, sandbox.Rlimit{Resource: rl.Resource, Cur: rl.Cur, Max: rl.Max})
	}
	switch s.Network {
	case NetworkHost:
	case NetworkNone:
		if !hasNamespace("net") {
			return launchConfig{}, fmt.Errorf("%w: launch: network %q: no network namespaces", ErrNotSupported, s.Network)
		}
		lc.cloneflags |= unix.CLONE_NEWNET
		lc.LoopbackUp = true
	default:
		return launchConfig{}, fmt.Errorf("%w: launch: spec Network %q: want %q (host) or %q", ErrInvalid, s.Network, NetworkHost, NetworkNone)
	}
	if mode == ModePivotRoot {
		// Cloneflags for the PID, IPC and UTS namespaces (the helper
		// becomes PID 1); Unshareflags for the mount namespace, because
		// only then does Go make every mount private before the helper
		// runs. The cgroup namespace is made by the helper once placed.
		lc.cloneflags |= unix.CLONE_NEWPID
		lc.unshareflags = unix.CLONE_NEWNS
		for ns, flag := range map[string]uintptr{"ipc": unix.CLONE_NEWIPC, "uts": unix.CLONE_NEWUTS} {
			if hasNamespace(ns) {
				lc.cloneflags |= flag
			}
		}
		if hasNamespace("uts") {
			lc.Hostname = s.Hostname
			if lc.Hostname == "" {
				lc.Hostname = "gleaner"
			}
		}
		lc.CgroupNS = hasNamespace("cgroup")
		lc.Init = true
	}
	if m := s.UserNamespace; m != nil {
		switch {
		case mode != ModePivotRoot:
			return launchConfig{}, fmt.Errorf("rootfs: launch: spec UserNamespace: %w: needs ModePivotRoot (mode %s)", ErrInvalid, mode)
		case lc.UID != 0 || lc.GID != 0 || len(lc.Groups) > 0:
			return launchConfig{}, fmt.Errorf("rootfs: launch: spec UserNamespace with Credential %d:%d: %w: the command is root inside", lc.UID, lc.GID, ErrInvalid)
		case m.HostUID == 0:
			return launchConfig{}, fmt.Errorf("rootfs: launch: spec UserNamespace HostUID 0: %w: want an unprivileged host user", ErrInvalid)
		case !hasNamespace("user"):
			return launchConfig{}, fmt.Errorf("rootfs: launch: spec UserNamespace: %w: no user namespaces", ErrNotSupported)
		}
		lc.cloneflags |= unix.CLONE_NEWUSER
		lc.userNS = m
		lc.UserNS = true
	}
	return lc, nil
}

// lastCapability is the highest capability number the kernel knows, read
// once for every launch's helper.
var lastCapability = sync.OnceValues(func() (int, error) {
	data, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		return 0, fmt.Errorf("highest capability: %w", err)
	}
	return strconv.Atoi(strings.TrimSpace(string(data)))
})

var pivotOnce = sync.OnceValue(probePivotRoot)

// PivotRootSupported reports whether ModePivotRoot can be used: the kernel
// has mount and PID namespaces and this process has CAP_SYS_ADMIN.
func PivotRootSupported() bool { return pivotOnce() }

func probePivotRoot() bool {
	if !hasNamespace("mnt") || !hasNamespace("pid") {
		return false
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

// hasNamespace reports whether the kernel has the namespace type ns ("net",
// "cgroup", ...).
func hasNamespace(ns string) bool {
	_, err := os.Stat("/proc/self/ns/" + ns)
	return err == nil
}

// launcher holds the helper command and the pipes of one Start.
type launcher struct {
	cmd            *exec.Cmd
	cfgR, cfgW     *os.File // the config, then EOF once the child is placed
	statR, statW   *os.File // the helper's messages; EOF without one means exec'd
	stdout, stderr *os.File
	childEnds      []*os.File
	procs          []string // cgroup v1 cgroup.procs files

	status     *bufio.Reader
	statusDone chan struct{} // closed once the status pipe is read to its end
	closeOnce  sync.Once
	exit       *sandbox.Exit // set before statusDone is closed
}

// helper returns the program to run as the helper.
func helper(spec Spec) (string, error) {
	if spec.Helper != "" {
		return spec.Helper, nil
	}
	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	if next := filepath.Join(filepath.Dir(self), HelperName); isExecutable(next) {
		return next, nil
	}
	return self, nil
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

func (l *launcher) helperName() string {
	if l == nil || l.cmd == nil {
		return ""
	}
	return l.cmd.Path
}

func newLauncher(spec Spec, cfg launchConfig) (l *launcher, err error) {
	l = &launcher{procs: spec.CgroupProcsFiles, statusDone: make(chan struct{})}
	defer func() {
		if err != nil {
			l.closeChildEnds()
			l.closeParentEnds()
		}
	}()
	path, err := helper(spec)
	if err != nil {
		return l, err
	}
	if l.cfgR, l.cfgW, err = os.Pipe(); err != nil {
		return l, err
	}
	if l.statR, l.statW, err = os.Pipe(); err != nil {
		return l, err
	}
	l.status = bufio.NewReader(l.statR)
	l.childEnds = []*os.File{l.cfgR, l.statW}
	// The config waits in the pipe, so the helper reads it at once and
	// enters the root while the parent places it in its cgroups; closing
	// the pipe then releases the command. (The pipe holds 64 KiB; a config
	// is a few.)
	if _, err := l.cfgW.Write(sandbox.AppendConfig(nil, &cfg.Config)); err != nil {
		return l, fmt.Errorf("sending the config to the helper: %w", err)
	}
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
	l.cmd = &exec.Cmd{
		Path: path,
		Args: []string{HelperName},
		// One P: the helper runs one goroutine at a time anyway, and
		// each further P is a thread to start, and for an init to switch
		// user on.
		Env:        []string{sandbox.Env + "=1", "GOMAXPROCS=1"},
		Stdout:     l.stdout,
		Stderr:     l.stderr,
		ExtraFiles: []*os.File{l.cfgR, l.statW}, // fds 3 and 4
		SysProcAttr: &syscall.SysProcAttr{
			Setpgid:      true,
			Pdeathsig:    syscall.Signal(cfg.Pdeathsig),
			Cloneflags:   cfg.cloneflags,
			Unshareflags: cfg.unshareflags,
		},
	}
	if m := cfg.userNS; m != nil {
		// Go writes the maps between clone and exec.
		l.cmd.SysProcAttr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: int(m.HostUID), Size: 1}}
		l.cmd.SysProcAttr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: int(m.HostGID), Size: 1}}
		// setgroups is allowed, so that the launcher's own supplementary
		// groups (root's) do not follow the task into its namespace: only
		// a map written by an unprivileged user must deny it, and with
		// one group mapped there is nothing else to join.
		l.cmd.SysProcAttr.GidMappingsEnableSetgroups = true
		// The helper is cloned as the host's root, which the map leaves
		// out: it becomes the mapped root (the host user) with no
		// supplementary groups before exec, and so gets root's
		// capabilities within its namespace only.
		l.cmd.SysProcAttr.Credential = &syscall.Credential{Uid: 0, Gid: 0}
	} else {
		// The helper starts with the command's group and groups (Go sets
		// them between fork and exec) and switches only its user: an
		// init switches every thread it has by then, and each switch
		// stops them all.
		l.cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(os.Getuid()), Gid: cfg.GID, Groups: cfg.Groups}
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
	if l.cfgW != nil {
		l.cfgW.Close()
	}
	l.doneReading()
}

// doneReading closes the status pipe and marks the final status known.
func (l *launcher) doneReading() {
	l.closeOnce.Do(func() {
		if l.statR != nil {
			l.statR.Close()
		}
		close(l.statusDone)
	})
}

// finalStatus waits until the status pipe is read and returns the exit an
// init reported, if any.
func (l *launcher) finalStatus() *sandbox.Exit {
	<-l.statusDone
	return l.exit
}

// readMessage reads the helper's next message; io.EOF when there is none.
func (l *launcher) readMessage() (sandbox.Message, error) {
	return sandbox.ReadMessage(l.status)
}

// handshake places the child in its cgroups, releases it with the config
// and waits until it has exec'd (or started) the command or reported why it
// could not.
func (l *launcher) handshake(ctx context.Context, pid int, cfg launchConfig) error {
	name := cfg.Args[0]
	fail := func(err error) error {
		l.closeParentEnds()
		return err
	}
	for _, procs := range l.procs {
		if err := writeProcs(procs, pid); err != nil {
			return fail(fmt.Errorf("rootfs: launch %q: placing pid %d in cgroup %s: %w", name, pid, filepath.Dir(procs), err))
		}
	}
	// EOF on the config pipe: placed, the helper may run the command.
	l.cfgW.Close()
	l.cfgW = nil
	// Cancelling ctx unblocks the read.
	stop := context.AfterFunc(ctx, func() { l.statR.SetReadDeadline(time.Now()) })
	m, err := l.readMessage()
	if stop() {
		l.statR.SetReadDeadline(time.Time{})
	}
	switch {
	case ctx.Err() != nil:
		return fail(fmt.Errorf("rootfs: launch %q: %w", name, ctx.Err()))
	case errors.Is(err, io.EOF) && !cfg.Init:
		// The status pipe is close-on-exec: EOF means the command runs.
		l.doneReading()
		return nil
	case errors.Is(err, io.EOF):
		return fail(fmt.Errorf("rootfs: launch %q in root %s: the helper %s exited without starting the command", name, cfg.Root, l.helperName()))
	case err != nil:
		return fail(fmt.Errorf("rootfs: launch %q: reading helper status: %w", name, err))
	case m.Error != "":
		err := fmt.Errorf("rootfs: launch %q in root %s: %s", name, cfg.Root, m.Error)
		if m.NotFound {
			err = fmt.Errorf("%w: %w", err, ErrNotFound)
		}
		return fail(err)
	case m.Started == 0:
		return fail(fmt.Errorf("rootfs: launch %q: unexpected message from the helper: %+v", name, m))
	}
	// The init runs the command: its last message says how it ended.
	go func() {
		defer l.doneReading()
		for {
			m, err := l.readMessage()
			if err != nil {
				return
			}
			if m.Exited != nil {
				l.exit = m.Exited
			}
		}
	}()
	return nil
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
