package rootfs

import (
	"archive/tar"
	"io/fs"
	"os"
	"path"

	"golang.org/x/sys/unix"
)

// mknodAt creates the device node or FIFO of a tar header at name inside root.
func mknodAt(root *os.Root, name string, hdr *tar.Header, mode fs.FileMode) error {
	kind := uint32(unix.S_IFIFO)
	switch hdr.Typeflag {
	case tar.TypeChar:
		kind = unix.S_IFCHR
	case tar.TypeBlock:
		kind = unix.S_IFBLK
	}
	return mknodRaw(root, name, kind|uint32(mode.Perm()), unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor)))
}

// mknodRaw runs mknodat(2) for name inside root. os.Root has no Mknod, so
// the parent directory is opened through the root (traversal-safe) and
// mknodat gets only the final component, which it never follows.
func mknodRaw(root *os.Root, name string, mode uint32, dev uint64) error {
	d, err := root.Open(path.Dir(name))
	if err != nil {
		return err
	}
	defer d.Close()
	if err := unix.Mknodat(int(d.Fd()), path.Base(name), mode, int(dev)); err != nil {
		return &os.PathError{Op: "mknodat", Path: name, Err: err}
	}
	return nil
}
