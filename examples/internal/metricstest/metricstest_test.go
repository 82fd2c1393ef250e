package metricstest_test

import (
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gleaner/gleaner/examples/internal/metricstest"
)

func TestValueReadsCountersAndHistogramCounts(t *testing.T) {
	reg := prometheus.NewRegistry()
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "requests_total"}, []string{"route", "code"})
	rounds := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "round_seconds"})
	reg.MustRegister(requests, rounds)
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()

	if got := metricstest.Value(t, srv.URL, "requests_total"); got != 0 {
		t.Fatalf("before any request: %v, want 0", got)
	}
	requests.WithLabelValues("/report", "200").Add(3)
	requests.WithLabelValues("/report", "500").Inc()
	requests.WithLabelValues("/state", "200").Add(5)
	rounds.Observe(0.1)
	rounds.Observe(0.2)
	for _, tc := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"requests_total", nil, 9},
		{"requests_total", []string{"route", "/report"}, 4},
		{"requests_total", []string{"route", "/report", "code", "200"}, 3},
		{"requests_total", []string{"route", "/nothing"}, 0},
		{"round_seconds_count", nil, 2},
	} {
		if got := metricstest.Value(t, srv.URL, tc.name, tc.labels...); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
}
