//go:build !linux

package rootfs

import (
	"archive/tar"
	"fmt"
	"io/fs"
	"os"
)

func mknodAt(root *os.Root, name string, hdr *tar.Header, mode fs.FileMode) error {
	return fmt.Errorf("device nodes on this platform: %w", ErrNotSupported)
}
