//go:build linux

package monitor

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gleaner/gleaner/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fixtureSampler returns a Sampler on the host fixture, with Gleaner's own
// usage read from the cgroup fixture cgroupCase, and a stepping clock.
func fixtureSampler(t *testing.T, f *fixture, hostCase, cgroupCase string, opts ...SamplerOption) *Sampler {
	t.Helper()
	root := f.root(hostCase)
	opts = append([]SamplerOption{
		WithProcRoot(filepath.Join(root, "proc")),
		WithSysRoot(filepath.Join(root, "sys")),
		WithMounts("/data"),
	}, opts...)
	if cgroupCase != "" {
		opts = append(opts, WithCgroupRoot(filepath.Join(f.root(cgroupCase), "sys/fs/cgroup")), WithCgroup("/gleaner"))
	}
	s, err := NewSampler(opts...)
	require.NoError(t, err)
	s.host.now = steppingClock()
	s.host.statfs = fakeStatfs
	return s
}

func ptr(v float64) *float64 { return &v }

func TestBusinessUsageFixtures(t *testing.T) {
	const hostUsedCPU = 49.0 / 106                 // see hostWant
	const hostUsedMem = (24684092 - 24222072) * kB // MemTotal - MemAvailable, snapshot 2
	tests := []struct {
		name   string
		cgroup string
		own    OwnUsage
		want   BusinessUsage
		note   string
	}{
		{
			name:   "own usage below host usage is subtracted",
			cgroup: "cgroup-v2",
			own:    OwnUsage{Source: "cgroup:/gleaner", CPUCores: ptr(0.25), MemoryBytes: 536870912 - 134217728},
			want:   BusinessUsage{CPUCores: ptr(hostUsedCPU - 0.25), MemoryBytes: hostUsedMem - (536870912 - 134217728)},
		},
		{
			name:   "own CPU above host CPU is clamped to zero with the reason",
			cgroup: "cgroup-v1",
			own:    OwnUsage{Source: "cgroup:/gleaner", CPUCores: ptr(0.75), MemoryBytes: 1172811776 - 772939776},
			want:   BusinessUsage{CPUCores: ptr(0), MemoryBytes: hostUsedMem - (1172811776 - 772939776)},
			note:   "own CPU 0.750 cores (cgroup:/gleaner) exceeds host CPU used 0.462 cores",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			s := fixtureSampler(t, f, "host", tt.cgroup)
			first, err := s.take(context.Background())
			require.NoError(t, err)
			require.NoError(t, first.OwnErr)
			assert.Nil(t, first.Host.Rates)
			require.NotNil(t, first.Own)
			assert.Nil(t, first.Own.CPUCores, "no own CPU rate from one reading")
			require.NotNil(t, first.Business)
			assert.Nil(t, first.Business.CPUCores, "no business CPU rate from one reading")

			f.advance()
			got, err := s.take(context.Background())
			require.NoError(t, err)
			require.NotNil(t, got.Own)
			require.NotNil(t, got.Own.CPUCores)
			assert.InDelta(t, *tt.own.CPUCores, *got.Own.CPUCores, 1e-9)
			assert.Equal(t, tt.own.MemoryBytes, got.Own.MemoryBytes)
			assert.Equal(t, tt.own.Source, got.Own.Source)
			require.NotNil(t, got.Business.CPUCores)
			assert.InDelta(t, *tt.want.CPUCores, *got.Business.CPUCores, 1e-9)
			assert.GreaterOrEqual(t, *got.Business.CPUCores, 0.0)
			assert.Equal(t, tt.want.MemoryBytes, got.Business.MemoryBytes)
			if tt.note == "" {
				assert.Empty(t, got.Business.Notes)
			} else {
				require.Len(t, got.Business.Notes, 1)
				assert.Contains(t, got.Business.Notes[0], tt.note)
			}
		})
	}
}

func TestBusinessMemoryClampedWithReason(t *testing.T) {
	host := HostSample{Memory: Memory{UsedBytes: 100}}
	b := businessUsage(host, OwnUsage{Source: "tree:7", MemoryBytes: 150})
	assert.Equal(t, uint64(0), b.MemoryBytes)
	assert.Nil(t, b.CPUCores)
	require.Len(t, b.Notes, 1)
	assert.Contains(t, b.Notes[0], "own memory 150 bytes (tree:7) exceeds host memory used 100 bytes")
}

func TestSamplerOwnTargetGone(t *testing.T) {
	f := newFixture(t)
	root := copyFixture(t, "cgroup-v1", "1")
	s := fixtureSampler(t, f, "host", "", WithCgroupRoot(filepath.Join(root, "sys/fs/cgroup")), WithCgroup("/gleaner"))
	require.NoError(t, os.RemoveAll(filepath.Join(root, "sys/fs/cgroup/memory/gleaner")))
	got, err := s.take(context.Background())
	require.NoError(t, err, "a vanished own target does not fail the host sample")
	assert.ErrorIs(t, got.OwnErr, ErrNotFound)
	assert.Nil(t, got.Own)
	assert.Nil(t, got.Business)
}

