package rootfs

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Default limits of Unpack, changed with the options below.
const (
	DefaultMaxBytes   = 8 << 30
	DefaultMaxEntries = 1 << 20
	DefaultMaxDepth   = 64
	DefaultMaxNameLen = 1024
)

// An UnpackOption configures Unpack, UnpackReader and Bases.Add. Without
// any, unpacking is safe: default limits, no device nodes or FIFOs,
// setuid and setgid bits stripped, files owned by the unpacking user.
type UnpackOption func(*unpackConfig)

type unpackConfig struct {
	maxBytes   int64
	maxEntries int
	maxDepth   int
	maxNameLen int
	devices    bool
	trusted    bool
	owners     bool
}

// WithMaxBytes bounds the total bytes of file contents (default
// DefaultMaxBytes).
func WithMaxBytes(n int64) UnpackOption { return func(c *unpackConfig) { c.maxBytes = n } }

// WithMaxEntries bounds the number of entries (default DefaultMaxEntries).
func WithMaxEntries(n int) UnpackOption { return func(c *unpackConfig) { c.maxEntries = n } }

// WithMaxDepth bounds the path components in a name (default
// DefaultMaxDepth).
func WithMaxDepth(n int) UnpackOption { return func(c *unpackConfig) { c.maxDepth = n } }

// WithMaxNameLen bounds the bytes in a name or link target (default
// DefaultMaxNameLen).
func WithMaxNameLen(n int) UnpackOption { return func(c *unpackConfig) { c.maxNameLen = n } }

// WithDevices creates character and block devices and FIFOs instead of
// refusing them (needs CAP_MKNOD).
func WithDevices() UnpackOption { return func(c *unpackConfig) { c.devices = true } }

// WithTrusted keeps setuid and setgid bits. Use it only for archives whose
// origin is verified, such as base images checked against a sha256.
func WithTrusted() UnpackOption { return func(c *unpackConfig) { c.trusted = true } }

// WithOwners applies the archive's uid and gid to each entry (needs root).
// Without it every entry belongs to the unpacking user.
func WithOwners() UnpackOption { return func(c *unpackConfig) { c.owners = true } }

func newUnpackConfig(opts []UnpackOption) (unpackConfig, error) {
	c := unpackConfig{
		maxBytes:   DefaultMaxBytes,
		maxEntries: DefaultMaxEntries,
		maxDepth:   DefaultMaxDepth,
		maxNameLen: DefaultMaxNameLen,
	}
	for _, o := range opts {
		o(&c)
	}
	for _, l := range []struct {
		option string
		v      int64
	}{
		{"WithMaxBytes", c.maxBytes}, {"WithMaxEntries", int64(c.maxEntries)},
		{"WithMaxDepth", int64(c.maxDepth)}, {"WithMaxNameLen", int64(c.maxNameLen)},
	} {
		if l.v <= 0 {
			return c, fmt.Errorf("%w: %s(%d): must be positive", ErrInvalid, l.option, l.v)
		}
	}
	return c, nil
}

// Unpack extracts the archive at path (.tar, .tar.gz or .tar.zst; the format
// is detected from the content) into dst, which must not exist yet.
//
// Every entry is written through an os.Root opened on a temporary directory
// next to dst, so no name, symlink or hard link can reach outside it; the
// temporary directory is renamed to dst only when every entry was accepted.
// On error nothing is left behind. Refused entries yield an *EntryError
// (errors.Is(err, ErrUnsafe)).
func Unpack(ctx context.Context, archive, dst string, opts ...UnpackOption) error {
	f, err := openArchive(archive)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unpack(ctx, f, dst, opts); err != nil {
		return wrap(err, "unpack %s", archive)
	}
	return nil
}

// UnpackReader is Unpack reading the archive from r.
func UnpackReader(ctx context.Context, r io.Reader, dst string, opts ...UnpackOption) error {
	if err := unpack(ctx, r, dst, opts); err != nil {
		return wrap(err, "unpack into %s", dst)
	}
	return nil
}

func unpack(ctx context.Context, r io.Reader, dst string, opts []UnpackOption) error {
	cfg, err := newUnpackConfig(opts)
	if err != nil {
		return err
	}
	dst = filepath.Clean(dst)
	if _, err := os.Lstat(dst); err == nil {
		return fmt.Errorf("%w: destination %s", ErrExists, dst)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	stream, closeStream, err := decompress(r)
	if err != nil {
		return err
	}
	defer closeStream()

	tmp, err := os.MkdirTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".unpack-")
	if err != nil {
		return err
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(tmp)
		}
	}()
	root, err := os.OpenRoot(tmp)
	if err != nil {
		return err
	}
	u := newUnpacker(ctx, root, cfg)
	err = u.run(tar.NewReader(stream))
	if cerr := root.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Chmod(tmp, u.topMode); err != nil {
		return err
	}
	if err := os.Rename(tmp, dst); err != nil {
		return err
	}
	ok = true
	return nil
}

