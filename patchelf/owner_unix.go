//go:build unix

package patchelf

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
)

// keepOwner gives tmp the owner and group of the file it replaces, as
// patchelf's in-place write keeps them. Only a privileged caller can give a
// file away, so a refusal is not an error: the caller owns the result then.
func keepOwner(tmp *os.File, replaced string) error {
	fi, err := os.Stat(replaced)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if err := tmp.Chown(int(st.Uid), int(st.Gid)); err != nil && !errors.Is(err, fs.ErrPermission) {
		return err
	}
	return nil
}
