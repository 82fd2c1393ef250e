package master

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/gleaner/gleaner/examples/internal/api"
)

// metrics are the master's Prometheus metrics, in a registry of its own so
// that several masters can run in one process.
type metrics struct {
	reg        *prometheus.Registry
	leader     prometheus.Gauge
	offered    prometheus.Counter
	accepted   prometheus.Counter
	declined   prometheus.Counter
	rescinds   prometheus.Counter
	launched   prometheus.Counter
	taskEnded  *prometheus.CounterVec
	requests   *prometheus.CounterVec
	allocation prometheus.Histogram
}

func newMetrics(m *Master) *metrics {
	reg := prometheus.NewRegistry()
	f := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: "gleaner", Subsystem: "master", Name: name, Help: help})
	}
	x := &metrics{
		reg: reg,
		leader: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "gleaner", Subsystem: "master",
			Name: "leader", Help: "1 while this master leads."}),
		offered:  f("offers_total", "Offers made to frameworks."),
		accepted: f("offers_accepted_total", "Offers accepted."),
		declined: f("offers_declined_total", "Offers declined."),
		rescinds: f("offers_rescinded_total", "Offers rescinded because an agent's reservation shrank."),
		launched: f("tasks_launched_total", "Tasks sent to agents."),
		taskEnded: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "gleaner", Subsystem: "master",
			Name: "tasks_ended_total", Help: "Tasks that reached a terminal state, by state."}, []string{"state"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "gleaner", Subsystem: "master",
			Name: "http_requests_total", Help: "HTTP requests by route and status."}, []string{"route", "code"}),
		allocation: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "gleaner", Subsystem: "master",
			Name: "allocation_seconds", Help: "Duration of one allocation cycle.",
			Buckets: prometheus.ExponentialBuckets(1e-5, 4, 10)}),
	}
	state := func(name, help string, value func(c *cluster) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "gleaner", Subsystem: "master", Name: name, Help: help},
			func() float64 {
				m.mu.Lock()
				defer m.mu.Unlock()
				if m.cur == nil {
					return 0
				}
				return value(m.cur)
			})
	}
	reg.MustRegister(x.leader, x.offered, x.accepted, x.declined, x.rescinds, x.launched, x.taskEnded,
		x.requests, x.allocation,
		collectors.NewGoCollector(),
		newClusterCollector(m),
		state("agents_up", "Registered agents that are up.", func(c *cluster) float64 {
			n := 0
			for _, a := range c.agents {
				if a.up {
					n++
				}
			}
			return float64(n)
		}),
		state("frameworks", "Registered frameworks.", func(c *cluster) float64 { return float64(len(c.frameworks)) }),
		state("tasks_live", "Tasks not yet ended.", func(c *cluster) float64 { return float64(len(c.tasks)) }),
		state("tasks_running", "Tasks in TASK_RUNNING.", func(c *cluster) float64 {
			n := 0
			for _, t := range c.tasks {
				if t.Status.State == api.TaskRunning {
					n++
				}
			}
			return float64(n)
		}),
		state("offers_outstanding", "Offers sent and not yet answered.", func(c *cluster) float64 { return float64(len(c.offers)) }),
	)
	return x
}
