//go:build linux

package monitor

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const kB = 1024

// hostWant is the second sample of testdata/host, worked out by hand from
// the two real snapshots: per CPU, ticks elapsed 106 on each; cpu0 spent
// 19 user, 4 system, 83 idle; cpu1 15 user, 11 system, 80 idle.
func hostWant() HostSample {
	return HostSample{
		Time:       fixtureEpoch.Add(time.Second),
		CPUs:       2,
		OnlineCPUs: 2,
		Memory: Memory{
			TotalBytes:     24684092 * kB,
			AvailableBytes: 24222072 * kB,
			UsedBytes:      (24684092 - 24222072) * kB,
			FreeBytes:      23222168 * kB,
			PageCacheBytes: 1110800 * kB,
			BuffersBytes:   24464 * kB,
		},
		Load: LoadAverage{Load1: 1.74, Load5: 1.36, Load15: 0.69},
		Pressure: Pressure{
			Supported: true,
			CPU:       PSI{Some: PSIAverages{Avg10: 3.24, Avg60: 19.14}, HasFull: true},
			Memory:    PSI{HasFull: true},
			IO:        PSI{HasFull: true},
		},
		Filesystems: []FilesystemSpace{{MountPoint: "/data", SizeBytes: 100 << 30, FreeBytes: 40 << 30, AvailableBytes: 35 << 30, UsedBytes: 60 << 30, Files: 1000, FilesFree: 600}},
		Rates: &HostRates{
			Interval: time.Second,
			CPU: CPUCores{
				Used:   19.0/106 + 4.0/106 + 15.0/106 + 11.0/106,
				User:   19.0/106 + 15.0/106,
				System: 4.0/106 + 11.0/106,
				Idle:   83.0/106 + 80.0/106,
			},
			// vda: 29 reads, 968 sectors, 16 ms busy; zram0 idle.
			Disks: []DiskIO{
				{Device: "vda", ReadBytesPerSecond: 968 * 512, ReadsPerSecond: 29, Busy: 0.016},
				{Device: "zram0"},
			},
			Networks: []NetworkIO{{Interface: "lo"}, {Interface: "ifb0"}, {Interface: "ifb1"}, {Interface: "eth0"}},
		},
	}
}

func TestHostFixtures(t *testing.T) {
	tests := []struct {
		name string
		want func() HostSample
	}{
		{"real snapshots one second apart give exact per-mode cores", hostWant},
		{"counter-wrap", func() HostSample {
			// eth0 rx bytes 4294967000 -> 200 and packets 4294967295 -> 3
			// wrapped at 2^32; lo rx bytes 5000000000 -> 3193 was reset
			// and is left out; vda sectors read 4294967290 -> 10
			// wrapped; cpu1 iowait 326 -> 320 went backwards and counts
			// as no time.
			w := hostWant()
			w.Rates.Networks = []NetworkIO{
				{Interface: "ifb0"}, {Interface: "ifb1"},
				{Interface: "eth0", ReceiveBytesPerSecond: 496, TransmitBytesPerSecond: 1024, ReceivePacketsPerSecond: 4, TransmitPacketsPerSecond: 8},
			}
			w.Rates.Disks[0].ReadBytesPerSecond = 16 * 512
			return w
		}},
		{"cpu-unplug", func() HostSample {
			// cpu1 went offline: it is left out of the rates instead
			// of counting as idle, and still counts as present.
			w := hostWant()
			w.OnlineCPUs = 1
			w.Rates.CPU = CPUCores{Used: 23.0 / 106, User: 19.0 / 106, System: 4.0 / 106, Idle: 83.0 / 106}
			return w
		}},
		{"no-psi", func() HostSample {
			// No /proc/pressure: unsupported, not an error.
			w := hostWant()
			w.Pressure = Pressure{}
			return w
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := tt.name
			if name == tests[0].name {
				name = "host"
			}
			f := newFixture(t)
			h := fixtureHost(t, f, name)
			first, err := h.Sample(context.Background())
			require.NoError(t, err)
			assert.Nil(t, first.Rates, "first sample must carry no rates")
			f.advance()
			got, err := h.Sample(context.Background())
			require.NoError(t, err)
			assertHostSample(t, tt.want(), got)
		})
	}
}

// assertHostSample compares exactly, except CPU cores, which are sums of
// fractions and may differ in the last bit.
func assertHostSample(t *testing.T, want, got HostSample) {
	t.Helper()
	require.NotNil(t, got.Rates)
	wc, gc := want.Rates.CPU, got.Rates.CPU
	for _, f := range []struct {
		name      string
		want, got float64
	}{
		{"used", wc.Used, gc.Used}, {"user", wc.User, gc.User}, {"nice", wc.Nice, gc.Nice},
		{"system", wc.System, gc.System}, {"irq", wc.IRQ, gc.IRQ}, {"softirq", wc.SoftIRQ, gc.SoftIRQ},
		{"iowait", wc.IOWait, gc.IOWait}, {"steal", wc.Steal, gc.Steal}, {"idle", wc.Idle, gc.Idle},
	} {
		assert.InDelta(t, f.want, f.got, 1e-12, "cpu %s cores", f.name)
	}
	want.Rates.CPU, got.Rates.CPU = CPUCores{}, CPUCores{}
	assert.Equal(t, want, got)
}

func TestHostRatesAbsentAfterFailedRead(t *testing.T) {
	f := newFixture(t)
	h := fixtureHost(t, f, "host")
	_, err := h.Sample(context.Background())
	require.NoError(t, err)
	h.paths.meminfo += ".missing"
	_, err = h.Sample(context.Background())
	require.ErrorIs(t, err, ErrNotFound)
	h.paths.meminfo = h.paths.meminfo[:len(h.paths.meminfo)-len(".missing")]
	s, err := h.Sample(context.Background())
	require.NoError(t, err)
	assert.Nil(t, s.Rates, "a failed reading must not be used as the base of a rate")
}

func TestHostDiskSelection(t *testing.T) {
	f := newFixture(t)
	h := fixtureHost(t, f, "host", WithDisks("zram0"))
	_, err := h.Sample(context.Background())
	require.NoError(t, err)
	f.advance()
	s, err := h.Sample(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []DiskIO{{Device: "zram0"}}, s.Rates.Disks)
}

func TestHostLive(t *testing.T) {
	h, err := NewHost()
	require.NoError(t, err)
	ctx := context.Background()
	first, err := h.Sample(ctx)
	require.NoError(t, err)
	assert.Nil(t, first.Rates)
	time.Sleep(100 * time.Millisecond)
	s, err := h.Sample(ctx)
	require.NoError(t, err)
	require.NotNil(t, s.Rates)
	assert.Positive(t, s.CPUs)
	assert.Positive(t, s.OnlineCPUs)
	assert.LessOrEqual(t, s.OnlineCPUs, s.CPUs)
	assert.Positive(t, s.Memory.TotalBytes)
	assert.LessOrEqual(t, s.Memory.AvailableBytes, s.Memory.TotalBytes)
	c := s.Rates.CPU
	assert.InDelta(t, float64(s.OnlineCPUs), c.Used+c.IOWait+c.Steal+c.Idle, 0.01, "modes add up to the online CPUs")
	require.Len(t, s.Filesystems, 1)
	assert.Equal(t, "/", s.Filesystems[0].MountPoint)
	assert.Positive(t, s.Filesystems[0].SizeBytes)
	assert.NotEmpty(t, s.Rates.Networks)
}

func TestHostContextCancelled(t *testing.T) {
	h, err := NewHost()
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = h.Sample(ctx)
	assert.ErrorIs(t, err, context.Canceled)
}