// UnpackInto extracts the archive at path into dst, an existing directory
// that may already hold files (a task's sandbox, say), as Marathon's fetcher
// extracts an artifact. Every entry is written through dst, so nothing in
// the archive, and no link already in dst, can steer a write outside it; a
// non-directory already at an entry's name is replaced, never written
// through. The archive's entry for the top directory itself is ignored. On
// error the entries written so far stay: the caller owns dst.
func UnpackInto(ctx context.Context, archive string, dst *os.Root, opts ...UnpackOption) error {
	cfg, err := newUnpackConfig(opts)
	if err != nil {
		return err
	}
	f, err := openArchive(archive)
	if err != nil {
		return err
	}
	defer f.Close()
	stream, closeStream, err := decompress(f)
	if err != nil {
		return wrap(err, "unpack %s", archive)
	}
	defer closeStream()
	if err := newUnpacker(ctx, dst, cfg).run(tar.NewReader(stream)); err != nil {
		return wrap(err, "unpack %s into %s", archive, dst.Name())
	}
	return nil
}

func openArchive(archive string) (*os.File, error) {
	f, err := os.Open(archive)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: unpack: archive %s", ErrNotFound, archive)
	}
	return f, err
}

func newUnpacker(ctx context.Context, root *os.Root, cfg unpackConfig) *unpacker {
	return &unpacker{ctx: ctx, root: root, opts: cfg, topMode: 0o755, made: map[string]bool{}}
}

// Compression magic numbers (RFC 1952 and RFC 8878).
var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

func decompress(r io.Reader) (io.Reader, func(), error) {
	br := bufio.NewReaderSize(r, 1<<16)
	head, _ := br.Peek(4)
	switch {
	case bytes.HasPrefix(head, gzipMagic):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: gzip: %w", ErrInvalid, err)
		}
		return zr, func() { zr.Close() }, nil
	case bytes.HasPrefix(head, zstdMagic):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(1<<30))
		if err != nil {
			return nil, nil, fmt.Errorf("%w: zstd: %w", ErrInvalid, err)
		}
		return zr, zr.Close, nil
	}
	return br, func() {}, nil
}

type dirMeta struct {
	name  string
	mode  fs.FileMode
	mtime time.Time
}

type unpacker struct {
	ctx     context.Context
	root    *os.Root
	opts    unpackConfig
	entries int
	bytes   int64
	dirs    []dirMeta
	topMode fs.FileMode
	buf     []byte
	made    map[string]bool // directories known to exist
}

func (u *unpacker) run(tr *tar.Reader) error {
	u.buf = make([]byte, 256<<10)
	for {
		if err := u.ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("%w: reading archive: %w", ErrInvalid, err)
		}
		if err := u.entry(hdr, tr); err != nil {
			return err
		}
	}
	// Directory modes and times last, deepest first, so that a read-only
	// directory does not block the entries inside it.
	sort.SliceStable(u.dirs, func(i, j int) bool {
		return strings.Count(u.dirs[i].name, "/") > strings.Count(u.dirs[j].name, "/")
	})
	for _, d := range u.dirs {
		if err := u.root.Chmod(d.name, d.mode); err != nil {
			return u.fail(d.name, err)
		}
		if err := u.root.Chtimes(d.name, d.mtime, d.mtime); err != nil {
			return u.fail(d.name, err)
		}
	}
	return nil
}

func refuse(name, format string, args ...any) error {
	return &EntryError{Name: name, Reason: fmt.Sprintf(format, args...)}
}

// fail turns an os.Root error into an entry refusal when the root rejected a
// path that leaves it. os.Root does not export its escape error, so this
// matches its text.
func (u *unpacker) fail(name string, err error) error {
	if strings.Contains(err.Error(), "path escapes from parent") || errors.Is(err, fs.ErrInvalid) {
		return refuse(name, "path leads outside the target through a link: %v", err)
	}
	return fmt.Errorf("archive entry %q: %w", name, err)
}

