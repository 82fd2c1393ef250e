//go:build linux

package monitor

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gleaner/gleaner/internal/testenv"
	"github.com/prometheus/procfs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestProcessTreeFixture(t *testing.T) {
	// testdata/tree: real /proc/<pid>/stat lines with edited times.
	// Snapshot 1: 100 -> {101, 102 -> 103 -> 105}; pid 1 is not in the
	// tree. Snapshot 2: 103 exited and was reaped by 102 (102's cutime and
	// cstime now hold its final 45+15 ticks), 105 was reparented to 1,
	// and 104 is listed but has no stat (exited during the walk).
	page := uint64(os.Getpagesize())
	f := newFixture(t)
	tree, err := NewProcessTree(filepath.Join(f.root("tree"), "proc"), 100)
	require.NoError(t, err)

	u, err := tree.Usage(context.Background())
	require.NoError(t, err)
	assert.Equal(t, ResourceUsage{
		CPUSeconds:  (150 + 200 + 20 + 50 + 30) / 100.0,
		MemoryBytes: (1000 + 500 + 300 + 200 + 100) * page,
		Processes:   5,
	}, u)

	f.advance()
	u, err = tree.Usage(context.Background())
	require.NoError(t, err)
	// Growth: 100 +10, 101 +60, 102 +2 of its own, 103 +10 before it
	// exited (reaped into 102); 105 keeps the 30 ticks it used while in
	// the tree and adds nothing after leaving.
	assert.InDelta(t, 4.5+(10+60+2+10)/100.0, u.CPUSeconds, 1e-9)
	assert.Equal(t, (1000+600+300)*page, u.MemoryBytes)
	assert.Equal(t, 3, u.Processes)
}

func TestProcessTreeRootGone(t *testing.T) {
	tree, err := NewProcessTree(filepath.Join("testdata", "tree", "1", "proc"), 4242)
	require.NoError(t, err)
	_, err = tree.Usage(context.Background())
	assert.ErrorIs(t, err, ErrNotFound)
}

func TestProcessTreeBadStatNamesFile(t *testing.T) {
	root := copyFixture(t, "tree", "1")
	path := filepath.Join(root, "proc", "101", "stat")
	require.NoError(t, os.WriteFile(path, []byte("101 (sleep) S 100 23680"), 0o644))
	tree, err := NewProcessTree(filepath.Join(root, "proc"), 100)
	require.NoError(t, err)
	_, err = tree.Usage(context.Background())
	var pe *ParseError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, path, pe.File)
	assert.Equal(t, 1, pe.Line)
}

func TestProcessTreeParentLoopEnds(t *testing.T) {
	// 100's parent is 101 and 101's parent is 100: a loop that a reused
	// PID can produce in a non-atomic read of /proc.
	root := copyFixture(t, "tree", "1")
	for _, e := range []struct{ path, edit string }{
		{"100/stat", "100 (sh) S 101 "},
		{"101/stat", "101 (sleep) S 100 "},
	} {
		path := filepath.Join(root, "proc", e.path)
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		// Keep everything after the ppid field.
		fields := strings.SplitN(string(b), " ", 5)
		require.NoError(t, os.WriteFile(path, []byte(e.edit+fields[4]), 0o644))
	}
	tree, err := NewProcessTree(filepath.Join(root, "proc"), 100)
	require.NoError(t, err)
	done := make(chan error, 1)
	var u ResourceUsage
	go func() {
		var err error
		u, err = tree.Usage(context.Background())
		done <- err
	}()
	select {
	case err := <-done:
		require.NoError(t, err)
		assert.Equal(t, 5, u.Processes, "100, 101, 102, 103, 105: each counted once")
	case <-time.After(10 * time.Second):
		t.Fatal("Usage did not return: the walk loops")
	}
}

// startTree starts sh -c script in its own process group and stops the
// whole group when the test ends.
func startTree(t testing.TB, script string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sh", "-c", script)
	cmd.SysProcAttr = newProcessGroup()
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		killGroup(cmd.Process.Pid)
		_ = cmd.Wait()
	})
	return cmd
}

// busyLoop is a shell loop that keeps one CPU busy.
const busyLoop = `while :; do :; done`

func TestProcessTreeLiveBusyChild(t *testing.T) {
	// The root shell idles; its child shell spins: the tree, read from
	// the root, must show the child's CPU, about one core when the
	// machine is otherwise idle.
	pidFile := filepath.Join(t.TempDir(), "pid")
	cmd := startTree(t, `sh -c '`+busyLoop+`' & echo $! > `+pidFile+`; wait`)
	tree, err := NewProcessTree("/proc", cmd.Process.Pid)
	require.NoError(t, err)
	ctx := context.Background()
	var busy int
	testenv.Eventually(t, 30*time.Second, func() bool {
		u, err := tree.Usage(ctx)
		data, _ := os.ReadFile(pidFile)
		busy, _ = strconv.Atoi(strings.TrimSpace(string(data)))
		return err == nil && u.Processes == 2 && busy > 0
	}, "busy child did not appear in the tree")

	r1 := readBusy(t, busy)
	u1, err := tree.Usage(ctx)
	require.NoError(t, err)
	time.Sleep(time.Second)
	u2, err := tree.Usage(ctx)
	require.NoError(t, err)
	r2 := readBusy(t, busy)
	assertBusyCores(t, (u2.CPUSeconds-u1.CPUSeconds)/r2.at.Sub(r1.at).Seconds(), r1, r2)
	assert.Equal(t, 2, u2.Processes)
	assert.Positive(t, u2.MemoryBytes)
}

// busyReading is what a process's own counters say, as a reference for a
// measurement of a tree or cgroup holding only that busy process.
type busyReading struct {
	at         time.Time
	cpuSeconds float64 // utime+stime, the data the tree sums
	runSeconds float64 // schedstat: time on a CPU
	waitSecs   float64 // schedstat: time runnable but waiting for a CPU
}

func readBusy(t *testing.T, pid int) busyReading {
	t.Helper()
	p, err := procfs.NewProc(pid)
	require.NoError(t, err)
	st, err := p.Stat()
	require.NoError(t, err)
	ss, err := p.Schedstat()
	require.NoError(t, err)
	return busyReading{at: time.Now(), cpuSeconds: st.CPUTime(), runSeconds: float64(ss.RunningNanoseconds) / 1e9, waitSecs: float64(ss.WaitingNanoseconds) / 1e9}
}

// assertBusyCores checks a measurement of one spinning process over the
// interval between two reference readings. The process wants one whole
// core all the time: it is either running or waiting in the run queue
// (schedstat). On an idle machine it gets about one core; on this shared
// 2-CPU machine it may get less, so the measurement is held to the
// kernel's own account of what the process got.
func assertBusyCores(t *testing.T, measured float64, r1, r2 busyReading) {
	t.Helper()
	wall := r2.at.Sub(r1.at).Seconds()
	demand := (r2.runSeconds - r1.runSeconds + r2.waitSecs - r1.waitSecs) / wall
	got := (r2.runSeconds - r1.runSeconds) / wall
	ticks := (r2.cpuSeconds - r1.cpuSeconds) / wall
	t.Logf("measured %.2f cores; the process wanted %.2f cores, ran %.2f (schedstat), %.2f (stat ticks)", measured, demand, got, ticks)
	assert.InDelta(t, 1, demand, 0.15, "a spinning process wants one core all the time")
	assert.Greater(t, measured, 0.02, "a spinning process must show")
	assert.Less(t, measured, 1.1, "one process cannot use more than one core")
	assert.InDelta(t, got, measured, 0.06, "measurement agrees with the kernel's run time")
}
