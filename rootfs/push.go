package rootfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Push uploads the local file src to dst, a file:// or s3:// URI. A file://
// destination is written to a temporary file next to it and renamed, so
// readers never see a partial object.
func (f *Fetcher) Push(ctx context.Context, src, dst string) error {
	d, err := parseURI(dst)
	if err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("rootfs: push %s: %w", src, ErrNotFound)
		}
		return fmt.Errorf("rootfs: push: %w", err)
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return fmt.Errorf("rootfs: push: %w", err)
	}
	r := ctxReader{ctx, in}
	switch d.scheme {
	case "file":
		if err := writeFileAtomic(d.path, r); err != nil {
			return &FetchError{URI: dst, Op: "upload", Err: err}
		}
		return nil
	case "s3":
		return f.s3.put(ctx, d, r, fi.Size())
	}
	return fmt.Errorf("rootfs: push %s: %w: scheme %q (want file or s3)", dst, ErrInvalid, d.scheme)
}

// writeFileAtomic writes r to path through a temporary file and a rename.
func writeFileAtomic(path string, r io.Reader) (err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = io.Copy(tmp, r); err != nil {
		return err
	}
	if err = tmp.Chmod(0o644); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// PushBundle uploads the bundle a manifest (written by PackBundle) names,
// then the manifest itself, under destPrefix (a file:// or s3:// URI ending
// in a directory or key prefix). The bundle goes first, so a reader that
// sees the manifest can fetch its bundle. It returns the manifest's URI.
func (f *Fetcher) PushBundle(ctx context.Context, manifestPath, destPrefix string) (string, error) {
	m, err := ReadManifest(manifestPath)
	if err != nil {
		return "", err
	}
	if m.Bundle == "" || m.SHA256 == "" {
		return "", fmt.Errorf("rootfs: push %s: %w: manifest has no bundle or sha256 (write it with PackBundle)", manifestPath, ErrInvalid)
	}
	prefix := strings.TrimSuffix(destPrefix, "/") + "/"
	if err := f.Push(ctx, filepath.Join(filepath.Dir(manifestPath), m.Bundle), prefix+m.Bundle); err != nil {
		return "", err
	}
	dst := prefix + m.ManifestFile()
	if err := f.Push(ctx, manifestPath, dst); err != nil {
		return "", err
	}
	return dst, nil
}
