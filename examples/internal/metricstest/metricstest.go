// Package metricstest reads figures from a Prometheus /metrics endpoint,
// so that tests wait on counters the programs already export (allocation
// rounds, reports received, offers answered) instead of sleeping for "a few
// rounds" and hoping they happened.
package metricstest

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/gleaner/gleaner/examples/internal/auth/authtest"
)

// Value returns the sum of the named metric's series whose labels include
// labels (name, value pairs) as scraped from url now; 0 when no series
// matches yet, as a counter that was never incremented is not exported. A
// name ending in _count or _sum reads that part of a histogram or summary.
// An https URL is scraped as an operator with a certificate of the test
// CA. A failed scrape fails t.
func Value(t testing.TB, url, name string, labels ...string) float64 {
	t.Helper()
	client := http.DefaultClient
	if strings.HasPrefix(url, "https://") {
		// Secured servers answer /metrics to operators granted get_state:
		// an operator of the test CA, named as the demo cluster's admin.
		client = authtest.Client(t, authtest.Principal(t, "operator/admin"))
	}
	v, err := scrape(client, url, name, labels)
	if err != nil {
		t.Fatalf("metric %s from %s: %v", name, url, err)
	}
	return v
}

func scrape(client *http.Client, url, name string, labels []string) (float64, error) {
	if len(labels)%2 != 0 {
		return 0, fmt.Errorf("labels %q are not name, value pairs", labels)
	}
	resp, err := client.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET: %s", resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return 0, err
	}
	family, part := name, ""
	if _, ok := families[name]; !ok {
		for _, suffix := range []string{"_count", "_sum"} {
			if base, found := strings.CutSuffix(name, suffix); found {
				family, part = base, suffix
			}
		}
	}
	mf, ok := families[family]
	if !ok {
		return 0, nil
	}
	sum := 0.0
	for _, m := range mf.GetMetric() {
		if matches(m, labels) {
			sum += value(m, part)
		}
	}
	return sum, nil
}

func matches(m *dto.Metric, labels []string) bool {
	for i := 0; i < len(labels); i += 2 {
		found := false
		for _, lp := range m.GetLabel() {
			if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func value(m *dto.Metric, part string) float64 {
	switch {
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	case m.Untyped != nil:
		return m.GetUntyped().GetValue()
	case m.Histogram != nil && part == "_count":
		return float64(m.GetHistogram().GetSampleCount())
	case m.Histogram != nil && part == "_sum":
		return m.GetHistogram().GetSampleSum()
	case m.Summary != nil && part == "_count":
		return float64(m.GetSummary().GetSampleCount())
	case m.Summary != nil && part == "_sum":
		return m.GetSummary().GetSampleSum()
	}
	return 0
}