// waitNoSamplerGoroutine waits until no goroutine runs Sampler code.
// (runtime.NumGoroutine is not used: it also counts runtime goroutines
// started lazily, such as the one running cleanups.)
func waitNoSamplerGoroutine(t *testing.T) {
	t.Helper()
	testenv.Eventually(t, 30*time.Second, func() bool { return !strings.Contains(stacks(), "monitor.(*Sampler)") },
		"no Sampler goroutine; goroutines:\n%s", stackDump{})
}

// stackDump prints every goroutine's stack when formatted.
type stackDump struct{}

func (stackDump) String() string { return stacks() }

func stacks() string {
	buf := make([]byte, 1<<20)
	return string(buf[:runtime.Stack(buf, true)])
}

func TestSamplerRunKeepsHistoryAndStopsClean(t *testing.T) {
	s, err := NewSampler(WithInterval(10*time.Millisecond), WithHistory(3), WithProcessTree(os.Getpid()))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	sub := s.Subscribe(16)
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()

	var got []Sample
	for len(got) < 5 {
		select {
		case smp := <-sub.C():
			got = append(got, smp)
		case <-time.After(5 * time.Second):
			t.Fatal("no sample within 5 s")
		}
	}
	assert.Nil(t, got[0].Host.Rates, "first sample has no rates")
	assert.Nil(t, got[0].Own.CPUCores)
	for _, smp := range got[1:] {
		require.NotNil(t, smp.Host.Rates, "later samples have rates")
		require.NotNil(t, smp.Own.CPUCores)
		require.NotNil(t, smp.Business.CPUCores)
		assert.GreaterOrEqual(t, *smp.Business.CPUCores, 0.0)
	}

	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	_, open := <-drain(sub.C())
	assert.False(t, open, "subscription closed when Run returns")

	hist := s.History()
	require.Len(t, hist, 3, "ring keeps the last 3")
	for i := 1; i < len(hist); i++ {
		assert.True(t, hist[i].Host.Time.After(hist[i-1].Host.Time), "history is oldest first")
	}
	latest, ok := s.Latest()
	require.True(t, ok)
	assert.Equal(t, hist[2].Host.Time, latest.Host.Time)
	assert.GreaterOrEqual(t, s.Stats().Samples, uint64(5))

	assert.Error(t, s.Run(context.Background()), "a Sampler runs once")
	late := s.Subscribe(1)
	_, open = <-late.C()
	assert.False(t, open, "subscribing after stop gives a closed channel")
	waitNoSamplerGoroutine(t)
}

// drain reads ch until it is closed and returns it.
func drain(ch <-chan Sample) <-chan Sample {
	for range ch {
	}
	return ch
}

func TestSamplerSlowSubscriberDropsAndCounts(t *testing.T) {
	f := newFixture(t)
	s := fixtureSampler(t, f, "host", "")
	slow := s.Subscribe(1)
	fast := s.Subscribe(10)
	for range 5 {
		smp, err := s.take(context.Background())
		require.NoError(t, err)
		s.keep(smp) // never blocks, even with slow never read
	}
	assert.Len(t, fast.C(), 5)
	assert.Equal(t, uint64(0), fast.Dropped())
	assert.Len(t, slow.C(), 1)
	assert.Equal(t, uint64(4), slow.Dropped())
	assert.Equal(t, Stats{Samples: 5, Dropped: 4}, s.Stats())

	slow.Close()
	slow.Close() // twice is fine
	_, open := <-drain(slow.C())
	assert.False(t, open)
	smp, err := s.take(context.Background())
	require.NoError(t, err)
	s.keep(smp)
	assert.Equal(t, uint64(4), s.Stats().Dropped, "a closed subscription gets nothing")
}

func TestSamplerLogsAndCountsErrors(t *testing.T) {
	root := copyFixture(t, "host", "1")
	var logs bytes.Buffer
	s, err := NewSampler(WithProcRoot(filepath.Join(root, "proc")), WithSysRoot(filepath.Join(root, "sys")),
		WithMounts(), WithLogger(slog.New(slog.NewTextHandler(&logs, nil))), WithInterval(5*time.Millisecond))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(root, "proc/loadavg"), []byte("x y z\n"), 0o644))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	testenv.Eventually(t, 30*time.Second, func() bool { return s.Stats().Errors >= 2 })
	cancel()
	err = <-done
	assert.True(t, errors.Is(err, context.Canceled))
	assert.Equal(t, uint64(0), s.Stats().Samples)
	_, ok := s.Latest()
	assert.False(t, ok)
	assert.Contains(t, logs.String(), "loadavg:1: load1")
	assert.ErrorIs(t, s.Run(context.Background()), ErrClosed, "a Sampler runs once")
}
