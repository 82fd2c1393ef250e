//go:build unix

package monitor

import (
	"io/fs"

	"golang.org/x/sys/unix"
)

// readAll reads path into buf (grown as needed) and returns the filled
// part. Kernel files report size 0, so it reads until EOF. It calls
// open/read/close directly: os.Open would also try to register every file
// with the runtime poller (two more system calls, which fail for /proc
// files) and allocate an *os.File.
func readAll(path string, buf []byte) ([]byte, error) {
	buf = buf[:cap(buf)]
	if len(buf) == 0 {
		buf = make([]byte, 4096)
	}
	var fd int
	var err error
	for {
		if fd, err = unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0); err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return buf[:0], &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	n := 0
	for {
		if n == len(buf) {
			buf = append(buf, make([]byte, len(buf))...)
		}
		m, err := unix.Read(fd, buf[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return buf[:0], &fs.PathError{Op: "read", Path: path, Err: err}
		}
		if m == 0 {
			return buf[:n], nil
		}
		n += m
	}
}
