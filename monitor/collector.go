package monitor

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Collector exposes a Sampler's newest sample as Prometheus metrics, named
// like node_exporter's with the unit in the name. Rate metrics are absent
// until the sampler has two readings, own and business metrics when no
// own-usage target is set, and pressure metrics when the kernel has no PSI
// (gleaner_host_pressure_supported says which).
type Collector struct {
	s *Sampler
}

// NewCollector returns a collector for s; register it with a
// prometheus.Registry.
func NewCollector(s *Sampler) *Collector { return &Collector{s: s} }

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

// gauge is a metric with no labels taken from one sample.
type gauge struct {
	d   *prometheus.Desc
	get func(*Sample) (float64, bool)
}

func always(f func(*Sample) float64) func(*Sample) (float64, bool) {
	return func(s *Sample) (float64, bool) { return f(s), true }
}

func withRates(f func(*HostRates) float64) func(*Sample) (float64, bool) {
	return func(s *Sample) (float64, bool) {
		if s.Host.Rates == nil {
			return 0, false
		}
		return f(s.Host.Rates), true
	}
}

var gauges = []gauge{
	{desc("gleaner_host_cpus", "CPUs present."), always(func(s *Sample) float64 { return float64(s.Host.CPUs) })},
	{desc("gleaner_host_cpus_online", "CPUs online."), always(func(s *Sample) float64 { return float64(s.Host.OnlineCPUs) })},
	{desc("gleaner_host_cpu_used_cores", "CPU time used (user, nice, system, irq, softirq), in cores."), withRates(func(r *HostRates) float64 { return r.CPU.Used })},
	{desc("gleaner_host_memory_total_bytes", "MemTotal."), always(func(s *Sample) float64 { return float64(s.Host.Memory.TotalBytes) })},
	{desc("gleaner_host_memory_available_bytes", "MemAvailable."), always(func(s *Sample) float64 { return float64(s.Host.Memory.AvailableBytes) })},
	{desc("gleaner_host_memory_used_bytes", "MemTotal minus MemAvailable."), always(func(s *Sample) float64 { return float64(s.Host.Memory.UsedBytes) })},
	{desc("gleaner_host_memory_free_bytes", "MemFree."), always(func(s *Sample) float64 { return float64(s.Host.Memory.FreeBytes) })},
	{desc("gleaner_host_memory_page_cache_bytes", "Cached: page cache."), always(func(s *Sample) float64 { return float64(s.Host.Memory.PageCacheBytes) })},
	{desc("gleaner_host_memory_buffers_bytes", "Buffers."), always(func(s *Sample) float64 { return float64(s.Host.Memory.BuffersBytes) })},
	{desc("gleaner_host_swap_total_bytes", "SwapTotal."), always(func(s *Sample) float64 { return float64(s.Host.Memory.SwapTotalBytes) })},
	{desc("gleaner_host_swap_used_bytes", "SwapTotal minus SwapFree."), always(func(s *Sample) float64 { return float64(s.Host.Memory.SwapUsedBytes) })},
	{desc("gleaner_host_load1", "1-minute load average."), always(func(s *Sample) float64 { return s.Host.Load.Load1 })},
	{desc("gleaner_host_load5", "5-minute load average."), always(func(s *Sample) float64 { return s.Host.Load.Load5 })},
	{desc("gleaner_host_load15", "15-minute load average."), always(func(s *Sample) float64 { return s.Host.Load.Load15 })},
	{desc("gleaner_host_pressure_supported", "1 if the kernel reports pressure stall information."), always(func(s *Sample) float64 { return b2f(s.Host.Pressure.Supported) })},
	{desc("gleaner_own_cpu_used_cores", "CPU used by Gleaner's process tree or cgroup, in cores."), func(s *Sample) (float64, bool) {
		if s.Own == nil || s.Own.CPUCores == nil {
			return 0, false
		}
		return *s.Own.CPUCores, true
	}},
	{desc("gleaner_own_memory_used_bytes", "Resident memory of Gleaner's process tree or cgroup working set."), func(s *Sample) (float64, bool) {
		if s.Own == nil {
			return 0, false
		}
		return float64(s.Own.MemoryBytes), true
	}},
	{desc("gleaner_business_cpu_used_cores", "Host CPU used minus Gleaner's, in cores, never negative."), func(s *Sample) (float64, bool) {
		if s.Business == nil || s.Business.CPUCores == nil {
			return 0, false
		}
		return *s.Business.CPUCores, true
	}},
	{desc("gleaner_business_memory_used_bytes", "Host memory used minus Gleaner's, never negative."), func(s *Sample) (float64, bool) {
		if s.Business == nil {
			return 0, false
		}
		return float64(s.Business.MemoryBytes), true
	}},
	{desc("gleaner_business_inputs_disagree", "1 if a business figure was clamped at zero because own usage exceeded host usage."), func(s *Sample) (float64, bool) {
		if s.Business == nil {
			return 0, false
		}
		return b2f(len(s.Business.Notes) > 0), true
	}},
	{desc("gleaner_monitor_last_sample_timestamp_seconds", "When the newest sample was taken."), always(func(s *Sample) float64 {
		return float64(s.Host.Time.UnixNano()) / 1e9
	})},
}

