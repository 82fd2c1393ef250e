package isolate

import (
	"math"
	"os"
	"testing"

	"github.com/containerd/cgroups/v3/cgroup2"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func ptr[T any](v T) *T { return &v }

func TestV1Mapping(t *testing.T) {
	for _, tc := range []struct {
		name   string
		l      Limits
		mode   CPUMode
		swap   bool
		parent int64
		want   *specs.LinuxResources
	}{
		{
			name: "hard half CPU sets quota 50ms per 100ms and 512 shares",
			l:    Limits{CPUs: 0.5, MemoryBytes: 64 << 20}, mode: Hard, parent: -1,
			want: &specs.LinuxResources{
				CPU:    &specs.LinuxCPU{Shares: ptr[uint64](512), Period: ptr[uint64](100000), Quota: ptr[int64](50000)},
				Memory: &specs.LinuxMemory{Limit: ptr[int64](64 << 20)},
			},
		},
		{
			name: "soft mode clears the quota",
			l:    Limits{CPUs: 2, CPUMode: Soft, MemoryBytes: 1 << 30}, mode: Soft, parent: -1,
			want: &specs.LinuxResources{
				CPU:    &specs.LinuxCPU{Shares: ptr[uint64](2048), Period: ptr[uint64](100000), Quota: ptr[int64](-1)},
				Memory: &specs.LinuxMemory{Limit: ptr[int64](1 << 30)},
			},
		},
		{
			name: "smallest CPUs gives the 1ms minimum quota and shares above the minimum 2",
			l:    Limits{CPUs: MinCPUs, MemoryBytes: MinMemoryBytes}, mode: Hard, parent: -1,
			want: &specs.LinuxResources{
				CPU:    &specs.LinuxCPU{Shares: ptr[uint64](10), Period: ptr[uint64](100000), Quota: ptr[int64](1000)},
				Memory: &specs.LinuxMemory{Limit: ptr[int64](MinMemoryBytes)},
			},
		},
		{
			name: "parent quota caps the task quota",
			l:    Limits{CPUs: 1.5, MemoryBytes: 64 << 20}, mode: Hard, parent: 100000,
			want: &specs.LinuxResources{
				CPU:    &specs.LinuxCPU{Shares: ptr[uint64](1536), Period: ptr[uint64](100000), Quota: ptr[int64](100000)},
				Memory: &specs.LinuxMemory{Limit: ptr[int64](64 << 20)},
			},
		},
		{
			name: "swap accounting limits memory plus swap, pids set",
			l:    Limits{CPUs: 1, MemoryBytes: 64 << 20, MemorySwapBytes: 32 << 20, PidsMax: 100}, mode: Hard, swap: true, parent: -1,
			want: &specs.LinuxResources{
				CPU:    &specs.LinuxCPU{Shares: ptr[uint64](1024), Period: ptr[uint64](100000), Quota: ptr[int64](100000)},
				Memory: &specs.LinuxMemory{Limit: ptr[int64](64 << 20), Swap: ptr[int64](96 << 20)},
				Pids:   &specs.LinuxPids{Limit: ptr[int64](100)},
			},
		},
		{
			name: "unlimited swap writes -1",
			l:    Limits{CPUs: 1, MemoryBytes: 64 << 20, MemorySwapBytes: -1}, mode: Hard, swap: true, parent: -1,
			want: &specs.LinuxResources{
				CPU:    &specs.LinuxCPU{Shares: ptr[uint64](1024), Period: ptr[uint64](100000), Quota: ptr[int64](100000)},
				Memory: &specs.LinuxMemory{Limit: ptr[int64](64 << 20), Swap: ptr[int64](-1)},
			},
		},
		{
			name: "huge CPUs clamp shares to the kernel maximum",
			l:    Limits{CPUs: 512, MemoryBytes: 64 << 20}, mode: Hard, parent: -1,
			want: &specs.LinuxResources{
				CPU:    &specs.LinuxCPU{Shares: ptr[uint64](MaxShares), Period: ptr[uint64](100000), Quota: ptr[int64](51200000)},
				Memory: &specs.LinuxMemory{Limit: ptr[int64](64 << 20)},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, v1Resources(tc.l, tc.mode, tc.swap, tc.parent))
		})
	}
}

