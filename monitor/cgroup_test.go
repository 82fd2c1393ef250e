//go:build linux

package monitor

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gleaner/gleaner/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCgroupFixtures(t *testing.T) {
	tests := []struct {
		name      string
		version   int
		cpu1      float64 // CPU seconds in snapshot 1
		cpuGrowth float64 // seconds used between the snapshots
		memory    uint64
	}{
		// v1: cpuacct.usage in ns; working set = memory.usage_in_bytes
		// - total_inactive_file (1172811776 - 772939776).
		{"cgroup-v1", 1, 469.788965715, 0.75, 1172811776 - 772939776},
		// v2: cpu.stat usage_usec; working set = memory.current -
		// inactive_file (536870912 - 134217728).
		{"cgroup-v2", 2, 464.014207, 0.25, 536870912 - 134217728},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			cg, err := NewCgroup(filepath.Join(f.root(tt.name), "sys/fs/cgroup"), "/gleaner")
			require.NoError(t, err)
			assert.Equal(t, tt.version, cg.Version())
			u1, err := cg.Usage(context.Background())
			require.NoError(t, err)
			assert.InDelta(t, tt.cpu1, u1.CPUSeconds, 1e-9)
			assert.Equal(t, tt.memory, u1.MemoryBytes)
			f.advance()
			u2, err := cg.Usage(context.Background())
			require.NoError(t, err)
			assert.InDelta(t, tt.cpuGrowth, u2.CPUSeconds-u1.CPUSeconds, 1e-9)
		})
	}
}

func TestCgroupMissing(t *testing.T) {
	root := copyFixture(t, "cgroup-v1", "1")
	cgroot := filepath.Join(root, "sys/fs/cgroup")
	_, err := NewCgroup(cgroot, "/absent")
	require.ErrorIs(t, err, ErrNotFound)

	cg, err := NewCgroup(cgroot, "/gleaner")
	require.NoError(t, err)
	require.NoError(t, os.RemoveAll(filepath.Join(cgroot, "cpuacct/gleaner")))
	_, err = cg.Usage(context.Background())
	assert.ErrorIs(t, err, ErrNotFound, "a cgroup removed after start")
}

func TestCgroupV2WithoutMemoryController(t *testing.T) {
	root := copyFixture(t, "cgroup-v2", "1")
	cgroot := filepath.Join(root, "sys/fs/cgroup")
	require.NoError(t, os.Remove(filepath.Join(cgroot, "gleaner/memory.current")))
	cg, err := NewCgroup(cgroot, "/gleaner")
	require.NoError(t, err)
	_, err = cg.Usage(context.Background())
	assert.ErrorIs(t, err, ErrNotSupported)
}

func TestCgroupMalformed(t *testing.T) {
	root := copyFixture(t, "cgroup-v1", "1")
	path := filepath.Join(root, "sys/fs/cgroup/cpuacct/gleaner/cpuacct.usage")
	require.NoError(t, os.WriteFile(path, []byte("12ab\n"), 0o644))
	cg, err := NewCgroup(filepath.Join(root, "sys/fs/cgroup"), "/gleaner")
	require.NoError(t, err)
	_, err = cg.Usage(context.Background())
	var pe *ParseError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, path, pe.File)
	assert.Equal(t, 1, pe.Line)
	assert.Equal(t, "12ab", pe.Value)
}

// makeV1Cgroup creates a cgroup with a unique name in the cpuacct and memory
// v1 hierarchies and removes it when the test ends. It returns the path
// relative to the hierarchies.
func makeV1Cgroup(t *testing.T) string {
	t.Helper()
	testenv.RequireCgroupV1(t, "cpuacct", "memory")
	name := fmt.Sprintf("/gleaner-test-monitor-%d", rand.Uint64())
	var dirs []string
	for _, h := range []string{"cpuacct", "memory"} {
		dir := filepath.Join("/sys/fs/cgroup", h, name)
		require.NoError(t, os.Mkdir(dir, 0o755))
		dirs = append(dirs, dir)
	}
	t.Cleanup(func() {
		for _, d := range dirs {
			// rmdir fails while a killed task is still being torn down.
			for i := 0; i < 100; i++ {
				if err := os.Remove(d); err == nil || os.IsNotExist(err) {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
	})
	return name
}

// startInV1Cgroup starts a shell that moves itself into the cgroup, then
// execs a busy loop holding a 4 MB string: memory allocated after the move
// is charged to the cgroup (v1 does not move earlier charges).
func startInV1Cgroup(t *testing.T, name string) int {
	t.Helper()
	script := ""
	for _, h := range []string{"cpuacct", "memory"} {
		script += fmt.Sprintf("echo $$ > %s && ", filepath.Join("/sys/fs/cgroup", h, name, "cgroup.procs"))
	}
	script += `exec sh -c 'x=$(head -c 4000000 /dev/zero | tr "\\0" a); ` + busyLoop + `'`
	return startTree(t, script).Process.Pid
}

func TestCgroupLiveV1BusyChild(t *testing.T) {
	name := makeV1Cgroup(t)
	pid := startInV1Cgroup(t, name)

	cg, err := NewCgroup("/sys/fs/cgroup", name)
	require.NoError(t, err)
	assert.Equal(t, 1, cg.Version())
	ctx := context.Background()
	var u1 ResourceUsage
	testenv.Eventually(t, 30*time.Second, func() bool {
		u1, err = cg.Usage(ctx)
		return err == nil && u1.MemoryBytes > 4e6
	}, "child did not start in the cgroup")
	r1 := readBusy(t, pid)
	u1, err = cg.Usage(ctx)
	require.NoError(t, err)
	time.Sleep(time.Second)
	u2, err := cg.Usage(ctx)
	require.NoError(t, err)
	r2 := readBusy(t, pid)
	t.Logf("working set %d bytes", u2.MemoryBytes)
	assertBusyCores(t, (u2.CPUSeconds-u1.CPUSeconds)/r2.at.Sub(r1.at).Seconds(), r1, r2)
	assert.Greater(t, u2.MemoryBytes, uint64(4e6), "the 4 MB string is charged to the cgroup")
}

func TestCgroupLiveV2(t *testing.T) {
	// On a hybrid host the unified hierarchy has no controllers: cpu.stat
	// exists (core accounting) but memory.current does not, which must be
	// reported as not supported rather than as a missing cgroup.
	mount := testenv.RequireCgroupV2(t)
	name := fmt.Sprintf("/gleaner-test-monitor-%d", rand.Uint64())
	dir := filepath.Join(mount, name)
	require.NoError(t, os.Mkdir(dir, 0o755))
	t.Cleanup(func() { _ = os.Remove(dir) })

	cg, err := NewCgroup(mount, name)
	require.NoError(t, err)
	assert.Equal(t, 2, cg.Version())
	subtree, err := os.ReadFile(filepath.Join(mount, "cgroup.subtree_control"))
	require.NoError(t, err)
	_, err = cg.Usage(context.Background())
	if slices.Contains(strings.Fields(string(subtree)), "memory") {
		assert.NoError(t, err)
	} else {
		assert.ErrorIs(t, err, ErrNotSupported)
		assert.Contains(t, err.Error(), "memory controller is not enabled")
	}
}
