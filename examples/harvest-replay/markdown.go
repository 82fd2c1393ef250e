package main

import (
	"fmt"
	"io"
	"slices"

	"github.com/gleaner/gleaner/reserve"
)

// Goal of issue 6 on every Bitbrains trace.
const (
	goalHarvest   = 0.90
	goalViolation = 0.01
)

func meets(r reserve.ResourceScore) bool {
	return r.HarvestRatio >= goalHarvest && r.ViolationRatio <= goalViolation
}

// printMarkdown prints the per-policy summary and, for the first candidate,
// the per-trace table.
func printMarkdown(w io.Writer, cands []candidate, results [][]reserve.Score) {
	fmt.Fprintf(w, "Goal: harvest ≥ %.0f%% of oracle-idle with ≤ %.0f%% violation intervals, per trace.\n\n", 100*goalHarvest, 100*goalViolation)
	fmt.Fprintln(w, "| policy | hysteresis | traces | CPU goal met | CPU harvest median / min | CPU violations median / max | memory goal met | memory harvest median / min | memory violations median / max | CPU harvest all traces | changes median |")
	fmt.Fprintln(w, "| --- | --- | --: | --: | --: | --: | --: | --: | --: | --: | --: |")
	for i, c := range cands {
		sc := results[i]
		var cpuMet, memMet, memTraces int
		var ch, cv, mh, mv, changes []float64
		var idle, harvested float64
		for _, s := range sc {
			if meets(s.CPU) {
				cpuMet++
			}
			ch, cv = append(ch, s.CPU.HarvestRatio), append(cv, s.CPU.ViolationRatio)
			idle += s.CPU.OracleIdle
			harvested += s.CPU.Harvested
			changes = append(changes, float64(s.Changes))
			if s.Memory.OracleIdle > 0 {
				memTraces++
				if meets(s.Memory) {
					memMet++
				}
				mh, mv = append(mh, s.Memory.HarvestRatio), append(mv, s.Memory.ViolationRatio)
			}
		}
		mem := "n/a | n/a | n/a" // no trace had memory to lend (PlanetLab)
		if memTraces > 0 {
			mem = fmt.Sprintf("%d of %d | %s / %s | %s / %s", memMet, memTraces,
				pct(median(mh)), pct(slices.Min(mh)), pct2(median(mv)), pct2(slices.Max(mv)))
		}
		fmt.Fprintf(w, "| %s: %s | %s | %d | %d | %s / %s | %s / %s | %s | %s | %.0f |\n",
			c.name, c.policy, c.hysteresis, len(sc), cpuMet,
			pct(median(ch)), pct(slices.Min(ch)), pct2(median(cv)), pct2(slices.Max(cv)),
			mem, pct(harvested/idle), median(changes))
	}
	fmt.Fprintf(w, "\nPer trace, policy %s (%s; %s):\n\n", cands[0].name, cands[0].policy, cands[0].hysteresis)
	fmt.Fprintln(w, "| trace | intervals | CPU oracle-idle core-h | CPU harvested core-h | CPU harvest | CPU violations | memory oracle-idle GiB-h | memory harvested GiB-h | memory harvest | memory violations | changes | goal |")
	fmt.Fprintln(w, "| --- | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --- |")
	const gib = 1 << 30
	for _, s := range results[0] {
		goal := "met"
		switch {
		case !meets(s.CPU) && !meets(s.Memory):
			goal = "missed: CPU, memory"
		case !meets(s.CPU):
			goal = "missed: CPU"
		case !meets(s.Memory):
			goal = "missed: memory"
		}
		fmt.Fprintf(w, "| %s | %d | %.1f | %.1f | %s | %s | %.1f | %.1f | %s | %s | %d | %s |\n",
			s.Trace, s.Intervals, s.CPU.OracleIdle, s.CPU.Harvested, pct(s.CPU.HarvestRatio), pct2(s.CPU.ViolationRatio),
			s.Memory.OracleIdle/gib, s.Memory.Harvested/gib, pct(s.Memory.HarvestRatio), pct2(s.Memory.ViolationRatio),
			s.Changes, goal)
	}
}

func pct(v float64) string  { return fmt.Sprintf("%.1f%%", 100*v) }
func pct2(v float64) string { return fmt.Sprintf("%.2f%%", 100*v) }

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}
