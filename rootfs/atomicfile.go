package rootfs

import (
	"io"
	"io/fs"
	"os"

	"github.com/gleaner/gleaner/internal/atomicfile"
)

// writeFileAtomic replaces path with what r holds, streamed rather than held
// in memory, through the module's one atomic write: a reader, or the program
// after a crash, finds the old contents or the new ones, never a part.
func writeFileAtomic(path string, r io.Reader, perm fs.FileMode) error {
	return atomicfile.Write(path, perm, func(f *os.File) error {
		_, err := io.Copy(f, r)
		return err
	})
}
