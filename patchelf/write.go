package patchelf

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/gleaner/gleaner/internal/atomicfile"
)

// Changed reports whether the edits so far change the file.
func (f *File) Changed() (bool, error) {
	l, err := f.plan()
	return l != nil, err
}

// Bytes returns the edited file.
func (f *File) Bytes() ([]byte, error) {
	l, err := f.plan()
	if err != nil {
		return nil, err
	}
	if l == nil {
		l = &layout{srcTo: uint64(f.size), size: uint64(f.size)}
	}
	return f.bytesOf(l)
}

// bytesOf assembles the output of a layout in memory.
func (f *File) bytesOf(l *layout) ([]byte, error) {
	b := make([]byte, l.size)
	n := l.srcTo - l.srcFrom
	if _, err := f.src.ReadAt(b[l.at:l.at+n], int64(l.srcFrom)); err != nil && !(errors.Is(err, io.EOF) && n == 0) {
		return nil, err
	}
	for _, p := range l.patches {
		copy(b[p.off:], p.data)
	}
	return b, nil
}

// WriteTo writes the edited file to w.
func (f *File) WriteTo(w io.Writer) (int64, error) {
	b, err := f.Bytes()
	if err != nil {
		return 0, err
	}
	n, err := w.Write(b)
	return int64(n), err
}

// Save writes the edits back to the file given to Open, atomically: the
// new contents go to a temporary file with a unique name in the same
// directory, which gets the original mode and owner, is synced to disk and
// renamed over the original, and the directory is synced. Nothing is written
// when the edits change nothing. When the name is a symlink, the file it
// points to is replaced, as patchelf does. The File then reads the saved file, so
// editing and saving again works.
func (f *File) Save() error {
	if f.name == "" {
		return fmt.Errorf("%w: Save needs a File from Open; use SaveAs or WriteTo", ErrInvalid)
	}
	l, err := f.plan()
	if err != nil || l == nil {
		return err
	}
	if err := f.write(f.name, l); err != nil {
		return err
	}
	// Go on from the saved file, so further edits and saves work.
	nf, err := Open(f.name)
	if err != nil {
		return fmt.Errorf("reopening saved file: %w", err)
	}
	nf.pageSize, nf.warnings, nf.keepOld = f.pageSize, f.Warnings(), f.keepOld
	f.Close()
	*f = *nf
	return nil
}

// SaveAs writes the edited file to name atomically, leaving the input
// untouched. The output is written even when nothing changed.
func (f *File) SaveAs(name string) error {
	l, err := f.plan()
	if err != nil {
		return err
	}
	if l == nil {
		l = &layout{srcTo: uint64(f.size), size: uint64(f.size)}
	}
	return f.write(name, l)
}

// write replaces name with the output through the module's one atomic
// write: a temporary file with a unique name in the same directory is
// written, given the owner and mode, fsynced, renamed over name, and the
// directory is fsynced. On any error the temporary file is removed and
// name is left as it was.
func (f *File) write(name string, l *layout) (err error) {
	// Like patchelf, which opens the file for writing, edit what a symlink
	// points to (libfoo.so -> libfoo.so.1.2) rather than replace the link.
	if fi, lerr := os.Lstat(name); lerr == nil && fi.Mode()&os.ModeSymlink != 0 {
		if name, err = filepath.EvalSymlinks(name); err != nil {
			return err
		}
	}
	if fi, serr := os.Stat(name); serr == nil && !fi.Mode().IsRegular() {
		// A device or a pipe (--output /dev/null): written through, as
		// patchelf writes; renaming over it would replace the device.
		return f.writeThrough(name, l)
	}
	return atomicfile.Write(name, f.mode, func(tmp *os.File) error {
		if err := f.copyInto(tmp, l); err != nil {
			return err
		}
		for _, p := range l.patches {
			if _, err := tmp.WriteAt(p.data, int64(p.off)); err != nil {
				return err
			}
		}
		if err := keepOwner(tmp, name); err != nil {
			return err
		}
		return tmp.Chmod(f.mode) // after chown, which clears setuid
	})
}

// writeThrough writes the output to an existing file that is not a
// regular file, in order, without seeking.
func (f *File) writeThrough(name string, l *layout) error {
	b, err := f.bytesOf(l)
	if err != nil {
		return err
	}
	fd, err := os.OpenFile(name, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	_, err = fd.Write(b)
	if cerr := fd.Close(); err == nil {
		err = cerr
	}
	return err
}

// copyInto copies the kept input range into the output and sizes it. When
// the input is a file, the kernel copies (copy_file_range), which is what
// makes a save of a large binary cheap.
func (f *File) copyInto(dst *os.File, l *layout) error {
	n := int64(l.srcTo - l.srcFrom)
	if _, err := dst.Seek(int64(l.at), io.SeekStart); err != nil {
		return err
	}
	var src io.Reader = io.NewSectionReader(f.src, int64(l.srcFrom), n)
	if fd, ok := f.src.(*os.File); ok {
		if _, err := fd.Seek(int64(l.srcFrom), io.SeekStart); err != nil {
			return err
		}
		src = &io.LimitedReader{R: fd, N: n}
	}
	if _, err := io.Copy(dst, src); err != nil {
		return err
	}
	return dst.Truncate(int64(l.size))
}
