package attrs_test

import (
	"context"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/gleaner/gleaner/attrs"
	"github.com/gleaner/gleaner/internal/etcdtest"
)

// BenchmarkPropagation measures the time from calling Set to a Syncer's
// subscriber receiving the change, over loopback to an embedded etcd
// (without the test proxy). Goal: p99 under 10 ms. The bare-watch case
// measures a plain etcd Put and Watch on the same server for comparison:
// the difference is what the Syncer adds.
func BenchmarkPropagation(b *testing.B) {
	srv := etcdtest.Start(b)
	cli := etcdtest.NewClient(b, srv.ServerEndpoint())
	ctx := context.Background()

	runs := 0
	b.Run("syncer", func(b *testing.B) {
		runs++ // a fresh agent per run, so no value is left from the last
		agent := "agent-" + strconv.Itoa(runs)
		store := newEtcdStore(b, cli)
		s, err := attrs.NewSyncer(cli, agent)
		if err != nil {
			b.Fatal(err)
		}
		sub := s.Subscribe()
		defer sub.Close()
		changes := sub.C()
		start(b, s)
		waitReady(b, s.Ready())
		measurePropagation(b, func(i int) {
			if _, err := store.Set(ctx, agent, "seq", attrs.Scalar(float64(i))); err != nil {
				b.Fatal(err)
			}
			if c := next(b, changes); c.New.Scalar() != float64(i) {
				b.Fatalf("got %+v, want seq = %d", c, i)
			}
		})
	})
	b.Run("bare-watch", func(b *testing.B) {
		wctx, cancel := context.WithCancel(ctx)
		defer cancel()
		const key = "/bench/bare"
		wch := cli.Watch(wctx, key)
		measurePropagation(b, func(i int) {
			if _, err := cli.Put(ctx, key, strconv.Itoa(i)); err != nil {
				b.Fatal(err)
			}
			if resp := <-wch; resp.Err() != nil || len(resp.Events) != 1 {
				b.Fatalf("watch: %+v", resp)
			}
		})
	})
}

// measurePropagation runs setAndWait b.N times and reports the latency
// percentiles.
func measurePropagation(b *testing.B, setAndWait func(i int)) {
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		t0 := time.Now()
		setAndWait(i)
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(ms(percentile(lat, 0.50)), "p50-ms")
	b.ReportMetric(ms(percentile(lat, 0.99)), "p99-ms")
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[int(p*float64(len(sorted)-1))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// BenchmarkClusterViewInitialLoad measures a ClusterView's first full read
// of 10,000 agents × 10 attributes: seconds to Ready, and the heap the
// loaded view holds.
func BenchmarkClusterViewInitialLoad(b *testing.B) {
	const agents, perAgent = 10000, 10
	srv := etcdtest.Start(b)
	cli := etcdtest.NewClient(b, srv.ServerEndpoint())
	loadAgents(b, cli, agents, perAgent)

	var total time.Duration
	var heap uint64
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		before := heapInUse()
		t0 := time.Now()
		v := newClusterView(b, cli)
		done := make(chan error, 1)
		go func() { done <- v.Run(context.Background()) }()
		waitReady(b, v.Ready())
		total += time.Since(t0)
		b.StopTimer()
		heap += heapInUse() - min(before, heapInUse())
		if n := len(v.Agents()); n != agents {
			b.Fatalf("view holds %d agents, want %d", n, agents)
		}
		v.Close()
		<-done
		b.StartTimer()
	}
	b.ReportMetric(total.Seconds()/float64(b.N), "load-s")
	b.ReportMetric(float64(heap)/float64(b.N)/(1<<20), "view-heap-MB")
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

var benchText = "rack:r1;zone:east;cores:16;mem:65536.5;ports:[31000-32000, 40000-41000];os:debian-12;label6:x;label7:y;label8:z;label9:w"

func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := attrs.Parse(benchText); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFormat(b *testing.B) {
	as := mustParse(b, benchText)
	b.ReportAllocs()
	for b.Loop() {
		_ = as.String()
	}
}

func BenchmarkMap(b *testing.B) {
	as := mustParse(b, benchText)
	b.ReportAllocs()
	for b.Loop() {
		_ = as.Map()
	}
}
