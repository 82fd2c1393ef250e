package framework

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the framework's Prometheus metrics, in a registry of its own
// so that several frameworks can run in one process (tests, the demo).
type metrics struct {
	registry *prometheus.Registry

	subscriptions      prometheus.Counter
	subscriptionErrors prometheus.Counter
	offers             prometheus.Counter
	declined           prometheus.Counter
	launched           prometheus.Counter
	updates            *prometheus.CounterVec // by state
	kills              *prometheus.CounterVec // by cause
	callErrors         *prometheus.CounterVec // by call
	matchSeconds       prometheus.Histogram
}

func newMetrics(f *Framework) *metrics {
	const ns, sub = "gleaner", "framework"
	m := &metrics{
		registry: prometheus.NewRegistry(),
		subscriptions: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "subscriptions_total", Help: "Subscriptions to the master that succeeded."}),
		subscriptionErrors: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "subscription_errors_total", Help: "Subscriptions that failed or ended."}),
		offers: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "offers_received_total", Help: "Offers received from the master."}),
		declined: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "offers_declined_total", Help: "Offers declined whole."}),
		launched: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "tasks_launched_total", Help: "Tasks launched (accepted by the master)."}),
		updates: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "task_updates_total", Help: "Task status updates received, by state."}, []string{"state"}),
		kills: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "task_kills_total", Help: "Kills sent, by cause (scale, update, delete, constraint, unknown)."}, []string{"cause"}),
		callErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "master_call_errors_total", Help: "Calls to the master that failed, by call."}, []string{"call"}),
		matchSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub,
			Name: "offer_match_seconds", Help: "Time to match a batch of offers.",
			Buckets: prometheus.ExponentialBuckets(1e-5, 4, 10)}),
	}
	counts := func(pick func(stateCounts) int) func() float64 {
		return func() float64 {
			f.mu.Lock()
			defer f.mu.Unlock()
			return float64(pick(f.sched.Counts()))
		}
	}
	gauge := func(name, help string, pick func(stateCounts) int) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: name, Help: help}, counts(pick))
	}
	m.registry.MustRegister(
		m.subscriptions, m.subscriptionErrors, m.offers, m.declined, m.launched,
		m.updates, m.kills, m.callErrors, m.matchSeconds,
		gauge("apps", "Apps defined.", func(c stateCounts) int { return c.Apps }),
		gauge("instances_wanted", "Instances the apps ask for.", func(c stateCounts) int { return c.Instances }),
		gauge("instances_pending", "Instances waiting for a launch.", func(c stateCounts) int { return c.Pending }),
		gauge("tasks_staged", "Tasks launched and not yet running.", func(c stateCounts) int { return c.Staged }),
		gauge("tasks_running", "Tasks running.", func(c stateCounts) int { return c.Running }),
		gauge("tasks_killing", "Tasks being killed.", func(c stateCounts) int { return c.Killing }),
		gauge("apps_backed_off", "Apps waiting out their launch backoff.", func(c stateCounts) int { return c.BackedOff }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "connected",
			Help: "1 while subscribed to the master."}, func() float64 {
			f.mu.Lock()
			defer f.mu.Unlock()
			if f.connected {
				return 1
			}
			return 0
		}),
		newAppCollector(f),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// appCollector exports per-app figures at scrape time, so that a deleted
// app's series disappear with it.
type appCollector struct {
	f         *Framework
	instances *prometheus.Desc
	failures  *prometheus.Desc
}

func newAppCollector(f *Framework) *appCollector {
	return &appCollector{
		f: f,
		instances: prometheus.NewDesc("gleaner_framework_app_instances",
			"Instances of an app by state: wanted, running, staged, killing, pending.", []string{"app", "state"}, nil),
		failures: prometheus.NewDesc("gleaner_framework_app_consecutive_failures",
			"Consecutive task failures of an app (its backoff level).", []string{"app"}, nil),
	}
}

func (c *appCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.instances
	ch <- c.failures
}

func (c *appCollector) Collect(ch chan<- prometheus.Metric) {
	c.f.mu.Lock()
	apps := c.f.sched.Apps()
	c.f.mu.Unlock()
	for _, a := range apps {
		pending, failures := 0, 0
		if a.Pending != nil {
			pending = a.Pending.Instances
		}
		if a.Backoff != nil {
			failures = a.Backoff.Failures
		}
		for state, n := range map[string]int{
			"wanted": a.Instances, "running": a.TasksRunning, "staged": a.TasksStaged,
			"killing": a.TasksKilling, "pending": pending,
		} {
			ch <- prometheus.MustNewConstMetric(c.instances, prometheus.GaugeValue, float64(n), a.ID, state)
		}
		ch <- prometheus.MustNewConstMetric(c.failures, prometheus.GaugeValue, float64(failures), a.ID)
	}
}
