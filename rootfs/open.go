package rootfs

import (
	"fmt"
	"os"
	"syscall"
)

// openRegular opens rel below root for reading, refusing anything that is
// not a regular file by then: O_NOFOLLOW for a symlink swapped in after a
// walk listed the name, O_NONBLOCK so that a FIFO cannot hang the open.
func openRegular(root *os.Root, rel string) (*os.File, error) {
	f, err := root.OpenFile(rel, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("%s: %w: became a %s while being read", rel, ErrInvalid, fi.Mode().Type())
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}
