package rootfs_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gleaner/gleaner/internal/testenv"
	"github.com/gleaner/gleaner/rootfs"
)

// baseStore packs a busybox tree and adds it as base "busybox" version "1".
func baseStore(t testing.TB) (rootfs.Bases, string) {
	t.Helper()
	tree := filepath.Join(t.TempDir(), "tree")
	buildBusyboxRoot(t, tree)
	archive := filepath.Join(t.TempDir(), "busybox-1.tar.zst")
	f, err := os.Create(archive)
	require.NoError(t, err)
	require.NoError(t, rootfs.Pack(context.Background(), tree, f))
	require.NoError(t, f.Close())
	bases := rootfs.Bases{Dir: filepath.Join(t.TempDir(), "bases")}
	base, err := bases.Add(context.Background(), "busybox", "1", archive, rootfs.WithTrusted())
	require.NoError(t, err)
	return bases, base
}

func TestLayerTaskWritesNeverReachTheBase(t *testing.T) {
	testenv.RequireRoot(t)
	_, base := baseStore(t)
	bundle := t.TempDir()
	writeTree(t, bundle, map[string]string{"app/run.sh": "echo from bundle\n", "etc/base-release": "overridden by bundle\n"})
	before := snapshot(t, base)

	for _, mode := range []rootfs.LayerMode{rootfs.LayerOverlay, rootfs.LayerCopy} {
		t.Run(mode.String(), func(t *testing.T) {
			if mode == rootfs.LayerOverlay {
				testenv.RequireMountNamespace(t)
			}
			r, err := rootfs.Layer(context.Background(), base, bundle, filepath.Join(t.TempDir(), "task"), mode)
			require.NoError(t, err)
			assert.Equal(t, mode, r.Mode)

			got, err := os.ReadFile(filepath.Join(r.Path, "etc/base-release"))
			require.NoError(t, err)
			assert.Equal(t, "overridden by bundle\n", string(got), "bundle wins over base")
			_, err = os.Stat(filepath.Join(r.Path, "bin/busybox"))
			require.NoError(t, err, "base files are present")

			// The task, running as root, writes everywhere it can.
			out, stderr, st := run(t, rootfs.Spec{Root: r.Path, Mode: rootfs.ModeChroot},
				"echo pwned > /bin/busybox; echo pwned > /etc/base-release; rm /bin/cat; touch /new; mkdir /bin/x; echo done")
			require.True(t, st.Success(), "status %v, stderr %s", st, stderr)
			assert.Equal(t, "done\n", out)

			assert.Equal(t, before, snapshot(t, base), "the base changed")
			bb, err := os.ReadFile(filepath.Join(base, "bin/busybox"))
			require.NoError(t, err)
			assert.Greater(t, len(bb), 100_000)
			require.NoError(t, r.Remove())
			assert.NoDirExists(t, r.Dir())
		})
	}
}

func TestLayerAutoUsesOverlayWhenMountable(t *testing.T) {
	testenv.RequireMountNamespace(t)
	_, base := baseStore(t)
	r, err := rootfs.Layer(context.Background(), base, "", filepath.Join(t.TempDir(), "task"), rootfs.LayerAuto)
	require.NoError(t, err)
	defer r.Remove()
	assert.Equal(t, rootfs.LayerOverlay, r.Mode)
	mounts, err := os.ReadFile("/proc/self/mounts")
	require.NoError(t, err)
	assert.Contains(t, string(mounts), r.Path)
	require.NoError(t, r.Remove())
	mounts, _ = os.ReadFile("/proc/self/mounts")
	assert.NotContains(t, string(mounts), r.Path, "Remove unmounts")
}

func TestBasesMissingVersionNamesIt(t *testing.T) {
	bases, _ := baseStore(t)
	_, err := bases.Path("busybox", "2")
	require.ErrorIs(t, err, rootfs.ErrNotFound)
	assert.Contains(t, err.Error(), `base "busybox" version "2"`)
	assert.Contains(t, err.Error(), "[1]", "lists the versions it has")

	_, err = bases.Add(context.Background(), "busybox", "1", "/nonexistent.tar")
	require.ErrorIs(t, err, rootfs.ErrExists, "versions are immutable")

	_, err = bases.Path("busybox", "../1")
	require.ErrorIs(t, err, rootfs.ErrInvalid)

	v, err := bases.Versions("busybox")
	require.NoError(t, err)
	assert.Equal(t, []string{"1"}, v)
}

func TestLayerBadInput(t *testing.T) {
	dir := t.TempDir()
	_, err := rootfs.Layer(context.Background(), filepath.Join(dir, "nobase"), "", filepath.Join(dir, "t"), rootfs.LayerCopy)
	require.ErrorIs(t, err, rootfs.ErrNotFound)
	assert.Contains(t, err.Error(), "nobase")
	assert.NoDirExists(t, filepath.Join(dir, "t"))
}