var (
	cpuModeDesc    = desc("gleaner_host_cpu_mode_cores", "CPU time by mode, in cores.", "mode")
	pressureDesc   = desc("gleaner_host_pressure_ratio", "Share of wall time stalled on a resource, averaged over a window.", "resource", "kind", "window")
	fsSizeDesc     = desc("gleaner_host_filesystem_size_bytes", "File system size.", "mountpoint")
	fsFreeDesc     = desc("gleaner_host_filesystem_free_bytes", "File system free space (for root).", "mountpoint")
	fsAvailDesc    = desc("gleaner_host_filesystem_avail_bytes", "File system space available to unprivileged users.", "mountpoint")
	diskReadDesc   = desc("gleaner_host_disk_read_bytes_per_second", "Bytes read per second.", "device")
	diskWriteDesc  = desc("gleaner_host_disk_written_bytes_per_second", "Bytes written per second.", "device")
	diskReadsDesc  = desc("gleaner_host_disk_reads_per_second", "Reads completed per second.", "device")
	diskWritesDesc = desc("gleaner_host_disk_writes_per_second", "Writes completed per second.", "device")
	diskBusyDesc   = desc("gleaner_host_disk_busy_ratio", "Share of time with I/O in flight.", "device")
	netRxDesc      = desc("gleaner_host_network_receive_bytes_per_second", "Bytes received per second.", "device")
	netTxDesc      = desc("gleaner_host_network_transmit_bytes_per_second", "Bytes transmitted per second.", "device")
	samplesDesc    = desc("gleaner_monitor_samples_total", "Samples taken.")
	errorsDesc     = desc("gleaner_monitor_sample_errors_total", "Samples that failed.")
	droppedDesc    = desc("gleaner_monitor_subscriber_drops_total", "Samples not delivered to a full subscriber.")
)

var labeledDescs = []*prometheus.Desc{
	cpuModeDesc, pressureDesc, fsSizeDesc, fsFreeDesc, fsAvailDesc,
	diskReadDesc, diskWriteDesc, diskReadsDesc, diskWritesDesc, diskBusyDesc,
	netRxDesc, netTxDesc, samplesDesc, errorsDesc, droppedDesc,
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, g := range gauges {
		ch <- g.d
	}
	for _, d := range labeledDescs {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.Stats()
	counter := func(d *prometheus.Desc, v uint64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	counter(samplesDesc, st.Samples)
	counter(errorsDesc, st.Errors)
	counter(droppedDesc, st.Dropped)

	s, ok := c.s.Latest()
	if !ok {
		return
	}
	gaugeOf := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for _, g := range gauges {
		if v, ok := g.get(&s); ok {
			gaugeOf(g.d, v)
		}
	}
	if p := s.Host.Pressure; p.Supported {
		for _, r := range []struct {
			name string
			psi  PSI
		}{{"cpu", p.CPU}, {"memory", p.Memory}, {"io", p.IO}} {
			gaugeOf(pressureDesc, r.psi.Some.Avg10/100, r.name, "some", "10s")
			gaugeOf(pressureDesc, r.psi.Some.Avg60/100, r.name, "some", "60s")
			if r.psi.HasFull {
				gaugeOf(pressureDesc, r.psi.Full.Avg10/100, r.name, "full", "10s")
				gaugeOf(pressureDesc, r.psi.Full.Avg60/100, r.name, "full", "60s")
			}
		}
	}
	for _, f := range s.Host.Filesystems {
		gaugeOf(fsSizeDesc, float64(f.SizeBytes), f.MountPoint)
		gaugeOf(fsFreeDesc, float64(f.FreeBytes), f.MountPoint)
		gaugeOf(fsAvailDesc, float64(f.AvailableBytes), f.MountPoint)
	}
	r := s.Host.Rates
	if r == nil {
		return
	}
	for _, m := range []struct {
		mode string
		v    float64
	}{
		{"user", r.CPU.User}, {"nice", r.CPU.Nice}, {"system", r.CPU.System},
		{"irq", r.CPU.IRQ}, {"softirq", r.CPU.SoftIRQ}, {"iowait", r.CPU.IOWait},
		{"steal", r.CPU.Steal}, {"idle", r.CPU.Idle},
	} {
		gaugeOf(cpuModeDesc, m.v, m.mode)
	}
	for _, d := range r.Disks {
		gaugeOf(diskReadDesc, d.ReadBytesPerSecond, d.Device)
		gaugeOf(diskWriteDesc, d.WriteBytesPerSecond, d.Device)
		gaugeOf(diskReadsDesc, d.ReadsPerSecond, d.Device)
		gaugeOf(diskWritesDesc, d.WritesPerSecond, d.Device)
		gaugeOf(diskBusyDesc, d.Busy, d.Device)
	}
	for _, n := range r.Networks {
		gaugeOf(netRxDesc, n.ReceiveBytesPerSecond, n.Interface)
		gaugeOf(netTxDesc, n.TransmitBytesPerSecond, n.Interface)
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
