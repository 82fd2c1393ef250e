//go:build linux

package monitor

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCollector(t *testing.T) {
	f := newFixture(t)
	s := fixtureSampler(t, f, "host", "cgroup-v2")
	c := NewCollector(s)
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(c))

	assert.Equal(t, 3, testutil.CollectAndCount(c), "before any sample only the counters")

	smp, err := s.take(context.Background())
	require.NoError(t, err)
	s.keep(smp)
	for _, name := range []string{"gleaner_host_cpu_used_cores", "gleaner_host_cpu_mode_cores", "gleaner_own_cpu_used_cores", "gleaner_business_cpu_used_cores", "gleaner_host_disk_read_bytes_per_second"} {
		assert.Equal(t, 0, testutil.CollectAndCount(c, name), "%s is absent until rates exist, not zero", name)
	}
	assert.Equal(t, 1, testutil.CollectAndCount(c, "gleaner_host_memory_used_bytes"))

	f.advance()
	smp, err = s.take(context.Background())
	require.NoError(t, err)
	s.keep(smp)

	want := fmt.Sprintf(`
# HELP gleaner_host_cpu_used_cores CPU time used (user, nice, system, irq, softirq), in cores.
# TYPE gleaner_host_cpu_used_cores gauge
gleaner_host_cpu_used_cores %v
# HELP gleaner_own_cpu_used_cores CPU used by Gleaner's process tree or cgroup, in cores.
# TYPE gleaner_own_cpu_used_cores gauge
gleaner_own_cpu_used_cores %v
# HELP gleaner_business_cpu_used_cores Host CPU used minus Gleaner's, in cores, never negative.
# TYPE gleaner_business_cpu_used_cores gauge
gleaner_business_cpu_used_cores %v
# HELP gleaner_business_memory_used_bytes Host memory used minus Gleaner's, never negative.
# TYPE gleaner_business_memory_used_bytes gauge
gleaner_business_memory_used_bytes %d
# HELP gleaner_host_memory_available_bytes MemAvailable.
# TYPE gleaner_host_memory_available_bytes gauge
gleaner_host_memory_available_bytes %d
# HELP gleaner_host_disk_read_bytes_per_second Bytes read per second.
# TYPE gleaner_host_disk_read_bytes_per_second gauge
gleaner_host_disk_read_bytes_per_second{device="vda"} 495616
gleaner_host_disk_read_bytes_per_second{device="zram0"} 0
# HELP gleaner_host_pressure_ratio Share of wall time stalled on a resource, averaged over a window.
# TYPE gleaner_host_pressure_ratio gauge
gleaner_host_pressure_ratio{kind="full",resource="cpu",window="10s"} 0
gleaner_host_pressure_ratio{kind="full",resource="cpu",window="60s"} 0
gleaner_host_pressure_ratio{kind="full",resource="io",window="10s"} 0
gleaner_host_pressure_ratio{kind="full",resource="io",window="60s"} 0
gleaner_host_pressure_ratio{kind="full",resource="memory",window="10s"} 0
gleaner_host_pressure_ratio{kind="full",resource="memory",window="60s"} 0
gleaner_host_pressure_ratio{kind="some",resource="cpu",window="10s"} %v
gleaner_host_pressure_ratio{kind="some",resource="cpu",window="60s"} %v
gleaner_host_pressure_ratio{kind="some",resource="io",window="10s"} 0
gleaner_host_pressure_ratio{kind="some",resource="io",window="60s"} 0
gleaner_host_pressure_ratio{kind="some",resource="memory",window="10s"} 0
gleaner_host_pressure_ratio{kind="some",resource="memory",window="60s"} 0
# HELP gleaner_host_filesystem_avail_bytes File system space available to unprivileged users.
# TYPE gleaner_host_filesystem_avail_bytes gauge
gleaner_host_filesystem_avail_bytes{mountpoint="/data"} %d
# HELP gleaner_monitor_samples_total Samples taken.
# TYPE gleaner_monitor_samples_total counter
gleaner_monitor_samples_total 2
`, smp.Host.Rates.CPU.Used, 0.25, *smp.Business.CPUCores, (24684092-24222072)*kB-(536870912-134217728),
		24222072*kB, smp.Host.Pressure.CPU.Some.Avg10/100, smp.Host.Pressure.CPU.Some.Avg60/100, 35<<30)
	// The CPU figures are checked exactly against the sample; the sample
	// itself is checked against hand-worked values in host_test.go and
	// sampler_test.go.
	assert.InDelta(t, 49.0/106, smp.Host.Rates.CPU.Used, 1e-12)
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(want),
		"gleaner_host_cpu_used_cores", "gleaner_own_cpu_used_cores", "gleaner_business_cpu_used_cores",
		"gleaner_business_memory_used_bytes", "gleaner_host_memory_available_bytes",
		"gleaner_host_disk_read_bytes_per_second", "gleaner_host_pressure_ratio",
		"gleaner_host_filesystem_avail_bytes", "gleaner_monitor_samples_total"))

	problems, err := testutil.CollectAndLint(c)
	require.NoError(t, err)
	assert.Empty(t, problems)
	_, err = reg.Gather()
	assert.NoError(t, err, "pedantic registry accepts the descriptions")
}

func TestCollectorNoPSI(t *testing.T) {
	f := newFixture(t)
	s := fixtureSampler(t, f, "no-psi", "")
	smp, err := s.take(context.Background())
	require.NoError(t, err)
	s.keep(smp)
	c := NewCollector(s)
	assert.Equal(t, 0, testutil.CollectAndCount(c, "gleaner_host_pressure_ratio"))
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(`
# HELP gleaner_host_pressure_supported 1 if the kernel reports pressure stall information.
# TYPE gleaner_host_pressure_supported gauge
gleaner_host_pressure_supported 0
`), "gleaner_host_pressure_supported"))
	assert.Equal(t, 0, testutil.CollectAndCount(c, "gleaner_business_memory_used_bytes"), "no own target, no business metrics")
}
