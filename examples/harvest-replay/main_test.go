package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gleaner/gleaner/internal/atomicfile"
)

// writeTrace writes a Bitbrains-format VM trace of a day at 5-minute steps:
// 4 cores, 16 GiB, usage 1 core and 4 GiB with a burst every two hours.
func writeTrace(t *testing.T, dir, name string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("Timestamp [ms];\tCPU cores;\tCPU capacity provisioned [MHZ];\tCPU usage [MHZ];\tCPU usage [%];\tMemory capacity provisioned [KB];\tMemory usage [KB]\n")
	for i := range 288 {
		cpuMHz, memKB := 2000.0, 4.0*1024*1024
		if i%24 == 23 {
			cpuMHz, memKB = 6000, 8*1024*1024
		}
		fmt.Fprintf(&b, "%d;\t4;\t8000;\t%g;\t%g;\t%d;\t%g\n", 1372629804+300*i, cpuMHz, cpuMHz/80, 16*1024*1024, memKB)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestMarkdownTables(t *testing.T) {
	dir := t.TempDir()
	writeTrace(t, dir, "2.csv")
	writeTrace(t, dir, "10.csv")
	var out bytes.Buffer
	if err := run([]string{"-all", dir, "-markdown"}, &out); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, name := range names() {
		if !strings.Contains(s, "| "+name+": ") {
			t.Errorf("summary lacks policy %s", name)
		}
	}
	// Per-trace rows in numeric order: 2 before 10.
	i2, i10 := strings.Index(s, "\n| 2.csv |"), strings.Index(s, "\n| 10.csv |")
	if i2 < 0 || i10 < 0 || i2 > i10 {
		t.Errorf("per-trace rows missing or out of order:\n%s", s)
	}
}

func TestPlotWritesSVG(t *testing.T) {
	dir := t.TempDir()
	tr := writeTrace(t, dir, "7.csv")
	svg := filepath.Join(dir, "out.svg")
	if err := run([]string{"-policy", "default", "-plot", svg, tr}, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(svg)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<svg", "business usage", "violation", "CPU harvest"} {
		if !bytes.Contains(data, []byte(want)) {
			t.Errorf("SVG lacks %q", want)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if atomicfile.IsTemp(e.Name()) {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(bad, []byte("Timestamp;CPU cores;cap;use;pct;memcap;memuse\n1;2;x;4;5;6;7\n"), 0o644)
	// A VM that was switched off all along: every row is skipped.
	off := filepath.Join(dir, "off.csv")
	os.WriteFile(off, []byte("Timestamp;CPU cores;cap;use;pct;memcap;memuse\n1;0;0;0;0;0;0\n2;0;0;0;0;0;0\n"), 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "no traces"},
		{[]string{bad}, "bad.csv:2: cap"},
		{[]string{off}, "no trace has two usable samples"},
		{[]string{"-memory", "1024", off}, "-memory needs -cpus"},
		{[]string{"-plot", filepath.Join(dir, "off.svg"), off}, "no trace has two usable samples"},
		{[]string{"-policy", "nope", writeTrace(t, dir, "1.csv")}, `unknown policy "nope"`},
	} {
		err := run(tc.args, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("run(%v) = %v, want an error containing %q", tc.args, err, tc.want)
		}
	}
}

func TestPlainCSV(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("timestamp,cpu,memory\n")
	for i := range 100 {
		fmt.Fprintf(&b, "%d,%d%%,%d\n", 1700000000+60*i, 20+i%3*10, 4<<30)
	}
	p := filepath.Join(dir, "host.csv")
	os.WriteFile(p, []byte(b.String()), 0o644)
	var out bytes.Buffer
	if err := run([]string{"-cpus", "8", "-memory", fmt.Sprint(16 << 30), "-policy", "default", p}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "default      host.csv cpu harvest") {
		t.Errorf("output %q", out.String())
	}
	// 100 one-minute samples at 30% of 8 cores on average: 99 intervals
	// of 5.6 idle cores, 9.2 core-hours; 12 GiB idle, 19.8 GiB-hours.
	for _, want := range []string{" of 9.2 idle core-h)", " of 19.8 idle GiB-h)", "changes "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output %q lacks %q", out.String(), want)
		}
	}
}
