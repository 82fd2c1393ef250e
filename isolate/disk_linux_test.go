package isolate

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gleaner/gleaner/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// makeSandbox builds a tree with hard links, a symlink to a big file
// outside, nested directories and many small files.
func makeSandbox(t *testing.T) (dir string, outside string) {
	t.Helper()
	base := testenv.TempDirOnDisk(t)
	dir = filepath.Join(base, "sandbox")
	outside = filepath.Join(base, "outside")
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "a", "b", "c"), 0o755))
	require.NoError(t, os.Mkdir(outside, 0o755))
	big := make([]byte, 1<<20)
	for i := range big {
		big[i] = byte(i)
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a", "big"), big, 0o644))
	require.NoError(t, os.Link(filepath.Join(dir, "a", "big"), filepath.Join(dir, "a", "b", "big-link")))
	require.NoError(t, os.Link(filepath.Join(dir, "a", "big"), filepath.Join(dir, "big-link2")))
	require.NoError(t, os.WriteFile(filepath.Join(outside, "huge"), make([]byte, 4<<20), 0o644))
	require.NoError(t, os.Symlink(filepath.Join(outside, "huge"), filepath.Join(dir, "a", "b", "c", "to-huge")))
	require.NoError(t, os.Symlink(outside, filepath.Join(dir, "to-outside-dir")))
	for i := range 300 {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "a", "b", "f"+strconv.Itoa(i)), []byte("x"), 0o644))
	}
	return dir, outside
}

// duBytes runs GNU du -s -x with byte blocks, the reference.
func duBytes(t *testing.T, dir string) int64 {
	t.Helper()
	du := testenv.RequireBinary(t, "du")
	out, err := exec.Command(du, "-s", "-x", "-B1", dir).Output()
	require.NoError(t, err)
	n, err := strconv.ParseInt(strings.Fields(string(out))[0], 10, 64)
	require.NoError(t, err)
	return n
}

func scanAll(t *testing.T, dir string, budget int) (bytes int64, ticks int) {
	t.Helper()
	s, err := newDuScan(dir)
	require.NoError(t, err)
	defer s.close()
	for {
		ticks++
		left, done := s.step(budget)
		if done {
			return s.bytes, ticks
		}
		require.Zero(t, left, "an unfinished step spends its whole budget")
		require.Less(t, ticks, 100000)
	}
}

func TestDuMatchesGNUDu(t *testing.T) {
	dir, _ := makeSandbox(t)
	want := duBytes(t, dir)
	got, _ := scanAll(t, dir, DefaultDiskBudget)
	assert.Equal(t, want, got, "du -s -x -B1")
	// The big file counts once despite three names; the 4 MiB file behind
	// the symlink does not count.
	assert.Less(t, got, int64(3<<20))
	assert.Greater(t, got, int64(1<<20))
}

func TestDuBoundedWorkPerTick(t *testing.T) {
	dir, _ := makeSandbox(t)
	whole, ticks1 := scanAll(t, dir, DefaultDiskBudget)
	assert.Equal(t, 1, ticks1)
	small, ticks := scanAll(t, dir, 25)
	assert.Equal(t, whole, small, "a resumed scan sums the same")
	assert.GreaterOrEqual(t, ticks, 300/25, "about 310 entries at 25 per tick")
}

func TestDuDoesNotCrossMountPoints(t *testing.T) {
	// Mounting needs root. The tmpfs is mounted under this test's own
	// temporary directory and unmounted at cleanup.
	testenv.RequireRoot(t)
	dir, _ := makeSandbox(t)
	before := duBytes(t, dir)
	mnt := filepath.Join(dir, "mnt")
	require.NoError(t, os.Mkdir(mnt, 0o755))
	withMnt := duBytes(t, dir)
	require.NoError(t, unix.Mount("tmpfs", mnt, "tmpfs", 0, "size=16m"))
	t.Cleanup(func() { _ = unix.Unmount(mnt, unix.MNT_DETACH) })
	require.NoError(t, os.WriteFile(filepath.Join(mnt, "inside"), make([]byte, 8<<20), 0o644))
	got, _ := scanAll(t, dir, DefaultDiskBudget)
	assert.Equal(t, duBytes(t, dir), got, "du -s -x agrees")
	assert.LessOrEqual(t, got, withMnt, "nothing under the mount point counts")
	assert.GreaterOrEqual(t, got, before)
}

func TestDiskWatcherCallsBackOverLimit(t *testing.T) {
	goroutines := runtime.NumGoroutine()
	dir, _ := makeSandbox(t)
	small := t.TempDir()
	w, err := NewDiskWatcher(WithDiskInterval(10*time.Millisecond), WithDiskBudget(50))
	require.NoError(t, err)
	over := make(chan DiskUsage, 10)
	require.NoError(t, w.Watch("big", dir, 512<<10, func(u DiskUsage) { over <- u }))
	require.NoError(t, w.Watch("small", small, 1<<20, func(u DiskUsage) { t.Errorf("small reported over: %+v", u) }))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	select {
	case u := <-over:
		assert.Equal(t, "big", u.Task)
		assert.Equal(t, dir, u.Dir)
		assert.Greater(t, u.Bytes, u.LimitBytes)
	case <-time.After(10 * time.Second):
		t.Fatal("no over-limit callback")
	}
	testenv.Eventually(t, 30*time.Second, func() bool { _, ok := w.Usage("small"); return ok })
	w.Unwatch("big")
	cancel()
	assert.ErrorIs(t, <-done, context.Canceled)
	_, ok := w.Usage("big")
	assert.False(t, ok, "unwatched")
	requireGoroutines(t, goroutines)
}

