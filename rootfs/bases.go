package rootfs

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// Bases is a directory of immutable, versioned base root filesystems laid
// out as <Dir>/<name>/<version>/. A version, once added, is never modified:
// task roots are layered on top of it (see Layer) and their writes go
// elsewhere.
type Bases struct {
	Dir string
}

// Path returns the directory of base name at version, or an error wrapping
// ErrNotFound that names both.
func (b Bases) Path(name, version string) (string, error) {
	if err := checkLabel("base name", name); err != nil {
		return "", err
	}
	if err := checkLabel("base version", version); err != nil {
		return "", err
	}
	p := filepath.Join(b.Dir, name, version)
	fi, err := os.Stat(p)
	if err == nil && fi.IsDir() {
		return p, nil
	}
	if err == nil || errors.Is(err, fs.ErrNotExist) {
		have, _ := b.Versions(name)
		return "", fmt.Errorf("%w: base %q version %q (have %v)", ErrNotFound, name, version, have)
	}
	return "", fmt.Errorf("rootfs: base %q version %q: %w", name, version, err)
}

// Versions lists the versions of base name, sorted.
func (b Bases) Versions(name string) ([]string, error) {
	des, err := os.ReadDir(filepath.Join(b.Dir, name))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var out []string
	for _, d := range des {
		if d.IsDir() && checkLabel("version", d.Name()) == nil {
			out = append(out, d.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}

// Add unpacks archive as base name at version. Adding a version that exists
// fails with ErrExists: versions are immutable. Base images usually need
// WithOwners, WithTrusted and WithDevices when their digest was verified.
func (b Bases) Add(ctx context.Context, name, version, archive string, opts ...UnpackOption) (string, error) {
	if err := checkLabel("base name", name); err != nil {
		return "", err
	}
	if err := checkLabel("base version", version); err != nil {
		return "", err
	}
	dir := filepath.Join(b.Dir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("rootfs: base %q: %w", name, err)
	}
	dst := filepath.Join(dir, version)
	if _, err := os.Lstat(dst); err == nil {
		return "", fmt.Errorf("%w: base %q version %q (versions are immutable)", ErrExists, name, version)
	}
	if err := Unpack(ctx, archive, dst, opts...); err != nil {
		return "", wrap(err, "base %q version %q", name, version)
	}
	return dst, nil
}
