// Package atomicfile replaces a file so that a reader, or the program after a
// crash, finds either the old contents or the new ones, never a part.
//
// It is the module's one atomic write: every example program that writes a
// file it may later read back, or that another program reads (agent state,
// app definitions, configuration, plots, screenshots), writes it with
// WriteFile, and the library packages (rootfs's pushed objects and bundles,
// patchelf's Save) with Write. It lives under the module's internal/, as
// internal/cgroupstat does, so that a library package that imports it is
// still usable alone.
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// tempPrefix starts the name of every temporary file WriteFile makes, so
// that IsTemp can tell one a crash left behind.
const tempPrefix = ".tmp-"

// WriteFile writes data to path through a temporary file with a unique name
// in path's directory: the file is written, fsynced, renamed over path, and
// then the directory is fsynced, so the new contents survive a crash once
// WriteFile returns. On an error before the rename the temporary file is
// removed and path is left as it was; an error from the directory's fsync
// means the new contents are in place but may not survive a crash.
//
// A new file gets exactly perm (the umask does not apply); a file that is
// replaced keeps its permission bits, as with os.WriteFile. A symbolic link
// at path is replaced, not followed.
func WriteFile(path string, data []byte, perm fs.FileMode) error {
	err := Write(path, perm, func(f *os.File) error {
		_, err := f.Write(data)
		return err
	})
	if err != nil {
		return fmt.Errorf("atomicfile: write %s: %w", path, err)
	}
	return nil
}

// Write is WriteFile for contents that are streamed or patched in place:
// fill writes them into the temporary file, which already has its mode, so
// fill may change the mode or the owner last (chown clears setuid). Its
// error is returned as it is, and the file system's are *fs.PathErrors, so
// that the caller's own words for what it was writing lead.
func Write(path string, perm fs.FileMode, fill func(*os.File) error) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	if fi, err := os.Lstat(path); err == nil && fi.Mode().IsRegular() {
		perm = fi.Mode().Perm()
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	tmp, err := os.CreateTemp(dir, tempPrefix+base+"-")
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
	if err = tmp.Chmod(perm.Perm()); err != nil {
		return err
	}
	if err = fill(tmp); err != nil {
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
	return syncDir(dir)
}

// syncDir makes a rename in dir durable: the rename is an update of the
// directory, which fsync of the file does not cover.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	serr := d.Sync()
	if cerr := d.Close(); serr == nil {
		serr = cerr
	}
	return serr
}

// IsTemp reports whether name (a directory entry's base name) is a temporary
// file WriteFile had not finished, which a crash leaves behind. A program
// that lists its own directory skips such files or removes them.
func IsTemp(name string) bool {
	return strings.HasPrefix(name, tempPrefix)
}