// checkName validates an entry name and returns it cleaned.
func (u *unpacker) checkName(raw string) (string, error) {
	if len(raw) > u.opts.maxNameLen {
		return "", refuse(raw[:min(len(raw), 64)]+"...", "name is %d bytes, limit %d", len(raw), u.opts.maxNameLen)
	}
	if strings.ContainsRune(raw, 0) {
		return "", refuse(raw, "name contains NUL")
	}
	if path.IsAbs(raw) {
		return "", refuse(raw, "absolute name")
	}
	clean := path.Clean(raw)
	if clean != "." && !filepath.IsLocal(clean) {
		return "", refuse(raw, "name escapes the target")
	}
	if depth := strings.Count(clean, "/") + 1; depth > u.opts.maxDepth {
		return "", refuse(raw, "path depth %d, limit %d", depth, u.opts.maxDepth)
	}
	return clean, nil
}

func (u *unpacker) entry(hdr *tar.Header, tr *tar.Reader) error {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil
	}
	u.entries++
	if u.entries > u.opts.maxEntries {
		return refuse(hdr.Name, "entry limit %d exceeded", u.opts.maxEntries)
	}
	name, err := u.checkName(hdr.Name)
	if err != nil {
		return err
	}
	if len(hdr.Linkname) > u.opts.maxNameLen {
		return refuse(hdr.Name, "link target is %d bytes, limit %d", len(hdr.Linkname), u.opts.maxNameLen)
	}
	mode := u.mode(hdr)
	if name == "." {
		if hdr.Typeflag != tar.TypeDir {
			return refuse(hdr.Name, "the target itself must be a directory")
		}
		u.topMode = mode
		return nil
	}
	// Directories are never replaced (clear refuses), so one that exists
	// once exists for the rest of the archive.
	if dir := path.Dir(name); dir != "." && !u.made[dir] {
		if err := u.root.MkdirAll(dir, 0o755); err != nil {
			return u.fail(hdr.Name, err)
		}
		u.made[dir] = true
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		exists, err := u.clear(name, true)
		if err != nil {
			return err
		}
		if !exists {
			if err := u.root.Mkdir(name, 0o700); err != nil {
				return u.fail(hdr.Name, err)
			}
		}
		if err := u.chown(name, hdr); err != nil {
			return err
		}
		u.made[name] = true
		u.dirs = append(u.dirs, dirMeta{name: name, mode: mode, mtime: hdr.ModTime})
		return nil
	case tar.TypeReg, tar.TypeGNUSparse, '\x00':
		return u.file(name, hdr, mode, tr)
	case tar.TypeSymlink:
		if strings.ContainsRune(hdr.Linkname, 0) || hdr.Linkname == "" {
			return refuse(hdr.Name, "bad symlink target %q", hdr.Linkname)
		}
		// Absolute targets are interpreted inside the task root when it
		// runs; os.Root never follows them while unpacking. Relative ones
		// must stay below the target, judged from where the link really
		// lands: its parent as the kernel resolves it, through the links
		// earlier entries made ("a/b -> .." then "a/b/l -> ../x" puts l at
		// the top, pointing one level above it).
		if !path.IsAbs(hdr.Linkname) {
			inside, err := staysInside(u.root, path.Dir(name)+"/"+hdr.Linkname)
			if err != nil {
				return u.fail(hdr.Name, err)
			}
			if !inside {
				return refuse(hdr.Name, "symlink target %q leads outside the target", hdr.Linkname)
			}
		}
		if _, err := u.clear(name, false); err != nil {
			return err
		}
		if err := u.root.Symlink(hdr.Linkname, name); err != nil {
			return u.fail(hdr.Name, err)
		}
		return u.chown(name, hdr)
	case tar.TypeLink:
		target := path.Clean(hdr.Linkname)
		if path.IsAbs(hdr.Linkname) || !filepath.IsLocal(target) {
			return refuse(hdr.Name, "hard link target %q is outside the archive", hdr.Linkname)
		}
		fi, err := u.root.Lstat(target)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return refuse(hdr.Name, "hard link target %q does not exist", hdr.Linkname)
			}
			return u.fail(hdr.Name, err)
		}
		if !fi.Mode().IsRegular() {
			return refuse(hdr.Name, "hard link target %q is not a regular file", hdr.Linkname)
		}
		if _, err := u.clear(name, false); err != nil {
			return err
		}
		if err := u.root.Link(target, name); err != nil {
			return u.fail(hdr.Name, err)
		}
		return nil
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		kind := map[byte]string{tar.TypeChar: "character device", tar.TypeBlock: "block device", tar.TypeFifo: "FIFO"}[hdr.Typeflag]
		if !u.opts.devices {
			return refuse(hdr.Name, "%s not allowed", kind)
		}
		if _, err := u.clear(name, false); err != nil {
			return err
		}
		if err := mknodAt(u.root, name, hdr, mode); err != nil {
			return u.fail(hdr.Name, err)
		}
		return u.chown(name, hdr)
	}
	return refuse(hdr.Name, "unsupported entry type %q", hdr.Typeflag)
}

