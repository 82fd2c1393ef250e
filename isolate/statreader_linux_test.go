package isolate

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containerd/cgroups/v3/cgroup2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The fixtures hold the same usage in v1 and v2 file formats.
var fixtureStats = Stats{
	CPUUsage:         2500 * time.Millisecond,
	CPUPeriods:       40,
	CPUThrottled:     12,
	CPUThrottledTime: 300 * time.Millisecond,
	MemoryBytes:      100 << 20,
	MemoryPeakBytes:  128 << 20,
	OOMKills:         2,
	PIDs:             17,
}

func fixtureV1(t *testing.T) *v1Group {
	t.Helper()
	root, err := filepath.Abs("testdata/v1")
	require.NoError(t, err)
	feat := Features{Mode: Hybrid, Pids: true, SwapAccounting: true, Mounts: map[string]string{}}
	for _, c := range []string{"cpu", "cpuacct", "memory", "pids"} {
		feat.Controllers = append(feat.Controllers, c)
		feat.Mounts[c] = filepath.Join(root, c)
	}
	subs, err := v1Subsystems(feat)
	require.NoError(t, err)
	g := &v1Group{feat: feat, subs: subs, path: "/task"}
	g.sr.files = v1StatFiles(g)
	return g
}

func fixtureV2(t *testing.T) *v2Group {
	t.Helper()
	root, err := filepath.Abs("testdata/v2")
	require.NoError(t, err)
	feat := Features{Mode: Unified, Pids: true, SwapAccounting: true, Mounts: map[string]string{"unified": root}}
	g := &v2Group{feat: feat, mount: root, path: "/task"}
	g.sr.files = v2StatFiles(g.dir(), feat)
	return g
}

func TestStatsFromV1Files(t *testing.T) {
	g := fixtureV1(t)
	defer g.sr.close()
	for range 2 { // the second read re-reads the kept-open files
		s, err := g.stats()
		require.NoError(t, err)
		assert.Equal(t, fixtureStats, s)
	}
}

func TestStatsFromV2Files(t *testing.T) {
	g := fixtureV2(t)
	defer g.sr.close()
	s, err := g.stats()
	require.NoError(t, err)
	assert.Equal(t, fixtureStats, s)
}

func TestStatsOfMissingCgroupIsNotFound(t *testing.T) {
	g := &v2Group{mount: t.TempDir(), path: "/gone"}
	g.sr.files = v2StatFiles(g.dir(), Features{})
	_, err := g.stats()
	assert.ErrorIs(t, err, ErrNotFound)
}

func TestReadLimitsBackFromV1Files(t *testing.T) {
	l, err := fixtureV1(t).readLimits()
	require.NoError(t, err)
	// The quota (1 CPU) was capped by the parent; the shares keep the
	// request (1.5 CPUs).
	assert.Equal(t, Limits{CPUs: 1.5, CPUMode: Hard, MemoryBytes: 256 << 20, MemorySwapBytes: 0, PidsMax: 0}, l)
}

func TestReadLimitsBackFromV2Files(t *testing.T) {
	l, err := fixtureV2(t).readLimits()
	require.NoError(t, err)
	assert.Equal(t, Limits{CPUs: 0.5, CPUMode: Hard, MemoryBytes: 256 << 20, MemorySwapBytes: 0, PidsMax: 0}, l)
	assert.Equal(t, uint64(59), cgroup2.ConvertCPUSharesToCgroupV2Value(shares(0.5)), "fixture weight is 0.5 CPU's")
}

func TestReadSoftLimitsBackFromV2Weight(t *testing.T) {
	g := fixtureV2(t)
	g.path = "/soft"
	l, err := g.readLimits()
	require.NoError(t, err)
	assert.Equal(t, Soft, l.CPUMode)
	assert.InDelta(t, 0.5, l.CPUs, 0.01, "weight 59 maps back to about 512 shares")
	assert.Equal(t, int64(-1), l.MemorySwapBytes, "swap.max max is unlimited")
	assert.Equal(t, int64(64), l.PidsMax)
}

func TestStatsAfterCloseDoNotReopen(t *testing.T) {
	g := fixtureV1(t)
	_, err := g.stats()
	require.NoError(t, err)
	g.sr.close() // what remove does once the cgroup is gone
	_, err = g.stats()
	assert.ErrorIs(t, err, ErrNotFound)
	assert.Nil(t, g.sr.open, "a read after close reopened the control files, which nothing closes")
}

// copyV2 copies the v2 fixture's task cgroup to a temporary mount, with
// file name set to content.
func copyV2(t *testing.T, name, content string) *v2Group {
	t.Helper()
	root := t.TempDir()
	src, err := filepath.Abs("testdata/v2/task")
	require.NoError(t, err)
	require.NoError(t, os.CopyFS(filepath.Join(root, "task"), os.DirFS(src)))
	require.NoError(t, os.WriteFile(filepath.Join(root, "task", name), []byte(content), 0o644))
	g := &v2Group{mount: root, path: "/task"}
	g.sr.files = v2StatFiles(g.dir(), Features{Pids: true})
	t.Cleanup(g.sr.close)
	return g
}

func TestStatsRefuseJunk(t *testing.T) {
	tests := []struct {
		name, file, content, want string
	}{
		{"junk usage is not 0", "memory.current", "12ab\n", `memory.current: line 1: "12ab"`},
		{"max is not a usage", "pids.current", "max\n", `pids.current: line 1: "max"`},
		{"junk in a key read", "memory.events", "oom 1\noom_kill x\n", `memory.events: line 2: oom_kill "x"`},
		{"working set needs inactive_file", "memory.stat", "anon 1\n", "memory.stat: line 2: inactive_file: required line missing"},
		{"CPU time needs usage_usec", "cpu.stat", "nr_periods 1\n", "cpu.stat: line 2: usage_usec: required line missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := copyV2(t, tt.file, tt.content).stats()
			require.ErrorIs(t, err, ErrMalformed)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestStatsReadAFileLargerThanTheBuffer(t *testing.T) {
	// memory.stat grows with every kernel release; a read that fills the
	// buffer must not cut it short (and lose inactive_file at its end).
	data, err := os.ReadFile("testdata/v2/task/memory.stat")
	require.NoError(t, err)
	var padded strings.Builder
	for padded.Len() < 10000 {
		fmt.Fprintf(&padded, "future_counter_%d 0\n", padded.Len())
	}
	g := copyV2(t, "memory.stat", padded.String()+string(data))
	s, err := g.stats()
	require.NoError(t, err)
	assert.Equal(t, fixtureStats, s)
}
