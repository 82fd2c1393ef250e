// Command harvest-replay replays machine-utilisation traces through the
// reserve package's policies and reports how much idle capacity each would
// have lent and how often that would have hurt the business.
//
// Usage:
//
//	harvest-replay [flags] trace...
//	harvest-replay -all ../shared/traces/bitbrains-rnd-2013-07 -markdown
//	harvest-replay -policy default -plot out.svg ../shared/traces/bitbrains-rnd-2013-07/7.csv.gz
//
// A trace is a Bitbrains GWA-T-12 VM file (*.csv or *.csv.gz), a PlanetLab
// day (*.tar.gz, one trace per VM), or, with -cpus (and -memory), a plain
// CSV of timestamp,cpu,memory rows of the business's usage on a machine of
// that capacity (see reserve.ReadCSV):
//
//	harvest-replay -cpus 16 -memory 68719476736 -policy default my-host.csv
//
// Without -policy every policy in the catalogue is replayed; -markdown
// prints the tables of reserve/RESULTS.md.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gleaner/gleaner/reserve"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "harvest-replay:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("harvest-replay", flag.ContinueOnError)
	all := fs.String("all", "", "replay every trace file in this directory")
	policy := fs.String("policy", "", "replay only this policy of the catalogue: "+strings.Join(names(), ", "))
	markdown := fs.Bool("markdown", false, "print Markdown tables")
	cpus := fs.Float64("cpus", 0, "read the traces as plain timestamp,cpu,memory CSV of a machine with this many cores")
	memBytes := fs.Float64("memory", 0, "with -cpus: the machine's memory in bytes")
	plotPath := fs.String("plot", "", "write an SVG (or .png) of the first trace replayed with -policy (default: default) to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *memBytes != 0 && *cpus == 0 {
		return errors.New("-memory needs -cpus (it describes the machine of a plain CSV trace)")
	}
	files := fs.Args()
	if *all != "" {
		matches, err := filepath.Glob(filepath.Join(*all, "*"))
		if err != nil {
			return err
		}
		for _, m := range matches {
			if strings.HasSuffix(m, ".gz") || strings.HasSuffix(m, ".csv") || strings.HasSuffix(m, ".tar") || strings.HasSuffix(m, ".tgz") {
				files = append(files, m)
			}
		}
	}
	if len(files) == 0 {
		return errors.New("no traces given (pass files or -all DIR)")
	}
	sortNumerically(files)
	var traces []reserve.Trace
	for _, f := range files {
		trs, err := readTraces(f, reserve.Resources{CPUCores: *cpus, MemoryBytes: *memBytes})
		if err != nil {
			return err
		}
		for _, tr := range trs {
			tr.Name = strings.TrimSuffix(filepath.Base(tr.Name), ".csv.gz")
			if len(tr.Samples) < 2 {
				fmt.Fprintf(os.Stderr, "harvest-replay: skipping %s: %d usable samples (%d rows skipped)\n",
					tr.Name, len(tr.Samples), len(tr.Skipped))
				continue
			}
			traces = append(traces, tr)
		}
	}
	if len(traces) == 0 {
		return fmt.Errorf("no trace has two usable samples among %d files", len(files))
	}
	cands := catalogue()
	if *policy != "" || *plotPath != "" {
		name := *policy
		if name == "" {
			name = "default"
		}
		c, ok := lookup(name)
		if !ok {
			return fmt.Errorf("unknown policy %q (have %s)", name, strings.Join(names(), ", "))
		}
		cands = []candidate{c}
	}
	if *plotPath != "" {
		return writePlot(*plotPath, traces[0], cands[0])
	}
	results := make([][]reserve.Score, len(cands))
	for i, c := range cands {
		for _, tr := range traces {
			sc, err := reserve.Replay(tr, c.policy, c.hysteresis)
			if err != nil {
				return err
			}
			results[i] = append(results[i], sc)
		}
	}
	if *markdown {
		printMarkdown(stdout, cands, results)
		return nil
	}
	const gib = 1 << 30
	for i, c := range cands {
		for _, sc := range results[i] {
			fmt.Fprintf(stdout, "%-12s %-8s cpu harvest %5.1f%% (%.1f of %.1f idle core-h) violations %5.2f%%  "+
				"memory harvest %5.1f%% (%.1f of %.1f idle GiB-h) violations %5.2f%%  changes %d\n",
				c.name, sc.Trace, 100*sc.CPU.HarvestRatio, sc.CPU.Harvested, sc.CPU.OracleIdle, 100*sc.CPU.ViolationRatio,
				100*sc.Memory.HarvestRatio, sc.Memory.Harvested/gib, sc.Memory.OracleIdle/gib, 100*sc.Memory.ViolationRatio,
				sc.Changes)
		}
	}
	return nil
}

// readTraces reads a public trace file, or a plain CSV if capacity has CPU.
func readTraces(path string, capacity reserve.Resources) ([]reserve.Trace, error) {
	if capacity.CPUCores == 0 {
		return reserve.ReadTraceFile(path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	tr, err := reserve.ReadCSV(f, path, capacity)
	return []reserve.Trace{tr}, err
}

// sortNumerically orders 2.csv.gz before 10.csv.gz.
func sortNumerically(files []string) {
	key := func(s string) (int, string) {
		b := filepath.Base(s)
		n := 0
		i := 0
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
			n = n*10 + int(b[i]-'0')
		}
		if i == 0 {
			n = -1
		}
		return n, b
	}
	sort.Slice(files, func(i, j int) bool {
		ni, si := key(files[i])
		nj, sj := key(files[j])
		if ni != nj {
			return ni < nj
		}
		return si < sj
	})
}
