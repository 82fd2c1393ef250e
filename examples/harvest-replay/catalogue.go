package main

import (
	"time"

	"github.com/gleaner/gleaner/reserve"
)

// candidate is a named policy and hysteresis.
type candidate struct {
	name       string
	policy     reserve.Policy
	hysteresis reserve.Hysteresis
}

// catalogue is what -all replays: one or two settings of each policy, the
// ones that did best in a wider sweep.
func catalogue() []candidate {
	grow := reserve.Hysteresis{GrowAfter: 15 * time.Minute, MinChangePercent: 1}
	return []candidate{
		{"default", reserve.DefaultPolicy(), reserve.DefaultHysteresis()},
		{"peak", reserve.PeakPolicy(), reserve.DefaultHysteresis()},
		{"swing", reserve.MemorySwingPolicy(), reserve.DefaultHysteresis()},
		{"headroom", reserve.Headroom{Margin: reserve.Margin{OfCapacity: 5}}, reserve.Hysteresis{}},
		{"headroom-grow", reserve.Headroom{Margin: reserve.Margin{OfUsage: 10, OfCapacity: 5}}, grow},
		{"max-15m-nogrow", reserve.PeakPolicy(), reserve.Hysteresis{}},
		{"p95-1h", reserve.Percentile{Window: time.Hour, Percentile: 95, Margin: reserve.Margin{OfUsage: 10, OfCapacity: 5}}, grow},
		{"max-30m", reserve.Percentile{Window: 30 * time.Minute, Percentile: 100, Margin: reserve.Margin{OfUsage: 10, OfCapacity: 5}}, reserve.Hysteresis{}},
		{"max-1h", reserve.Percentile{Window: time.Hour, Percentile: 100, Margin: reserve.Margin{OfUsage: 10, OfCapacity: 5}}, reserve.Hysteresis{}},
		{"max-3h", reserve.Percentile{Window: 3 * time.Hour, Percentile: 100, Margin: reserve.Margin{OfUsage: 10, OfCapacity: 5}}, reserve.Hysteresis{}},
		{"decay-peak", reserve.PeakDecay{HalfLife: 30 * time.Minute, Percentile: 100, Window: 30 * time.Minute, Margin: reserve.Margin{OfUsage: 10, OfCapacity: 5}}, reserve.Hysteresis{}},
		{"decay-p98", reserve.PeakDecay{HalfLife: 2 * time.Hour, Percentile: 98, Window: time.Hour, Margin: reserve.Margin{OfUsage: 10, OfCapacity: 5}}, reserve.Hysteresis{}},
		{"koordinator", reserve.Koordinator{}, reserve.KoordinatorHysteresis()},
		{"min", reserve.Min{
			reserve.Percentile{Window: 3 * time.Hour, Percentile: 99, Margin: reserve.Margin{OfUsage: 10, OfCapacity: 2}},
			reserve.Percentile{Window: 30 * time.Minute, Percentile: 100, Margin: reserve.Margin{OfUsage: 10, OfCapacity: 5}},
		}, reserve.Hysteresis{}},
	}
}

func names() []string {
	var out []string
	for _, c := range catalogue() {
		out = append(out, c.name)
	}
	return out
}

func lookup(name string) (candidate, bool) {
	for _, c := range catalogue() {
		if c.name == name {
			return c, true
		}
	}
	return candidate{}, false
}