func TestDiskWatcherTickIsSerialisedAndBounded(t *testing.T) {
	dir, _ := makeSandbox(t)
	w, err := NewDiskWatcher(WithDiskBudget(40))
	require.NoError(t, err)
	require.NoError(t, w.Watch("one", dir, 1<<40, func(DiskUsage) {}))
	require.NoError(t, w.Watch("two", dir, 1<<40, func(DiskUsage) {}))
	ctx := context.Background()
	w.Tick(ctx)
	_, ok1 := w.Usage("one")
	_, ok2 := w.Usage("two")
	assert.False(t, ok1 || ok2, "40 entries cannot finish a 300-entry tree")
	for range 40 {
		w.Tick(ctx)
	}
	u1, ok1 := w.Usage("one")
	u2, ok2 := w.Usage("two")
	require.True(t, ok1 && ok2)
	assert.Equal(t, u1.Bytes, u2.Bytes)
}

func TestDiskWatcherRejectsBadInput(t *testing.T) {
	w, err := NewDiskWatcher()
	require.NoError(t, err)
	var fe *FieldError
	require.ErrorAs(t, w.Watch("a/b", "/tmp", 1, func(DiskUsage) {}), &fe)
	assert.Equal(t, "name", fe.Field)
	require.ErrorAs(t, w.Watch("a", "rel", 1, func(DiskUsage) {}), &fe)
	assert.Equal(t, "dir", fe.Field)
	require.ErrorAs(t, w.Watch("a", "/tmp", 0, func(DiskUsage) {}), &fe)
	assert.Equal(t, "limitBytes", fe.Field)
	require.ErrorAs(t, w.Watch("a", "/tmp", 1, nil), &fe)
	assert.Equal(t, "onOver", fe.Field)
}

func TestDuDoesNotFollowDirectorySwappedForSymlink(t *testing.T) {
	base := testenv.TempDirOnDisk(t)
	dir, outside := filepath.Join(base, "sandbox"), filepath.Join(base, "outside")
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "sub"), 0o755))
	require.NoError(t, os.Mkdir(outside, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(outside, "huge"), make([]byte, 4<<20), 0o644))

	s, err := newDuScan(dir)
	require.NoError(t, err)
	defer s.close()
	// One entry: the scan lists "sub" as a directory still to read.
	_, done := s.step(1)
	require.False(t, done)
	require.Len(t, s.pending, 1)
	require.Equal(t, "sub", s.pending[0].rel)

	// The task swaps the directory for a symlink to a large tree outside.
	require.NoError(t, os.Remove(filepath.Join(dir, "sub")))
	require.NoError(t, os.Symlink(outside, filepath.Join(dir, "sub")))
	for !done {
		_, done = s.step(1000)
	}
	assert.Less(t, s.bytes, int64(1<<20), "the scan followed the symlink out of the sandbox")
}

func TestDuDoesNotFollowAParentSwappedForSymlink(t *testing.T) {
	base := testenv.TempDirOnDisk(t)
	dir, outside := filepath.Join(base, "sandbox"), filepath.Join(base, "outside")
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "a", "b"), 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(outside, "b"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(outside, "b", "huge"), make([]byte, 4<<20), 0o644))

	s, err := newDuScan(dir)
	require.NoError(t, err)
	defer s.close()
	// Read the top and a: "a/b" is pending.
	var done bool
	for len(s.pending) == 0 || s.pending[len(s.pending)-1].rel != "a/b" {
		_, done = s.step(1)
		require.False(t, done)
	}
	// The task swaps a, above the pending directory's last component, for
	// a symlink to a tree outside that has a b too.
	require.NoError(t, os.RemoveAll(filepath.Join(dir, "a")))
	require.NoError(t, os.Symlink(outside, filepath.Join(dir, "a")))
	for !done {
		_, done = s.step(1000)
	}
	assert.Less(t, s.bytes, int64(1<<20), "the scan followed a parent symlink out of the sandbox")
}

func TestDiskWatcherRefusesBadOptions(t *testing.T) {
	for _, tt := range []struct {
		opt    DiskWatcherOption
		option string
	}{
		{WithDiskInterval(0), "WithDiskInterval"},
		{WithDiskInterval(-time.Second), "WithDiskInterval"},
		{WithDiskBudget(0), "WithDiskBudget"},
	} {
		_, err := NewDiskWatcher(tt.opt)
		var fe *FieldError
		require.ErrorAs(t, err, &fe)
		assert.Equal(t, tt.option, fe.Field)
		assert.ErrorIs(t, err, ErrInvalid)
	}
}

func TestLoggerOptionConfiguresBoth(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	w, err := NewDiskWatcher(WithLogger(log))
	require.NoError(t, err)
	assert.Same(t, log, w.log)
	c := isolatorConfig{}
	WithLogger(log).applyIsolator(&c)
	assert.Same(t, log, c.logger)
}
