//go:build unix

package auth

import (
	"io/fs"
	"syscall"
)

// inode returns the file's device and inode, so that a file replaced by
// rename within the same second and with the same size is still noticed.
func inode(fi fs.FileInfo) any {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return [2]uint64{uint64(st.Dev), uint64(st.Ino)}
	}
	return nil
}