// mode returns the permission bits to apply, without setuid/setgid unless
// the archive is trusted.
func (u *unpacker) mode(hdr *tar.Header) fs.FileMode {
	m := fs.FileMode(hdr.Mode & 0o777)
	if hdr.Mode&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	if u.opts.trusted {
		if hdr.Mode&0o4000 != 0 {
			m |= fs.ModeSetuid
		}
		if hdr.Mode&0o2000 != 0 {
			m |= fs.ModeSetgid
		}
	}
	return m
}

// clear removes whatever non-directory is at name so that the new entry
// replaces it rather than writing through it. It reports whether a
// directory is already there (allowed only when wantDir).
func (u *unpacker) clear(name string, wantDir bool) (bool, error) {
	fi, err := u.root.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, u.fail(name, err)
	}
	if fi.IsDir() {
		if wantDir {
			return true, nil
		}
		return false, refuse(name, "would replace a directory")
	}
	if err := u.root.Remove(name); err != nil {
		return false, u.fail(name, err)
	}
	return false, nil
}

func (u *unpacker) chown(name string, hdr *tar.Header) error {
	if !u.opts.owners {
		return nil
	}
	if err := u.root.Lchown(name, hdr.Uid, hdr.Gid); err != nil {
		return u.fail(hdr.Name, err)
	}
	return nil
}

func (u *unpacker) file(name string, hdr *tar.Header, mode fs.FileMode, tr *tar.Reader) error {
	if hdr.Size < 0 || hdr.Size > u.opts.maxBytes-u.bytes {
		return refuse(hdr.Name, "content would exceed the %d-byte limit", u.opts.maxBytes)
	}
	if _, err := u.clear(name, false); err != nil {
		return err
	}
	// O_EXCL: the name was just cleared, so a symlink planted in between
	// makes this fail instead of being followed.
	f, err := u.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return u.fail(hdr.Name, err)
	}
	n, err := io.CopyBuffer(onlyWriter{f}, ctxReader{u.ctx, io.LimitReader(tr, hdr.Size)}, u.buf)
	u.bytes += n
	if err == nil && n != hdr.Size {
		err = fmt.Errorf("%w: short content (%d of %d bytes)", ErrInvalid, n, hdr.Size)
	}
	if err == nil && u.opts.owners {
		err = f.Chown(hdr.Uid, hdr.Gid)
	}
	if err == nil {
		err = f.Chmod(mode) // after chown, which would clear setuid
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return wrap(err, "archive entry %q", hdr.Name)
	}
	if err := u.root.Chtimes(name, hdr.ModTime, hdr.ModTime); err != nil {
		return u.fail(hdr.Name, err)
	}
	return nil
}

// onlyWriter hides *os.File's ReadFrom so io.CopyBuffer uses our buffer and
// our context-checking reader.
type onlyWriter struct{ w io.Writer }

func (w onlyWriter) Write(p []byte) (int, error) { return w.w.Write(p) }

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (r ctxReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}

// maxLinkHops bounds the links followed while resolving one path, as the
// kernel's ELOOP limit does.
const maxLinkHops = 40

// staysInside resolves p, a slash-separated path relative to the top of
// root, component by component as the kernel would: ".." goes up from
// where the previous components really are, and each symlink found in the
// tree is replaced by its target. It reports whether the walk stays below
// the top. Components that do not exist yet are taken as plain
// directories; an absolute link leaves the tree (os.Root refuses to follow
// one, and the host must never resolve it).
func staysInside(root *os.Root, p string) (bool, error) {
	todo := strings.Split(p, "/")
	var at []string // resolved components
	hops := 0
	for len(todo) > 0 {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(at) == 0 {
				return false, nil
			}
			at = at[:len(at)-1]
			continue
		}
		next := path.Join(append(at, c)...)
		fi, err := root.Lstat(next)
		if errors.Is(err, fs.ErrNotExist) {
			at = append(at, c)
			continue
		}
		if err != nil {
			return false, err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			at = append(at, c)
			continue
		}
		if hops++; hops > maxLinkHops {
			return false, nil
		}
		target, err := root.Readlink(next)
		if err != nil {
			return false, err
		}
		if path.IsAbs(target) {
			return false, nil
		}
		todo = append(strings.Split(target, "/"), todo...)
	}
	return true, nil
}
