package rootfs

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// writeFileAtomic replaces path with what r holds, so that a reader, or
// the program after a crash, finds the old contents or the new ones, never
// a part: a temporary file with a unique name in path's directory is
// written, fsynced, renamed over path, and the directory is fsynced. On an
// error before the rename the temporary file is removed and path is left as
// it was. A new file gets perm; a replaced one keeps its permission bits.
//
// It is the private copy CONTRIBUTING asks of library packages, written
// like examples/internal/atomicfile (which rootfs may not import), taking a
// reader because pushed objects are streamed, not held in memory.
func writeFileAtomic(path string, r io.Reader, perm fs.FileMode) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	if fi, err := os.Lstat(path); err == nil && fi.Mode().IsRegular() {
		perm = fi.Mode().Perm()
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".tmp-"+base+"-")
	if err != nil {
		return err
	}
	renamed := false
	defer func() {
		if err != nil && !renamed {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = io.Copy(tmp, r); err != nil {
		return err
	}
	if err = tmp.Chmod(perm.Perm()); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	renamed = true
	// The rename is an update of the directory, which the file's fsync
	// does not cover.
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
