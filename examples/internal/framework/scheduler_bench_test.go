package framework

import (
	"fmt"
	"testing"

	"github.com/gleaner/gleaner/offer"
)

// BenchmarkResourceOffers measures the scheduling core alone: placing 1,000
// instances of 10 apps (rack GROUP_BY and hostname MAX_PER constraints) on
// one batch of 100 offers, as after a framework starts.
func BenchmarkResourceOffers(b *testing.B) {
	var offers []offer.Offer
	for i := range 100 {
		offers = append(offers, offer.Offer{
			ID: fmt.Sprintf("o%d", i), AgentID: fmt.Sprintf("a%d", i), Hostname: fmt.Sprintf("h%d", i),
			Attributes: map[string]string{"rack": fmt.Sprintf("r%d", i%5)},
			Resources:  offer.MustParseResources("cpus:16;mem:65536"),
		})
	}
	var apps []App
	for i := range 10 {
		a, err := decodeApp(fmt.Appendf(nil, `{"id":"app%d","cmd":"x","cpus":1,"mem":256,"instances":100,
			"constraints":[["rack","GROUP_BY","5"],["hostname","MAX_PER","2"]]}`, i), "")
		if err != nil {
			b.Fatal(err)
		}
		apps = append(apps, a)
	}
	b.ReportAllocs()
	launched := 0
	for b.Loop() {
		s := newScheduler(schedulerConfig{})
		for _, a := range apps {
			s.PutApp(a)
		}
		for _, acc := range s.ResourceOffers(offers).Accept {
			launched += len(acc.Tasks)
		}
	}
	if launched != 1000*b.N {
		b.Fatalf("launched %d, want %d", launched, 1000*b.N)
	}
	b.ReportMetric(float64(launched)/b.Elapsed().Seconds(), "placements/s")
}
