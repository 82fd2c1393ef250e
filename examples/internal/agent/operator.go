//go:build linux

package agent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// OperatorURL is the base URL of requests to the operator socket; the host
// is not looked at (OperatorClient dials the socket):
//
//	curl --unix-socket <dir>/operator/agent.sock http://agent/reservation
const OperatorURL = "http://agent"

// maxSocketPath is how long a path bind(2) takes (sun_path, with its NUL).
const maxSocketPath = 107

// listenOperator listens on the operator socket: a unix socket in a
// directory of its own with mode 0700, itself 0600, whose connections are
// taken only from root and from the agent's own user (SO_PEERCRED). Tasks
// run as other users in their own root file systems and cannot reach it.
func listenOperator(path string) (net.Listener, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, err
	}
	// A socket left by an agent that did not stop cleanly.
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&fs.ModeSocket != 0 {
		if err := os.Remove(path); err != nil {
			return nil, err
		}
	}
	var ln net.Listener
	err := shortPath(path, func(short string) error {
		var err error
		ln, err = net.Listen("unix", short)
		return err
	})
	if err != nil {
		return nil, err
	}
	ul := ln.(*net.UnixListener)
	// Go would unlink the name it bound, which may be the short one.
	ul.SetUnlinkOnClose(false)
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	return &peerListener{UnixListener: ul, path: path, uid: os.Getuid()}, nil
}

// shortPath calls fn with a name of path short enough for a socket
// address: path itself, or /proc/self/fd/N/<base> through an open
// descriptor of its directory (test directories are long).
func shortPath(path string, fn func(short string) error) error {
	if len(path) <= maxSocketPath {
		return fn(path)
	}
	dir, name := filepath.Split(path)
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return fn(fmt.Sprintf("/proc/self/fd/%d/%s", d.Fd(), name))
}

// peerListener accepts connections only from root and from uid.
type peerListener struct {
	*net.UnixListener
	path string
	uid  int
}

func (l *peerListener) Accept() (net.Conn, error) {
	for {
		c, err := l.UnixListener.AcceptUnix()
		if err != nil {
			return nil, err
		}
		if uid, err := peerUID(c); err == nil && (uid == 0 || uid == l.uid) {
			return c, nil
		}
		c.Close() // another user: a task, or anyone else on the machine
	}
}

func (l *peerListener) Close() error {
	err := l.UnixListener.Close()
	if rerr := os.Remove(l.path); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) && err == nil {
		err = rerr
	}
	return err
}

func peerUID(c *net.UnixConn) (int, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return -1, err
	}
	var cred *unix.Ucred
	var serr error
	if err := raw.Control(func(fd uintptr) {
		cred, serr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return -1, err
	}
	if serr != nil {
		return -1, serr
	}
	return int(cred.Uid), nil
}

// OperatorClient returns an HTTP client of the agent's operator socket at
// path; use it with OperatorURL.
func OperatorClient(path string) *http.Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var c net.Conn
			err := shortPath(path, func(short string) error {
				var err error
				c, err = (&net.Dialer{}).DialContext(ctx, "unix", short)
				return err
			})
			return c, err
		},
		DisableKeepAlives: true,
	}
	return &http.Client{Transport: tr}
}