func TestV2Mapping(t *testing.T) {
	for _, tc := range []struct {
		name string
		l    Limits
		mode CPUMode
		swap bool
		want *cgroup2.Resources
	}{
		{
			name: "hard half CPU: cpu.max 50000 100000, weight from 512 shares",
			l:    Limits{CPUs: 0.5, MemoryBytes: 64 << 20}, mode: Hard,
			want: &cgroup2.Resources{
				CPU:    &cgroup2.CPU{Weight: ptr[uint64](cgroup2.ConvertCPUSharesToCgroupV2Value(512)), Max: "50000 100000"},
				Memory: &cgroup2.Memory{Max: ptr[int64](64 << 20)},
				Pids:   &cgroup2.Pids{Max: -1},
			},
		},
		{
			name: "soft mode: cpu.max max, default weight 100 for one CPU",
			l:    Limits{CPUs: 1, CPUMode: Soft, MemoryBytes: 64 << 20}, mode: Soft,
			want: &cgroup2.Resources{
				CPU:    &cgroup2.CPU{Weight: ptr[uint64](100), Max: "max 100000"},
				Memory: &cgroup2.Memory{Max: ptr[int64](64 << 20)},
				Pids:   &cgroup2.Pids{Max: -1},
			},
		},
		{
			name: "swap is swap alone on v2 and pids.max is set",
			l:    Limits{CPUs: 1, MemoryBytes: 64 << 20, MemorySwapBytes: 32 << 20, PidsMax: 7}, mode: Hard, swap: true,
			want: &cgroup2.Resources{
				CPU:    &cgroup2.CPU{Weight: ptr[uint64](100), Max: "100000 100000"},
				Memory: &cgroup2.Memory{Max: ptr[int64](64 << 20), Swap: ptr[int64](32 << 20)},
				Pids:   &cgroup2.Pids{Max: 7},
			},
		},
		{
			name: "unlimited swap is the largest value, which the kernel reads as max",
			l:    Limits{CPUs: 0.01, MemoryBytes: 64 << 20, MemorySwapBytes: -1}, mode: Hard, swap: true,
			want: &cgroup2.Resources{
				CPU:    &cgroup2.CPU{Weight: ptr[uint64](cgroup2.ConvertCPUSharesToCgroupV2Value(10)), Max: "1000 100000"},
				Memory: &cgroup2.Memory{Max: ptr[int64](64 << 20), Swap: ptr[int64](math.MaxInt64)},
				Pids:   &cgroup2.Pids{Max: -1},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, v2Resources(tc.l, tc.mode, tc.swap))
		})
	}
}

func TestParentMapping(t *testing.T) {
	assert.Equal(t, &specs.LinuxResources{
		CPU:    &specs.LinuxCPU{Period: ptr[uint64](100000), Quota: ptr[int64](150000)},
		Memory: &specs.LinuxMemory{Limit: ptr[int64](1 << 30)},
	}, v1ParentResources(1.5, 1<<30))
	assert.Equal(t, &cgroup2.Resources{
		CPU:    &cgroup2.CPU{Max: "150000 100000"},
		Memory: &cgroup2.Memory{Max: ptr[int64](1 << 30)},
	}, v2ParentResources(1.5, 1<<30))
}

func TestSharesForWeightInvertsConversion(t *testing.T) {
	for _, s := range []uint64{2, 10, 256, 512, 1024, 1536, 4096, MaxShares} {
		w := cgroup2.ConvertCPUSharesToCgroupV2Value(s)
		back := sharesForWeight(w)
		assert.Equal(t, w, cgroup2.ConvertCPUSharesToCgroupV2Value(back), "shares %d", s)
		assert.LessOrEqual(t, back, s)
	}
}

func TestCPUModeResolution(t *testing.T) {
	cfs := Features{CPUQuota: true, CPUShares: true}
	noCFS := Features{CPUShares: true}
	for _, tc := range []struct {
		name     string
		l        Limits
		feat     Features
		fallback bool
		want     CPUMode
		fellBack bool
		err      error
	}{
		{"hard with CFS is hard", Limits{CPUMode: Hard}, cfs, false, Hard, false, nil},
		{"hard without CFS is not supported", Limits{CPUMode: Hard}, noCFS, false, 0, false, ErrNotSupported},
		{"hard without CFS falls back to shares when allowed", Limits{CPUMode: Hard}, noCFS, true, Soft, true, nil},
		{"soft needs only shares", Limits{CPUMode: Soft}, noCFS, false, Soft, false, nil},
		{"soft without shares is not supported", Limits{CPUMode: Soft}, Features{}, true, 0, false, ErrNotSupported},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mode, fellBack, err := cpuMode(tc.l, tc.feat, tc.fallback)
			if tc.err != nil {
				assert.ErrorIs(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, mode)
			assert.Equal(t, tc.fellBack, fellBack)
		})
	}
}

func TestParseCgroupMounts(t *testing.T) {
	for _, tc := range []struct {
		file string
		v1   map[string]string
		v2   string
	}{
		{"testdata/mountinfo-hybrid", map[string]string{
			"cpu": "/sys/fs/cgroup/cpu", "cpuacct": "/sys/fs/cgroup/cpuacct", "memory": "/sys/fs/cgroup/memory",
			"pids": "/sys/fs/cgroup/pids", "freezer": "/sys/fs/cgroup/freezer",
		}, "/sys/fs/cgroup/unified"},
		{"testdata/mountinfo-comounted", map[string]string{
			"cpu": "/sys/fs/cgroup/cpu,cpuacct", "cpuacct": "/sys/fs/cgroup/cpu,cpuacct", "memory": "/sys/fs/cgroup/memory",
		}, ""},
		{"testdata/mountinfo-unified", map[string]string{}, "/sys/fs/cgroup"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			f, err := os.Open(tc.file)
			require.NoError(t, err)
			defer f.Close()
			v1, v2, err := parseCgroupMounts(f)
			require.NoError(t, err)
			assert.Equal(t, tc.v1, v1)
			assert.Equal(t, tc.v2, v2)
		})
	}
}
