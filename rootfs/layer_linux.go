package rootfs

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Layer materialises a task root in dir (which must not exist) from the
// base rootfs directory base and the unpacked task bundle directory bundle;
// the bundle's entries win over the base's.
//
// With overlayfs (LayerOverlay, or LayerAuto when the mount succeeds) base
// and bundle are read-only lower layers and every write of the task lands in
// dir/upper, so the shared base is never modified.
//
// Without it (LayerCopy) the files are copied, using reflinks (FICLONE)
// where the file system has them and plain copies otherwise. Hard links to
// the base are deliberately never used: permission bits do not stop a task
// running as root (or as the files' owner) from writing a shared inode, and
// a write through a hard link would change the base for every task.
//
// Remove undoes Layer.
func Layer(ctx context.Context, base, bundle, dir string, mode LayerMode) (*TaskRoot, error) {
	for _, d := range []struct{ what, path string }{{"base", base}, {"bundle", bundle}} {
		if d.path == "" && d.what == "bundle" {
			continue
		}
		if fi, err := os.Stat(d.path); err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("%w: layer: %s directory %s", ErrNotFound, d.what, d.path)
		}
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("%w: layer: %s", ErrExists, dir)
		}
		return nil, fmt.Errorf("rootfs: layer: %w", err)
	}
	r := &TaskRoot{Path: filepath.Join(dir, "root"), dir: dir}
	err := r.build(ctx, base, bundle, mode)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return r, nil
}

func (r *TaskRoot) build(ctx context.Context, base, bundle string, mode LayerMode) error {
	if err := os.Mkdir(r.Path, 0o755); err != nil {
		return fmt.Errorf("rootfs: layer: %w", err)
	}
	if mode == LayerAuto || mode == LayerOverlay {
		err := r.overlay(base, bundle)
		if err == nil {
			r.Mode = LayerOverlay
			return nil
		}
		if mode == LayerOverlay {
			return err
		}
	}
	r.Mode = LayerCopy
	root, err := os.OpenRoot(r.Path)
	if err != nil {
		return fmt.Errorf("rootfs: layer: %w", err)
	}
	defer root.Close()
	if err := copyTree(ctx, base, root); err != nil {
		return wrap(err, "layer: copying base %s", base)
	}
	if bundle != "" {
		if err := copyTree(ctx, bundle, root); err != nil {
			return wrap(err, "layer: copying bundle %s", bundle)
		}
	}
	return nil
}

func (r *TaskRoot) overlay(base, bundle string) error {
	upper, work := filepath.Join(r.dir, "upper"), filepath.Join(r.dir, "work")
	lower := base
	if bundle != "" {
		lower = bundle + ":" + base
	}
	for _, p := range []string{base, bundle, upper, work} {
		if strings.ContainsAny(p, ",:") {
			return fmt.Errorf("%w: overlay: path %q has ',' or ':'", ErrNotSupported, p)
		}
	}
	for _, d := range []string{upper, work} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return fmt.Errorf("rootfs: overlay: %w", err)
		}
	}
	data := "lowerdir=" + lower + ",upperdir=" + upper + ",workdir=" + work
	if err := unix.Mount("overlay", r.Path, "overlay", 0, data); err != nil {
		os.Remove(upper)
		os.Remove(work)
		return fmt.Errorf("%w: overlay mount on %s: %w", ErrNotSupported, r.Path, err)
	}
	return nil
}

// Remove unmounts the task root if it is an overlay and deletes its
// directory, including everything the task wrote.
func (r *TaskRoot) Remove() error {
	if r.Mode == LayerOverlay {
		if err := unix.Unmount(r.Path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("rootfs: unmount task root %s: %w", r.Path, err)
		}
	}
	if err := os.RemoveAll(r.dir); err != nil {
		return fmt.Errorf("rootfs: remove task root: %w", err)
	}
	return nil
}
