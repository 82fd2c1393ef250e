package sandbox

import (
	"errors"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

// forwarded are the signals the init passes on to the command's process
// group. The kernel drops signals to a namespace's PID 1 that it does not
// handle, so without an init a task would ignore SIGTERM and every stop
// would wait out its grace and end in SIGKILL.
var forwarded = []os.Signal{unix.SIGTERM, unix.SIGINT, unix.SIGHUP, unix.SIGQUIT,
	unix.SIGUSR1, unix.SIGUSR2, unix.SIGWINCH, unix.SIGCONT}

// initMain runs the command as a child in its own process group and stays
// as PID 1 of the namespace, as tini and docker --init do: it forwards
// signals to the command's group, reaps every child (orphans of the task
// are re-parented to it), reports the command's exit on status and exits
// with it. Everything the command inherits (user, capabilities, seccomp,
// no_new_privs) was already applied to this thread.
func initMain(cfg Config, path string, status *os.File) error {
	sigs := make(chan os.Signal, 32)
	signal.Notify(sigs, forwarded...)
	pid, err := syscall.ForkExec(path, cfg.Args, &syscall.ProcAttr{
		Env:   cfg.Env,
		Files: []uintptr{0, 1, 2},
		Sys:   &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL},
	})
	if err != nil {
		return &stepError{step: "exec", err: err, notFound: errors.Is(err, unix.ENOENT)}
	}
	send(status, Message{Started: pid})
	go func() {
		for s := range sigs {
			// To the group: children the command started get it too, as
			// they would from a terminal.
			if err := unix.Kill(-pid, s.(syscall.Signal)); err != nil {
				unix.Kill(pid, s.(syscall.Signal))
			}
		}
	}()
	// Reap every child, the command's orphans included, until the command
	// itself has ended.
	for {
		var ws syscall.WaitStatus
		got, err := syscall.Wait4(-1, &ws, 0, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return step("wait", err) // no child left: cannot happen while the command runs
		}
		if got == pid {
			exit := waitStatus(ws)
			send(status, Message{Exited: &exit})
			os.Exit(exitCode(exit))
		}
	}
}

// exitCode is the init's own exit status for how the command ended: its
// code, or 128+signal as a shell reports it.
func exitCode(e Exit) int {
	if e.Signal != 0 {
		return 128 + e.Signal
	}
	return e.Code
}
