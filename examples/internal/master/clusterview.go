package master

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gleaner/gleaner/examples/internal/api"
	"github.com/gleaner/gleaner/offer"
)

// The cluster view is what the whole cluster lends and what batch work
// makes of it (the dashboard's first table and /metrics): the sums over
// the agents that are up of their capacity, what they lend, what the
// business and the harvested tasks use, and what is idle but not lent;
// and the harvest ratio, what harvested work used of the idle capacity
// (capacity minus business), over the last hour and day.
//
// The ratio and the charts come from a ledger that integrates each agent's
// figures over the time between its reports, in buckets of ledgerBucket:
// a report adds value × seconds since the agent's previous one, so an
// agent counts for as long as it reported, whatever its interval.

// Ledger sizes: ten-second buckets over a day.
const (
	ledgerBucket = 10 * time.Second
	ledgerLen    = int(24 * time.Hour / ledgerBucket)
	hourBuckets  = int(time.Hour / ledgerBucket)
)

// The resources the ledger follows, as the dashboard names them.
var ledgerResources = [3]string{"cpus", "mem", "disk"}

// figures are per-resource amounts, in ledgerResources' order.
type figures [3]float64

func figuresOf(r offer.Resources) figures {
	s := scalars(r)
	return figures{s["cpus"], s["mem"], s["disk"]}
}

func (f figures) scalars() api.Scalars {
	out := api.Scalars{}
	for i, name := range ledgerResources {
		out[name] = f[i]
	}
	return out
}

// bucket holds one ledgerBucket's integrals (amount × seconds).
type bucket struct {
	slot                                int64 // unix time / ledgerBucket; 0: unused
	capacity, lent, harvested, business figures
	idle                                figures // capacity minus business
}

// ledger is the ring of buckets; guarded by Master.mu.
type ledger struct {
	buckets [ledgerLen]bucket
}

func slotOf(t time.Time) int64 { return t.UnixNano() / int64(ledgerBucket) }

// add integrates one agent's report over dt.
func (l *ledger) add(now time.Time, dt time.Duration, capacity, lent, harvested, business offer.Resources) {
	if dt <= 0 {
		return
	}
	slot := slotOf(now)
	b := &l.buckets[slot%int64(ledgerLen)]
	if b.slot != slot {
		*b = bucket{slot: slot}
	}
	sec := dt.Seconds()
	c, h, bz := figuresOf(capacity), figuresOf(harvested), figuresOf(business)
	ln := figuresOf(lent)
	for i := range ledgerResources {
		b.capacity[i] += c[i] * sec
		b.lent[i] += ln[i] * sec
		b.harvested[i] += h[i] * sec
		b.business[i] += bz[i] * sec
		b.idle[i] += max(c[i]-bz[i], 0) * sec
	}
}

// ratio is harvested ÷ idle over the last n buckets before now, by
// resource; a resource that was never idle is left out.
func (l *ledger) ratio(now time.Time, n int) api.Scalars {
	var harvested, idle figures
	last := slotOf(now)
	for i := range n {
		b := &l.buckets[(last-int64(i)+int64(ledgerLen))%int64(ledgerLen)]
		if b.slot != last-int64(i) {
			continue
		}
		for r := range ledgerResources {
			harvested[r] += b.harvested[r]
			idle[r] += b.idle[r]
		}
	}
	out := api.Scalars{}
	for r, name := range ledgerResources {
		if idle[r] > 0 {
			out[name] = harvested[r] / idle[r]
		}
	}
	return out
}

// history is the cluster's totals averaged over each of the last n buckets
// before the current one (which is still filling), oldest first; buckets
// without reports are left out.
func (l *ledger) history(now time.Time, n int) []api.ClusterSample {
	out := []api.ClusterSample{}
	last := slotOf(now) - 1
	width := ledgerBucket.Seconds()
	avg := func(f figures) api.Scalars {
		for i := range f {
			f[i] /= width
		}
		return f.scalars()
	}
	for i := n - 1; i >= 0; i-- {
		slot := last - int64(i)
		b := &l.buckets[(slot%int64(ledgerLen)+int64(ledgerLen))%int64(ledgerLen)]
		if b.slot != slot {
			continue
		}
		out = append(out, api.ClusterSample{Time: time.Unix(0, slot*int64(ledgerBucket)),
			Capacity: avg(b.capacity), Lent: avg(b.lent), Harvested: avg(b.harvested), Business: avg(b.business)})
	}
	return out
}

