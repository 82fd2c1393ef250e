package rootfs_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gleaner/gleaner/internal/testenv"
	"github.com/gleaner/gleaner/rootfs"
)

func zstdBytes(t testing.TB, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := zstd.NewWriter(&buf)
	require.NoError(t, err)
	zw.Write(data)
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

func gzipBytes(t testing.TB, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(data)
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

// TestUnpackRefusesMaliciousArchives feeds hostile archives to Unpack. Each
// case asserts that the archive was refused (or neutralised), that the
// directory next to the target, holding a secret, is byte-for-byte
// unchanged, and that a refused archive leaves neither the target nor a
// temporary directory behind.
func TestUnpackRefusesMaliciousArchives(t *testing.T) {
	const mib = 1 << 20
	type tc struct {
		name     string
		entries  func(outside string) []tarEntry
		compress func(testing.TB, []byte) []byte
		opts     []rootfs.UnpackOption
		refused  bool // false: accepted, but nothing may reach outside
	}
	reg := func(name, body string) tarEntry { return tarEntry{name: name, typ: tar.TypeReg, body: body} }
	sym := func(name, target string) tarEntry { return tarEntry{name: name, typ: tar.TypeSymlink, link: target} }
	hard := func(name, target string) tarEntry { return tarEntry{name: name, typ: tar.TypeLink, link: target} }
	cases := []tc{
		{name: "absolute name is refused", refused: true,
			entries: func(o string) []tarEntry { return []tarEntry{reg(o+"/evil", "pwned")} }},
		{name: "dot-dot name is refused", refused: true,
			entries: func(o string) []tarEntry { return []tarEntry{reg("../outside/evil", "pwned")} }},
		{name: "dot-dot in the middle of a name is refused", refused: true,
			entries: func(o string) []tarEntry { return []tarEntry{reg("a/../../outside/evil", "pwned")} }},
		{name: "write through a symlink to an outside directory is refused", refused: true,
			entries: func(o string) []tarEntry { return []tarEntry{sym("l", o), reg("l/evil", "pwned")} }},
		{name: "overwrite through a symlink to an outside file is refused", refused: true,
			entries: func(o string) []tarEntry {
				return []tarEntry{sym("l", o+"/secret"), reg("d/x", ""), sym("d/l", "../l"), reg("d/l/x", "pwned")}
			}},
		{name: "relative symlink climbing out of the target is refused", refused: true,
			entries: func(o string) []tarEntry { return []tarEntry{sym("l", "../outside")} }},
		{name: "symlink chain leading out is refused on write", refused: true,
			entries: func(o string) []tarEntry {
				return []tarEntry{{name: "d/", typ: tar.TypeDir, mode: 0o755}, sym("d/l1", "../l2"), sym("l2", o), reg("d/l1/evil", "pwned")}
			}},
		{name: "relative symlink placed through a link to the parent, climbing out, is refused", refused: true,
			entries: func(o string) []tarEntry {
				return []tarEntry{{name: "a/", typ: tar.TypeDir, mode: 0o755}, sym("a/b", ".."), sym("a/b/l", "../outside")}
			}},
		{name: "relative symlink climbing out through another link is refused", refused: true,
			entries: func(o string) []tarEntry {
				return []tarEntry{{name: "a/b/", typ: tar.TypeDir, mode: 0o755}, sym("up", "a/b/../.."), sym("x", "a/b/../../up/..")}
			}},
		{name: "directory created through a symlink is refused", refused: true,
			entries: func(o string) []tarEntry {
				return []tarEntry{sym("l", o), {name: "l/sub/", typ: tar.TypeDir, mode: 0o755}}
			}},
		{name: "hard link to an absolute path is refused", refused: true,
			entries: func(o string) []tarEntry { return []tarEntry{hard("h", o+"/secret")} }},
		{name: "hard link climbing out is refused", refused: true,
			entries: func(o string) []tarEntry { return []tarEntry{hard("h", "../outside/secret")} }},
		{name: "hard link to a symlink leading out is refused", refused: true,
			entries: func(o string) []tarEntry { return []tarEntry{sym("s", o+"/secret"), hard("h", "s"), reg("h", "pwned")} }},
		{name: "character device is refused", refused: true,
			entries: func(o string) []tarEntry { return []tarEntry{{name: "mem", typ: tar.TypeChar, devMajor: 1}} }},
		{name: "block device is refused", refused: true,
			entries: func(o string) []tarEntry { return []tarEntry{{name: "sda", typ: tar.TypeBlock, devMajor: 8}} }},
		{name: "FIFO is refused", refused: true,
			entries: func(o string) []tarEntry { return []tarEntry{{name: "pipe", typ: tar.TypeFifo}} }},
		{name: "content beyond the byte limit is refused", refused: true, opts: []rootfs.UnpackOption{rootfs.WithMaxBytes(mib)},
			entries: func(o string) []tarEntry { return []tarEntry{{name: "big", typ: tar.TypeReg, size: 2 * mib}} }},
		{name: "zstd decompression bomb is refused", refused: true, opts: []rootfs.UnpackOption{rootfs.WithMaxBytes(2 * mib)}, compress: zstdBytes,
			entries: func(o string) []tarEntry {
				return []tarEntry{{name: "a", typ: tar.TypeReg, size: mib}, {name: "b", typ: tar.TypeReg, size: mib}, {name: "c", typ: tar.TypeReg, size: 8 * mib}}
			}},
		{name: "gzip decompression bomb is refused", refused: true, opts: []rootfs.UnpackOption{rootfs.WithMaxBytes(2 * mib)}, compress: gzipBytes,
			entries: func(o string) []tarEntry { return []tarEntry{{name: "a", typ: tar.TypeReg, size: 8 * mib}} }},
		{name: "too many entries are refused", refused: true, opts: []rootfs.UnpackOption{rootfs.WithMaxEntries(10)},
			entries: func(o string) []tarEntry {
				var es []tarEntry
				for i := range 11 {
					es = append(es, reg(strings.Repeat("f", i+1), "x"))
				}
				return es
			}},
		{name: "too deep a path is refused", refused: true, opts: []rootfs.UnpackOption{rootfs.WithMaxDepth(4)},
			entries: func(o string) []tarEntry { return []tarEntry{reg("a/b/c/d/e", "x")} }},
		{name: "too long a name is refused", refused: true, opts: []rootfs.UnpackOption{rootfs.WithMaxNameLen(100)},
			entries: func(o string) []tarEntry { return []tarEntry{reg(strings.Repeat("n", 200), "x")} }},
		{name: "too long a name under a limit shorter than the quoted prefix is refused", refused: true, opts: []rootfs.UnpackOption{rootfs.WithMaxNameLen(10)},
			entries: func(o string) []tarEntry { return []tarEntry{reg(strings.Repeat("n", 20), "x")} }},
		{name: "too long a link target is refused", refused: true, opts: []rootfs.UnpackOption{rootfs.WithMaxNameLen(100)},
			entries: func(o string) []tarEntry { return []tarEntry{sym("l", "/"+strings.Repeat("n", 200))} }},
		{name: "file replacing a symlink to an outside file does not write through it",
			entries: func(o string) []tarEntry { return []tarEntry{sym("l", o+"/secret"), reg("l", "pwned")} }},
		{name: "directory replacing a symlink to an outside directory does not write through it",
			entries: func(o string) []tarEntry {
				return []tarEntry{sym("l", o), {name: "l/", typ: tar.TypeDir, mode: 0o755}, reg("l/evil", "pwned")}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			parent := t.TempDir()
			outside := filepath.Join(parent, "outside")
			require.NoError(t, os.Mkdir(outside, 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(outside, "secret"), []byte("keep"), 0o644))
			before := snapshot(t, parent)

			data := buildTar(t, c.entries(outside))
			if c.compress != nil {
				data = c.compress(t, data)
			}
			dst := filepath.Join(parent, "dst")
			err := rootfs.UnpackReader(context.Background(), bytes.NewReader(data), dst, c.opts...)

			if c.refused {
				require.Error(t, err)
				t.Logf("refused: %v", err)
				assert.ErrorIs(t, err, rootfs.ErrUnsafe)
				var ee *rootfs.EntryError
				assert.ErrorAs(t, err, &ee)
				assert.Equal(t, before, snapshot(t, parent), "refused archive left something behind or wrote outside")
				return
			}
			require.NoError(t, err)
			after := snapshot(t, parent)
			var outsideAfter []string
			for _, l := range after {
				if strings.HasPrefix(l, "outside") || strings.HasPrefix(l, ". ") {
					outsideAfter = append(outsideAfter, l)
				}
			}
			assert.Equal(t, before, outsideAfter, "wrote outside the target")
			fi, err := os.Lstat(filepath.Join(dst, "l"))
			require.NoError(t, err)
			assert.False(t, fi.Mode()&os.ModeSymlink != 0, "the symlink should have been replaced, not followed")
		})
	}
}

func TestUnpackFormats(t *testing.T) {
	raw := buildTar(t, []tarEntry{
		{name: "./", typ: tar.TypeDir, mode: 0o755},
		{name: "bin/", typ: tar.TypeDir, mode: 0o755},
		{name: "bin/tool", typ: tar.TypeReg, body: "#!/bin/sh\n", mode: 0o755},
		{name: "bin/alias", typ: tar.TypeSymlink, link: "tool"},
		{name: "bin/abs", typ: tar.TypeSymlink, link: "/bin/tool"},
		{name: "bin/hard", typ: tar.TypeLink, link: "bin/tool"},
		{name: "ro/", typ: tar.TypeDir, mode: 0o555},
		{name: "ro/file", typ: tar.TypeReg, body: "inside a read-only dir", mode: 0o444},
	})
	for _, f := range []struct {
		name string
		data []byte
	}{{"tar", raw}, {"tar.gz", gzipBytes(t, raw)}, {"tar.zst", zstdBytes(t, raw)}} {
		t.Run(f.name+" is unpacked with modes and links", func(t *testing.T) {
			dir := t.TempDir()
			archive := filepath.Join(dir, "image."+f.name)
			require.NoError(t, os.WriteFile(archive, f.data, 0o644))
			dst := filepath.Join(dir, "root")
			require.NoError(t, rootfs.Unpack(context.Background(), archive, dst))

			body, err := os.ReadFile(filepath.Join(dst, "bin/alias"))
			require.NoError(t, err)
			assert.Equal(t, "#!/bin/sh\n", string(body))
			target, err := os.Readlink(filepath.Join(dst, "bin/abs"))
			require.NoError(t, err)
			assert.Equal(t, "/bin/tool", target)
			a, _ := os.Stat(filepath.Join(dst, "bin/tool"))
			b, _ := os.Stat(filepath.Join(dst, "bin/hard"))
			assert.True(t, os.SameFile(a, b), "hard link")
			assert.Equal(t, os.FileMode(0o755), a.Mode().Perm())
			ro, _ := os.Stat(filepath.Join(dst, "ro"))
			assert.Equal(t, os.FileMode(0o555), ro.Mode().Perm())
			os.Chmod(filepath.Join(dst, "ro"), 0o755) // let t.TempDir clean up
		})
	}
}

func TestUnpackSetuid(t *testing.T) {
	data := buildTar(t, []tarEntry{{name: "su", typ: tar.TypeReg, body: "x", mode: 0o4755}, {name: "sg", typ: tar.TypeReg, body: "x", mode: 0o2755}})
	for _, c := range []struct {
		name    string
		trusted bool
		want    os.FileMode
	}{
		{"untrusted archive loses setuid and setgid", false, 0},
		{"trusted archive keeps setuid and setgid", true, os.ModeSetuid | os.ModeSetgid},
	} {
		t.Run(c.name, func(t *testing.T) {
			dst := filepath.Join(t.TempDir(), "root")
			var opts []rootfs.UnpackOption
			if c.trusted {
				opts = append(opts, rootfs.WithTrusted())
			}
			require.NoError(t, rootfs.UnpackReader(context.Background(), bytes.NewReader(data), dst, opts...))
			su, _ := os.Stat(filepath.Join(dst, "su"))
			sg, _ := os.Stat(filepath.Join(dst, "sg"))
			assert.Equal(t, c.want, (su.Mode()|sg.Mode())&(os.ModeSetuid|os.ModeSetgid))
			assert.Equal(t, os.FileMode(0o755), su.Mode().Perm())
		})
	}
}

func TestUnpackDevicesWhenAllowed(t *testing.T) {
	testenv.RequireRoot(t)
	data := buildTar(t, []tarEntry{{name: "dev/", typ: tar.TypeDir, mode: 0o755}, {name: "dev/pipe", typ: tar.TypeFifo, mode: 0o600}, {name: "dev/null", typ: tar.TypeChar, devMajor: 1, mode: 0o666}})
	dst := filepath.Join(t.TempDir(), "root")
	require.NoError(t, rootfs.UnpackReader(context.Background(), bytes.NewReader(data), dst, rootfs.WithDevices()))
	fi, err := os.Lstat(filepath.Join(dst, "dev/pipe"))
	require.NoError(t, err)
	assert.NotZero(t, fi.Mode()&os.ModeNamedPipe)
	fi, err = os.Lstat(filepath.Join(dst, "dev/null"))
	require.NoError(t, err)
	assert.NotZero(t, fi.Mode()&os.ModeCharDevice)
}

func TestUnpackBadInput(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "exists")
	require.NoError(t, os.Mkdir(existing, 0o755))
	err := rootfs.UnpackReader(context.Background(), bytes.NewReader(buildTar(t, nil)), existing)
	assert.ErrorIs(t, err, rootfs.ErrExists, "existing destination")

	err = rootfs.Unpack(context.Background(), filepath.Join(dir, "missing.tar"), filepath.Join(dir, "x"))
	assert.ErrorIs(t, err, rootfs.ErrNotFound)
	assert.Contains(t, err.Error(), "missing.tar")

	err = rootfs.UnpackReader(context.Background(), strings.NewReader(strings.Repeat("garbage!", 200)), filepath.Join(dir, "y"))
	assert.ErrorIs(t, err, rootfs.ErrInvalid, "not a tar")
	assert.NoFileExists(t, filepath.Join(dir, "y"))

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = rootfs.UnpackReader(ctx, bytes.NewReader(buildTar(t, []tarEntry{{name: "a", typ: tar.TypeReg, body: "x"}})), filepath.Join(dir, "z"))
	assert.True(t, errors.Is(err, context.Canceled))
	entries, _ := os.ReadDir(dir)
	assert.Len(t, entries, 1, "only the pre-existing directory remains")
}

func TestUnpackIntoAnExistingDirectoryNeverWritesThroughItsLinks(t *testing.T) {
	parent := t.TempDir()
	outside := filepath.Join(parent, "outside")
	require.NoError(t, os.Mkdir(outside, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(outside, "secret"), []byte("keep"), 0o644))
	dst := filepath.Join(parent, "sandbox")
	require.NoError(t, os.Mkdir(dst, 0o755))
	// What a task image left in the directory before the fetch.
	require.NoError(t, os.Symlink(outside, filepath.Join(dst, "evil")))
	require.NoError(t, os.Symlink(filepath.Join(outside, "secret"), filepath.Join(dst, "secret")))
	require.NoError(t, os.WriteFile(filepath.Join(dst, "kept"), []byte("mine"), 0o644))
	root, err := os.OpenRoot(dst)
	require.NoError(t, err)
	defer root.Close()
	write := func(entries []tarEntry) error {
		archive := filepath.Join(t.TempDir(), "a.tar")
		require.NoError(t, os.WriteFile(archive, buildTar(t, entries), 0o644))
		return rootfs.UnpackInto(context.Background(), archive, root)
	}
	before := snapshot(t, outside)

	err = write([]tarEntry{{name: "evil/owned", typ: tar.TypeReg, body: "pwned"}})
	require.ErrorIs(t, err, rootfs.ErrUnsafe, "a write through the directory's own link to the host is refused")
	err = write([]tarEntry{{name: "up", typ: tar.TypeSymlink, link: "evil/.."}})
	require.ErrorIs(t, err, rootfs.ErrUnsafe, "a relative link through an absolute one is refused")

	require.NoError(t, write([]tarEntry{{name: "secret", typ: tar.TypeReg, body: "replaced"}, {name: "app/run", typ: tar.TypeReg, body: "run"}}))
	assert.Equal(t, before, snapshot(t, outside), "the host directory is unchanged")
	got, err := os.ReadFile(filepath.Join(dst, "secret"))
	require.NoError(t, err)
	assert.Equal(t, "replaced", string(got), "the link was replaced, not written through")
	got, err = os.ReadFile(filepath.Join(dst, "kept"))
	require.NoError(t, err)
	assert.Equal(t, "mine", string(got), "what was there stays")
	assert.FileExists(t, filepath.Join(dst, "app", "run"))
}

func TestUnpackRefusesBadOptions(t *testing.T) {
	data := buildTar(t, []tarEntry{{name: "a", typ: tar.TypeReg, body: "x"}})
	for _, tt := range []struct {
		opt  rootfs.UnpackOption
		want string
	}{
		{rootfs.WithMaxBytes(0), "WithMaxBytes(0)"},
		{rootfs.WithMaxEntries(-1), "WithMaxEntries(-1)"},
		{rootfs.WithMaxDepth(0), "WithMaxDepth(0)"},
		{rootfs.WithMaxNameLen(0), "WithMaxNameLen(0)"},
	} {
		dst := filepath.Join(t.TempDir(), "dst")
		err := rootfs.UnpackReader(context.Background(), bytes.NewReader(data), dst, tt.opt)
		require.ErrorIs(t, err, rootfs.ErrInvalid)
		assert.Contains(t, err.Error(), tt.want)
		assert.NoDirExists(t, dst)
	}
}
