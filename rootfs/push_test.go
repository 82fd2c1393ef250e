package rootfs_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPushThatFailsLeavesTheTargetAndNoTemporaryFile(t *testing.T) {
	src := filepath.Join(t.TempDir(), "new")
	require.NoError(t, os.WriteFile(src, []byte("new contents"), 0o644))
	store := t.TempDir()
	target := filepath.Join(store, "obj")
	require.NoError(t, os.WriteFile(target, []byte("old contents"), 0o600))

	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the copy fails at its first read
	require.Error(t, newFetcher(t).Push(ctx, src, "file://"+target))

	got, err := os.ReadFile(target)
	require.NoError(t, err)
	assert.Equal(t, "old contents", string(got))
	entries, err := os.ReadDir(store)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "the temporary file was left behind")

	require.NoError(t, newFetcher(t).Push(context.Background(), src, "file://"+target))
	got, err = os.ReadFile(target)
	require.NoError(t, err)
	assert.Equal(t, "new contents", string(got))
	fi, err := os.Stat(target)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "a replaced object keeps its mode")
}
