package rootfs

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Push uploads the local file src to dst, a file:// or s3:// URI. A file://
// destination is written to a temporary file next to it, synced and
// renamed, so readers never see a partial object and a crash leaves the
// old one or the new one.
func (f *Fetcher) Push(ctx context.Context, src, dst string) error {
	d, err := parseURI(dst)
	if err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w: push %s", ErrNotFound, src)
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
		err := os.MkdirAll(filepath.Dir(d.path), 0o755)
		if err == nil {
			err = writeFileAtomic(d.path, r, 0o644)
		}
		if err != nil {
			return &FetchError{URI: dst, Op: "upload", Err: err}
		}
		return nil
	case "s3":
		return f.s3.put(ctx, d, r, fi.Size())
	}
	return fmt.Errorf("%w: push %s: scheme %q (want file or s3)", ErrInvalid, dst, d.scheme)
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
		return "", fmt.Errorf("%w: push %s: manifest has no bundle or sha256 (write it with PackBundle)", ErrInvalid, manifestPath)
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
