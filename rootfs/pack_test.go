package rootfs_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gleaner/gleaner/rootfs"
)

func writeTree(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
	}
}

func TestPackIsReproducible(t *testing.T) {
	files := map[string]string{"app/run.sh": "#!/bin/sh\necho hi\n", "app/conf/a.conf": "a=1\n", "z": "last", "lib/x.so": "elf"}
	pack := func(dir string) []byte {
		var buf bytes.Buffer
		require.NoError(t, rootfs.Pack(context.Background(), dir, &buf))
		return buf.Bytes()
	}
	a, b := t.TempDir(), t.TempDir()
	writeTree(t, a, files)
	require.NoError(t, os.Symlink("run.sh", filepath.Join(a, "app/start")))
	// Same tree, written in another order, at other times, with other
	// directory mtimes.
	for _, name := range []string{"z", "lib/x.so", "app/conf/a.conf", "app/run.sh"} {
		writeTree(t, b, map[string]string{name: files[name]})
	}
	require.NoError(t, os.Symlink("run.sh", filepath.Join(b, "app/start")))
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	require.NoError(t, os.Chtimes(filepath.Join(b, "app/run.sh"), old, old))

	pa, pb := pack(a), pack(b)
	assert.Equal(t, digestOf(pa), digestOf(pb), "same tree, same bytes")

	// The bundle unpacks to the same tree with fixed times.
	dst := filepath.Join(t.TempDir(), "out")
	require.NoError(t, rootfs.UnpackReader(context.Background(), bytes.NewReader(pa), dst))
	got, err := os.ReadFile(filepath.Join(dst, "app/start"))
	require.NoError(t, err)
	assert.Equal(t, files["app/run.sh"], string(got))
	fi, err := os.Stat(filepath.Join(dst, "app/run.sh"))
	require.NoError(t, err)
	assert.True(t, fi.ModTime().Equal(time.Unix(0, 0)), "every entry has the Unix epoch as mtime")

	// A changed byte changes the digest.
	writeTree(t, b, map[string]string{"z": "lasT"})
	assert.NotEqual(t, digestOf(pa), digestOf(pack(b)))
}

func TestPackBundleWritesManifestAndPushesToFile(t *testing.T) {
	src, out := t.TempDir(), t.TempDir()
	writeTree(t, src, map[string]string{"app/run.sh": "echo hi\n"})
	m, err := rootfs.PackBundle(context.Background(), src, out, rootfs.Manifest{Name: "web", Version: "1.2", Base: rootfs.Ref{Name: "busybox", Version: "1"}})
	require.NoError(t, err)
	bundle, err := os.ReadFile(filepath.Join(out, "web-1.2.tar.zst"))
	require.NoError(t, err)
	assert.Equal(t, digestOf(bundle), m.SHA256)
	assert.Equal(t, int64(len(bundle)), m.Size)
	assert.Equal(t, "web-1.2.tar.zst", m.Bundle)

	read, err := rootfs.ReadManifest(filepath.Join(out, "web-1.2.manifest.json"))
	require.NoError(t, err)
	assert.Equal(t, m, read)

	store := t.TempDir()
	f := newFetcher(t, rootfs.WithFileRoots(store))
	dst := "file://" + store + "/tasks/web-1.2.tar.zst"
	require.NoError(t, f.Push(context.Background(), filepath.Join(out, m.Bundle), dst))
	obj, err := f.Fetch(context.Background(), dst, rootfs.WithSHA256(m.SHA256))
	require.NoError(t, err)
	assert.Equal(t, m.Size, obj.Size)
	entries, _ := os.ReadDir(filepath.Join(store, "tasks"))
	assert.Len(t, entries, 1, "no temporary file left next to the pushed object")
}

func TestPackBadInput(t *testing.T) {
	src := t.TempDir()
	good := rootfs.Manifest{Name: "web", Version: "1", Base: rootfs.Ref{Name: "busybox", Version: "1"}}
	for _, c := range []struct {
		name  string
		dir   string
		m     func(rootfs.Manifest) rootfs.Manifest
		field string
		want  error
	}{
		{"missing base version is invalid", src, func(m rootfs.Manifest) rootfs.Manifest { m.Base.Version = ""; return m }, "base version", rootfs.ErrInvalid},
		{"name with a slash is invalid", src, func(m rootfs.Manifest) rootfs.Manifest { m.Name = "a/b"; return m }, `manifest name "a/b"`, rootfs.ErrInvalid},
		{"missing bundle directory is not found", src + "/absent", func(m rootfs.Manifest) rootfs.Manifest { return m }, "absent", rootfs.ErrNotFound},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := t.TempDir()
			_, err := rootfs.PackBundle(context.Background(), c.dir, out, c.m(good))
			require.ErrorIs(t, err, c.want)
			assert.Contains(t, err.Error(), c.field)
			entries, _ := os.ReadDir(out)
			assert.Empty(t, entries)
		})
	}
}

func TestPushBundleRefusesABundleNameOutsideTheManifestDirectory(t *testing.T) {
	dir, store := t.TempDir(), t.TempDir()
	secret := filepath.Join(dir, "secret")
	require.NoError(t, os.WriteFile(secret, []byte("keep"), 0o600))
	mdir := filepath.Join(dir, "m")
	require.NoError(t, os.Mkdir(mdir, 0o755))
	manifest := filepath.Join(mdir, "web-1.manifest.json")
	require.NoError(t, os.WriteFile(manifest, []byte(`{"name":"web","version":"1","base":{"name":"busybox","version":"1"},`+
		`"sha256":"`+digestOf([]byte("keep"))+`","bundle":"../secret"}`), 0o644))

	_, err := newFetcher(t).PushBundle(context.Background(), manifest, "file://"+store)
	require.ErrorIs(t, err, rootfs.ErrInvalid)
	assert.Contains(t, err.Error(), `manifest bundle "../secret"`)
	entries, _ := os.ReadDir(store)
	assert.Empty(t, entries, "nothing may be uploaded")
}