// record adds an agent's report to the ledger: its figures over the time
// since its previous report (prev), at most a few report intervals (an
// agent silent longer than that is not counted for the gap).
func (m *Master) record(a *agent, prev, now time.Time) {
	dt := m.cfg.ReportInterval
	if !prev.IsZero() {
		dt = min(now.Sub(prev), 3*m.cfg.ReportInterval)
	}
	m.ledger.add(now, dt, a.capacity, a.total, a.harvested, a.business)
}

// clusterView sums the agents that are up and reads the ledger; called
// under m.mu. history is the most buckets of totals returned (negative:
// an hour's).
func (m *Master) clusterView(c *cluster, now time.Time, history int) api.ClusterView {
	var capacity, lent, harvested, business, idle figures
	v := api.ClusterView{}
	for _, a := range c.agents {
		v.Agents++
		if !a.up {
			continue
		}
		v.AgentsUp++
		cf, lf, hf, bf := figuresOf(a.capacity), figuresOf(a.total), figuresOf(a.harvested), figuresOf(a.business)
		for i := range ledgerResources {
			capacity[i] += cf[i]
			lent[i] += lf[i]
			harvested[i] += hf[i]
			business[i] += bf[i]
			idle[i] += max(cf[i]-bf[i]-lf[i], 0)
		}
	}
	v.Capacity, v.Lent, v.Harvested, v.Business, v.IdleNotLent =
		capacity.scalars(), lent.scalars(), harvested.scalars(), business.scalars(), idle.scalars()
	v.HarvestRatio = api.HarvestRatios{Hour: m.ledger.ratio(now, hourBuckets), Day: m.ledger.ratio(now, ledgerLen)}
	if history < 0 || history > hourBuckets {
		history = hourBuckets
	}
	v.History = m.ledger.history(now, history)
	return v
}

// clusterCollector exports the cluster view at /metrics while this master
// leads, in base units: cores and bytes.
type clusterCollector struct {
	m                 *Master
	cpu, memory, disk *prometheus.Desc
	ratio             *prometheus.Desc
}

func newClusterCollector(m *Master) *clusterCollector {
	figure := []string{"figure"}
	return &clusterCollector{m: m,
		cpu: prometheus.NewDesc("gleaner_cluster_cpu_cores",
			"The cluster's CPU by figure: capacity, lent, harvested (used by harvested tasks), business, idle_not_lent.", figure, nil),
		memory: prometheus.NewDesc("gleaner_cluster_memory_bytes",
			"The cluster's memory by figure: capacity, lent, harvested, business, idle_not_lent.", figure, nil),
		disk: prometheus.NewDesc("gleaner_cluster_disk_bytes",
			"The cluster's disk by figure: capacity, lent, harvested, business, idle_not_lent.", figure, nil),
		ratio: prometheus.NewDesc("gleaner_cluster_harvest_ratio",
			"What harvested work used of the idle capacity (capacity minus business), 0 to 1, by resource and window.",
			[]string{"resource", "window"}, nil),
	}
}

func (cc *clusterCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- cc.cpu
	ch <- cc.memory
	ch <- cc.disk
	ch <- cc.ratio
}

func (cc *clusterCollector) Collect(ch chan<- prometheus.Metric) {
	m := cc.m
	m.mu.Lock()
	if m.cur == nil {
		m.mu.Unlock()
		return
	}
	v := m.clusterView(m.cur, time.Now(), 0)
	m.mu.Unlock()
	const mib = 1 << 20
	for _, f := range []struct {
		name string
		s    api.Scalars
	}{{"capacity", v.Capacity}, {"lent", v.Lent}, {"harvested", v.Harvested}, {"business", v.Business}, {"idle_not_lent", v.IdleNotLent}} {
		ch <- prometheus.MustNewConstMetric(cc.cpu, prometheus.GaugeValue, f.s["cpus"], f.name)
		ch <- prometheus.MustNewConstMetric(cc.memory, prometheus.GaugeValue, f.s["mem"]*mib, f.name)
		ch <- prometheus.MustNewConstMetric(cc.disk, prometheus.GaugeValue, f.s["disk"]*mib, f.name)
	}
	for _, w := range []struct {
		name string
		s    api.Scalars
	}{{"1h", v.HarvestRatio.Hour}, {"24h", v.HarvestRatio.Day}} {
		for res, metric := range map[string]string{"cpus": "cpu", "mem": "memory", "disk": "disk"} {
			if r, ok := w.s[res]; ok {
				ch <- prometheus.MustNewConstMetric(cc.ratio, prometheus.GaugeValue, r, metric, w.name)
			}
		}
	}
}
