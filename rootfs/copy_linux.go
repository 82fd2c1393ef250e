package rootfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// copyTree copies the tree at src into dst, replacing non-directories that
// exist there. Writes go through dst (an os.Root), so a symlink in the tree
// cannot redirect them outside. Owners are kept when running as root.
// Reads go through an os.Root on src too: a tree a task can change (its
// bundle) cannot swap an entry for a symlink between the walk and the copy
// and so have a host file copied in.
func copyTree(ctx context.Context, src string, dst *os.Root) error {
	keepOwner := os.Geteuid() == 0
	from, err := os.OpenRoot(src)
	if err != nil {
		return err
	}
	defer from.Close()
	var dirs []dirMeta
	err = fs.WalkDir(from.FS(), ".", func(rel string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st, _ := fi.Sys().(*syscall.Stat_t)
		if rel == "." {
			return dst.Chmod(".", fi.Mode()&(fs.ModePerm|fs.ModeSticky|fs.ModeSetuid|fs.ModeSetgid))
		}
		if err := copyEntry(from, rel, fi, dst); err != nil {
			return wrap(err, "%s", rel)
		}
		if fi.IsDir() {
			dirs = append(dirs, dirMeta{name: rel, mode: fi.Mode() & (fs.ModePerm | fs.ModeSticky | fs.ModeSetuid | fs.ModeSetgid), mtime: fi.ModTime()})
		}
		if keepOwner && st != nil {
			if err := dst.Lchown(rel, int(st.Uid), int(st.Gid)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	sort.SliceStable(dirs, func(i, j int) bool {
		return strings.Count(dirs[i].name, "/") > strings.Count(dirs[j].name, "/")
	})
	for _, d := range dirs {
		if err := dst.Chmod(d.name, d.mode); err != nil {
			return err
		}
		if err := dst.Chtimes(d.name, d.mtime, d.mtime); err != nil {
			return err
		}
	}
	return nil
}

func copyEntry(from *os.Root, rel string, fi fs.FileInfo, dst *os.Root) error {
	old, err := dst.Lstat(rel)
	switch {
	case err == nil && old.IsDir() && fi.IsDir():
		return nil
	case err == nil && old.IsDir():
		return fmt.Errorf("%w: a %s would replace a directory", ErrInvalid, fi.Mode().Type())
	case err == nil:
		if err := dst.Remove(rel); err != nil {
			return err
		}
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	mode := fi.Mode()
	switch {
	case mode.IsDir():
		return dst.Mkdir(rel, 0o700)
	case mode&fs.ModeSymlink != 0:
		target, err := from.Readlink(rel)
		if err != nil {
			return err
		}
		return dst.Symlink(target, rel)
	case mode.IsRegular():
		return copyFile(from, rel, fi, dst)
	case mode&(fs.ModeDevice|fs.ModeNamedPipe) != 0:
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return fmt.Errorf("%w: no device number", ErrNotSupported)
		}
		return mknodRaw(dst, rel, st.Mode, st.Rdev)
	}
	return fmt.Errorf("%w: file type %s", ErrNotSupported, mode.Type())
}

func copyFile(from *os.Root, rel string, fi fs.FileInfo, dst *os.Root) error {
	in, err := openRegular(from, rel)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := dst.OpenFile(rel, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	// A reflink shares blocks copy-on-write: as cheap as a hard link but a
	// write by the task never reaches the base's blocks.
	if unix.IoctlFileClone(int(out.Fd()), int(in.Fd())) != nil {
		_, err = io.Copy(out, in)
	}
	if err == nil {
		err = out.Chmod(fi.Mode() & (fs.ModePerm | fs.ModeSticky | fs.ModeSetuid | fs.ModeSetgid))
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return dst.Chtimes(rel, fi.ModTime(), fi.ModTime())
}
