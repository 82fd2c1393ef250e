//go:build linux

package agent

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/gleaner/gleaner/reserve"
)

// metrics are the agent's own Prometheus metrics; the monitor's collector
// adds the host's.
type metrics struct {
	reservation *prometheus.GaugeVec
	launches    prometheus.Counter
	ended       *prometheus.CounterVec
	evictions   prometheus.Counter
	throttles   prometheus.Counter
	diskKills   prometheus.Counter
	healthKills prometheus.Counter
	adopted     prometheus.Counter
	changes     prometheus.Counter
	reports     *prometheus.CounterVec
	// sandboxesRemoved counts kept sandboxes collected, by why: "age"
	// or "disk".
	sandboxesRemoved *prometheus.CounterVec
}

func newMetrics(reg *prometheus.Registry, a *Agent) *metrics {
	m := &metrics{
		reservation: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gleaner_agent_reservation",
			Help: "What the agent lends to harvested tasks now, after the operator's bounds (cores for cpus, bytes for mem and disk).",
		}, []string{"resource"}),
		launches: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gleaner_agent_task_launches_total", Help: "Tasks the agent was asked to launch."}),
		ended: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gleaner_agent_tasks_ended_total", Help: "Tasks that ended, by final state."}, []string{"state"}),
		evictions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gleaner_agent_qos_evictions_total", Help: "Tasks evicted because the reservation shrank below what they hold."}),
		throttles: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gleaner_agent_qos_throttles_total", Help: "CPU quota reductions of tasks because the reservation shrank."}),
		healthKills: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gleaner_agent_health_kills_total", Help: "Tasks killed for failing their health checks."}),
		diskKills: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gleaner_agent_disk_limit_kills_total", Help: "Tasks killed for exceeding their disk resources."}),
		adopted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gleaner_agent_tasks_adopted_total", Help: "Running tasks taken over from a previous agent process."}),
		changes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gleaner_agent_reservation_changes_total", Help: "Changes of the estimated reservation."}),
		reports: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gleaner_agent_master_reports_total", Help: "Reports sent to the master, by result."}, []string{"result"}),
		sandboxesRemoved: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gleaner_agent_sandboxes_collected_total",
			Help: "Sandboxes of ended tasks removed, by why: age (older than the retention) or disk (above the watermark)."}, []string{"why"}),
	}
	reg.MustRegister(m.reservation, m.launches, m.ended, m.evictions, m.throttles, m.diskKills, m.healthKills,
		m.adopted, m.changes, m.reports, m.sandboxesRemoved,
		collectors.NewGoCollector(),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "gleaner_agent_isolation_available",
			Help: "1 when tasks run in cgroups and their own root file system, 0 when they run as plain processes.",
		}, func() float64 {
			if isIsolated(a.rt.isolation()) {
				return 1
			}
			return 0
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "gleaner_agent_tasks_running", Help: "Tasks that have not ended.",
		}, func() float64 {
			a.mu.Lock()
			defer a.mu.Unlock()
			n := 0
			for _, t := range a.tasks {
				if !t.terminal() {
					n++
				}
			}
			return float64(n)
		}),
	)
	return m
}

func (m *metrics) setReservation(r reserve.Resources) {
	m.reservation.WithLabelValues("cpus").Set(r.CPUCores)
	m.reservation.WithLabelValues("mem").Set(r.MemoryBytes)
	m.reservation.WithLabelValues("disk").Set(r.DiskBytes)
}
