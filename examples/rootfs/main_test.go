package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gleaner/gleaner/internal/testenv"
	"github.com/gleaner/gleaner/rootfs"
)

func TestMain(m *testing.M) {
	rootfs.Init()
	os.Exit(m.Run())
}

func cli(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return out.String(), errb.String(), code
}

// TestOperatorFlow packs a base and a task, pushes, fetches, unpacks and
// runs the task, all through the command line.
func TestOperatorFlow(t *testing.T) {
	testenv.RequireRoot(t)
	bb := testenv.RequireBinary(t, "busybox")
	dir := t.TempDir()
	in := func(p ...string) string { return filepath.Join(append([]string{dir}, p...)...) }

	// A base tree with busybox, packed and unpacked into the base store.
	data, err := os.ReadFile(bb)
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(in("basetree", "bin"), 0o755))
	require.NoError(t, os.WriteFile(in("basetree", "bin", "busybox"), data, 0o755))
	require.NoError(t, os.Symlink("busybox", in("basetree", "bin", "sh")))
	require.NoError(t, os.Symlink("busybox", in("basetree", "bin", "cat")))
	_, stderr, code := cli(t, "pack", "-name", "busybox", "-version", "1", "-base", "scratch@0", "-out", in("out"), in("basetree"))
	require.Equal(t, 0, code, stderr)
	_, stderr, code = cli(t, "unpack", "-trusted", in("out", "busybox-1.tar.zst"), in("bases", "busybox", "1"))
	require.Equal(t, 0, code, stderr)

	// The task bundle.
	require.NoError(t, os.MkdirAll(in("task", "app"), 0o755))
	require.NoError(t, os.WriteFile(in("task", "app", "hello.sh"), []byte("echo hello from $(cat /app/name)\n"), 0o755))
	require.NoError(t, os.WriteFile(in("task", "app", "name"), []byte("web"), 0o644))
	out, stderr, code := cli(t, "pack", "-name", "web", "-version", "1", "-base", "busybox@1", "-out", in("out"), in("task"))
	require.Equal(t, 0, code, stderr)
	var m rootfs.Manifest
	require.NoError(t, json.Unmarshal([]byte(out), &m))
	assert.Equal(t, rootfs.Ref{Name: "busybox", Version: "1"}, m.Base)

	out, stderr, code = cli(t, "push", "-manifest", in("out", "web-1.manifest.json"), "file://"+in("store", "tasks"))
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "web-1.manifest.json")

	out, stderr, code = cli(t, "fetch", "-cache", in("cache"), "-sha256", m.SHA256, "file://"+in("store", "tasks", "web-1.tar.zst"))
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stderr, "100%", "progress bar")
	assert.Contains(t, out, m.SHA256)

	_, stderr, code = cli(t, "unpack", in("store", "tasks", "web-1.tar.zst"), in("unpacked"))
	require.Equal(t, 0, code, stderr)
	assert.FileExists(t, in("unpacked", "app", "hello.sh"))

	require.NoError(t, os.Mkdir(in("work"), 0o755))
	_, stderr, code = cli(t, "run", "-bases", in("bases"), "-manifest", in("store", "tasks", "web-1.manifest.json"),
		"-work", in("work"), "-stdout", in("run.out"), "--", "/bin/sh", "/app/hello.sh")
	require.Equal(t, 0, code, stderr)
	got, err := os.ReadFile(in("run.out"))
	require.NoError(t, err)
	assert.Equal(t, "hello from web\n", string(got))
	left, _ := os.ReadDir(in("work"))
	assert.Empty(t, left, "run leaves neither the task root nor the unpacked bundle behind")

	_, stderr, code = cli(t, "run", "-root", in("bases", "busybox", "1"), "-mode", "chroot", "--", "/bin/sh", "-c", "exit 3")
	assert.Equal(t, 3, code, stderr)
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	m := rootfs.Manifest{Name: "web", Version: "1", Base: rootfs.Ref{Name: "busybox", Version: "9"}, Bundle: "web-1.tar.zst"}
	data, _ := json.Marshal(m)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "web-1.manifest.json"), data, 0o644))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "bases", "busybox", "1"), 0o755))
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"missing base version names it", []string{"run", "-bases", filepath.Join(dir, "bases"), "-manifest", filepath.Join(dir, "web-1.manifest.json"), "--", "true"}, `base "busybox" version "9"`},
		{"checksum mismatch names the object", []string{"fetch", "-q", "-cache", dir, "-sha256", strings.Repeat("0", 64), "file://" + filepath.Join(dir, "web-1.manifest.json")}, "web-1.manifest.json: sha256"},
		{"unknown command", []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"pack without base", []string{"pack", "-name", "x", "-version", "1", dir}, `-base ""`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, stderr, code := cli(t, c.args...)
			assert.NotEqual(t, 0, code)
			assert.Contains(t, stderr, c.want)
		})
	}
}
