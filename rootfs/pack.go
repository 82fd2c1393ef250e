package rootfs

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
)

// Manifest describes a packed task bundle.
type Manifest struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Base    Ref    `json:"base"`             // base rootfs the bundle is layered on
	SHA256  string `json:"sha256,omitempty"` // of the bundle file
	Size    int64  `json:"size,omitempty"`   // of the bundle file
	Bundle  string `json:"bundle,omitempty"` // file name of the bundle next to the manifest
}

// Ref names one version of a base rootfs or bundle.
type Ref struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

func (r Ref) String() string { return r.Name + "@" + r.Version }

// BundleFile and ManifestFile are the file names Pack writes.
func (m Manifest) BundleFile() string   { return m.Name + "-" + m.Version + ".tar.zst" }
func (m Manifest) ManifestFile() string { return m.Name + "-" + m.Version + ".manifest.json" }

// checkLabel validates a name or version: non-empty, one path element.
func checkLabel(field, v string) error {
	if v == "" || v == "." || v == ".." || strings.ContainsAny(v, "/\\\x00") || strings.HasPrefix(v, ".") {
		return fmt.Errorf("%w: %s %q: want a non-empty name without '/' or a leading '.'", ErrInvalid, field, v)
	}
	return nil
}

// Validate checks that every naming field is set and usable as a file name.
func (m Manifest) Validate() error {
	for _, f := range []struct{ name, v string }{
		{"manifest name", m.Name}, {"manifest version", m.Version},
		{"base name", m.Base.Name}, {"base version", m.Base.Version},
	} {
		if err := checkLabel(f.name, f.v); err != nil {
			return err
		}
	}
	// The bundle is read from next to the manifest: a name such as
	// "../../etc/shadow" must not make PushBundle upload another file.
	if m.Bundle != "" {
		if err := checkLabel("manifest bundle", m.Bundle); err != nil {
			return err
		}
	}
	if m.SHA256 != "" {
		if err := validDigest("manifest sha256", m.SHA256); err != nil {
			return err
		}
	}
	return nil
}

// ReadManifest reads and validates a manifest file.
func ReadManifest(path string) (Manifest, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Manifest{}, fmt.Errorf("%w: manifest %s", ErrNotFound, path)
		}
		return Manifest{}, fmt.Errorf("rootfs: manifest: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return Manifest{}, fmt.Errorf("%w: manifest %s: %v", ErrInvalid, path, err)
	}
	if err := m.Validate(); err != nil {
		return Manifest{}, wrap(err, "manifest %s", path)
	}
	return m, nil
}

// packTime is the modification time of every entry in a packed bundle.
var packTime = time.Unix(0, 0).UTC()

// Pack writes the tree at dir to w as a reproducible .tar.zst: entries in
// lexical order, mtime the Unix epoch, owner 0:0 without names, permission bits
// kept. The same tree always yields the same bytes (for one version of the
// zstd encoder). Hard links are stored as separate files; device nodes and
// sockets are refused.
func Pack(ctx context.Context, dir string, w io.Writer) error {
	zw, err := zstd.NewWriter(w, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedDefault))
	if err != nil {
		return fmt.Errorf("rootfs: pack: %w", err)
	}
	tw := tar.NewWriter(zw)
	// Every read goes through an os.Root: a tree a running task can change
	// cannot swap an entry for a symlink to a host file between the walk
	// and the read.
	root, err := os.OpenRoot(dir)
	if err == nil {
		err = fs.WalkDir(root.FS(), ".", func(rel string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			if rel == "." {
				return nil
			}
			return packEntry(tw, root, rel, d)
		})
		root.Close()
	}
	if err == nil {
		err = tw.Close()
	}
	if cerr := zw.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return wrap(err, "pack %s", dir)
	}
	return nil
}

func packEntry(tw *tar.Writer, root *os.Root, rel string, d fs.DirEntry) error {
	fi, err := d.Info()
	if err != nil {
		return err
	}
	hdr := &tar.Header{Name: rel, Mode: int64(fi.Mode().Perm()), ModTime: packTime, Format: tar.FormatPAX}
	if fi.Mode()&fs.ModeSetuid != 0 {
		hdr.Mode |= 0o4000
	}
	if fi.Mode()&fs.ModeSetgid != 0 {
		hdr.Mode |= 0o2000
	}
	if fi.Mode()&fs.ModeSticky != 0 {
		hdr.Mode |= 0o1000
	}
	switch {
	case fi.IsDir():
		hdr.Typeflag, hdr.Name = tar.TypeDir, rel+"/"
	case fi.Mode()&fs.ModeSymlink != 0:
		target, err := root.Readlink(rel)
		if err != nil {
			return err
		}
		hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, target
	case fi.Mode().IsRegular():
		hdr.Typeflag, hdr.Size = tar.TypeReg, fi.Size()
	default:
		return fmt.Errorf("%w: %s: unsupported file type %s", ErrInvalid, rel, fi.Mode().Type())
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if hdr.Typeflag != tar.TypeReg {
		return nil
	}
	f, err := openRegular(root, rel)
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := io.Copy(tw, io.LimitReader(f, hdr.Size+1))
	if err == nil && n != hdr.Size {
		err = fmt.Errorf("%s changed while packing", rel)
	}
	return err
}

// PackBundle packs dir into outDir as m.BundleFile() and writes the
// manifest, with SHA256, Size and Bundle filled in, as m.ManifestFile().
// Both files are written atomically (temporary file, fsync, rename, fsync
// of the directory).
func PackBundle(ctx context.Context, dir, outDir string, m Manifest) (Manifest, error) {
	if err := m.Validate(); err != nil {
		return Manifest{}, err
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return Manifest{}, fmt.Errorf("%w: pack: bundle directory %s", ErrNotFound, dir)
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return Manifest{}, fmt.Errorf("rootfs: pack %s: %w", m.Name, err)
	}
	var buf bytes.Buffer
	h := sha256.New()
	cw := &countWriter{}
	pr, pw := io.Pipe()
	packed := make(chan struct{})
	go func() {
		defer close(packed)
		pw.CloseWithError(Pack(ctx, dir, pw))
	}()
	bundle := filepath.Join(outDir, m.BundleFile())
	err := writeFileAtomic(bundle, io.TeeReader(pr, io.MultiWriter(h, cw)), 0o644)
	pr.CloseWithError(err) // unblocks Pack when writing failed
	<-packed
	if err != nil {
		return Manifest{}, wrap(err, "pack %s", m.Name)
	}
	m.SHA256 = hex.EncodeToString(h.Sum(nil))
	m.Size = cw.n
	m.Bundle = m.BundleFile()
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(m); err != nil {
		return Manifest{}, err
	}
	if err := writeFileAtomic(filepath.Join(outDir, m.ManifestFile()), &buf, 0o644); err != nil {
		return Manifest{}, fmt.Errorf("rootfs: pack %s: %w", m.Name, err)
	}
	return m, nil
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }
