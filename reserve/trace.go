package reserve

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// Trace is a recorded utilisation history of one business machine (or VM),
// ready for Replay.
type Trace struct {
	Name    string
	Samples []Sample // in time order, each valid
	Skipped []Skip   // rows left out, with why
}

// Skip is a row a trace reader left out on purpose. Readers skip rows that
// are well-formed but unusable: zero CPU capacity (Bitbrains records a VM
// that is switched off as a row of zeros), and a timestamp not after the
// previous kept row (Bitbrains repeats some rows). Anything malformed, NaN
// or negative is an error instead.
type Skip struct {
	Line   int
	Reason string
}

// append adds s, read from the given line of tr's file: it skips s if it
// is not after the previous sample and reports it if it is invalid.
func (tr *Trace) append(s Sample, line int) error {
	if n := len(tr.Samples); n > 0 && !s.Time.After(tr.Samples[n-1].Time) {
		tr.Skipped = append(tr.Skipped, Skip{Line: line, Reason: "timestamp not after the previous row"})
		return nil
	}
	if err := s.Validate(); err != nil {
		return &ParseError{File: tr.Name, Line: line, Err: err}
	}
	tr.Samples = append(tr.Samples, s)
	return nil
}

// ParseError is a trace line that could not be used; it names the file and
// line and wraps ErrMalformed and the cause.
type ParseError struct {
	File  string
	Line  int
	Field string // column name, if one is at fault
	Err   error
}

func (e *ParseError) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s:%d: %s: %v", e.File, e.Line, e.Field, e.Err)
	}
	return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
}

func (e *ParseError) Unwrap() []error { return []error{ErrMalformed, e.Err} }

// maybeGunzip returns r decompressed if it starts with the gzip magic.
func maybeGunzip(r io.Reader) (io.Reader, func() error, error) {
	br := bufio.NewReader(r)
	magic, _ := br.Peek(2)
	if !bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		return br, func() error { return nil }, nil
	}
	z, err := gzip.NewReader(br)
	if err != nil {
		return nil, nil, err
	}
	return z, z.Close, nil
}

// Bitbrains GWA-T-12 columns used (0-based).
const (
	bbTime = iota
	bbCores
	bbCPUCapacityMHz
	bbCPUUsageMHz
	_ // CPU usage [%]
	bbMemCapacityKB
	bbMemUsageKB
	bbColumns // at least this many
)

// ReadBitbrains reads one VM of the Bitbrains GWA-T-12 trace (Grid Workloads
// Archive): a semicolon-separated file, plain or gzip-compressed, with a
// header line and one row per 5 minutes. name is used in errors and as the
// trace name.
//
// Capacity is what the VM was provisioned with: CPU cores from "CPU cores",
// memory from "Memory capacity provisioned [KB]". Business CPU usage in
// cores is "CPU usage [MHZ]" divided by the provisioned MHz per core, so it
// can exceed the provisioned cores where the VM bursts above its
// provisioning (it does, on many "rnd" VMs). The "Timestamp [ms]" column in
// fact holds Unix seconds; values above 10^11 are taken as milliseconds.
func ReadBitbrains(r io.Reader, name string) (Trace, error) {
	tr := Trace{Name: name}
	in, closeIn, err := maybeGunzip(r)
	if err != nil {
		return tr, &ParseError{File: name, Line: 1, Err: err}
	}
	defer closeIn()
	c := csv.NewReader(in)
	c.Comma = ';'
	c.TrimLeadingSpace = true
	c.ReuseRecord = true
	header, err := c.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = errors.New("empty file, no header")
		}
		return tr, &ParseError{File: name, Line: 1, Err: err}
	}
	if len(header) < bbColumns {
		return tr, &ParseError{File: name, Line: 1, Err: fmt.Errorf("header has %d columns, want at least %d", len(header), bbColumns)}
	}
	cols := append([]string(nil), header...)
	for {
		rec, line, err := readRecord(c, name)
		if errors.Is(err, io.EOF) {
			return tr, nil
		}
		if err != nil {
			return tr, err
		}
		s, ok, err := bitbrainsSample(rec, cols, name, line)
		if err != nil {
			return tr, err
		}
		if !ok {
			tr.Skipped = append(tr.Skipped, Skip{Line: line, Reason: "zero CPU capacity"})
			continue
		}
		if err := tr.append(s, line); err != nil {
			return tr, err
		}
	}
}

// bitbrainsSample converts one row of a Bitbrains file, whose header is
// cols, to a Sample. It reports false for a VM switched off (zero CPU
// capacity), which the caller skips.
func bitbrainsSample(rec, cols []string, name string, line int) (Sample, bool, error) {
	var v [bbColumns]float64
	for i := range v {
		if i == 4 {
			continue
		}
		f, err := parseAmount(rec[i])
		if err != nil {
			return Sample{}, false, &ParseError{File: name, Line: line, Field: cols[i], Err: err}
		}
		v[i] = f
	}
	if v[bbCores] == 0 || v[bbCPUCapacityMHz] == 0 {
		return Sample{}, false, nil
	}
	ts := v[bbTime]
	if ts > 1e11 {
		ts /= 1000
	}
	if ts > 1e11 {
		// Beyond year 5000 even as milliseconds; int64(ts) would
		// overflow for larger values.
		return Sample{}, false, &ParseError{File: name, Line: line, Field: cols[bbTime],
			Err: fmt.Errorf("%q is not a Unix time in seconds or milliseconds", rec[bbTime])}
	}
	return Sample{
		Time: time.Unix(int64(ts), 0).UTC(),
		Capacity: Resources{
			CPUCores:    v[bbCores],
			MemoryBytes: v[bbMemCapacityKB] * 1024,
		},
		Business: Resources{
			CPUCores:    v[bbCPUUsageMHz] / (v[bbCPUCapacityMHz] / v[bbCores]),
			MemoryBytes: v[bbMemUsageKB] * 1024,
		},
	}, true, nil
}

// planetLabStep is the sampling interval of the PlanetLab traces.
const planetLabStep = 5 * time.Minute

// ReadPlanetLab reads one day of the PlanetLab CPU traces (CoMon, as
// distributed with CloudSim): a tar archive, plain or gzip-compressed,
// holding one file per VM with one integer CPU percentage per line at
// 5-minute steps. The day is taken from the directory or archive name
// (YYYYMMDD) when there is one, else the traces start at the Unix epoch.
//
// The traces give CPU as a percentage of the host and nothing about memory,
// so each Sample has a capacity of one CPU "core" standing for the whole
// host, usage percent/100 of it, and zero memory capacity (memory is not
// lent). name is used in errors and trace names.
func ReadPlanetLab(r io.Reader, name string) ([]Trace, error) {
	in, closeIn, err := maybeGunzip(r)
	if err != nil {
		return nil, &ParseError{File: name, Err: err}
	}
	defer closeIn()
	day := planetLabDay(name)
	var out []Trace
	t := tar.NewReader(in)
	for {
		hdr, err := t.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, &ParseError{File: name, Err: err}
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		start := day
		if d := planetLabDay(path.Dir(hdr.Name)); !d.Equal(time.Unix(0, 0).UTC()) {
			start = d
		}
		tr, err := readPlanetLabVM(t, name+":"+hdr.Name, start)
		if err != nil {
			return out, err
		}
		out = append(out, tr)
	}
}

// planetLabDay parses a YYYYMMDD prefix of the base name of p, or returns
// the Unix epoch.
func planetLabDay(p string) time.Time {
	b := filepath.Base(p)
	if len(b) >= 8 {
		if t, err := time.Parse("20060102", b[:8]); err == nil {
			return t
		}
	}
	return time.Unix(0, 0).UTC()
}

// readPlanetLabVM reads one PlanetLab VM file (one CPU percentage per line)
// whose first sample is at start; see ReadPlanetLab. Blank lines are
// skipped; anything else that is not a non-negative number is an error.
func readPlanetLabVM(r io.Reader, name string, start time.Time) (Trace, error) {
	tr := Trace{Name: name}
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			tr.Skipped = append(tr.Skipped, Skip{Line: line, Reason: "blank line"})
			continue
		}
		pct, err := parseAmount(text)
		if err != nil {
			return tr, &ParseError{File: name, Line: line, Field: "CPU percent", Err: err}
		}
		tr.Samples = append(tr.Samples, Sample{
			Time:     start.Add(time.Duration(line-1) * planetLabStep),
			Capacity: Resources{CPUCores: 1},
			Business: Resources{CPUCores: pct / 100},
		})
	}
	if err := sc.Err(); err != nil {
		return tr, &ParseError{File: name, Line: line + 1, Err: err}
	}
	return tr, nil
}

// ReadTraceFile opens path and reads it by its name: *.tar or *.tar.gz as a
// PlanetLab day, anything else (*.csv, *.csv.gz) as a Bitbrains VM.
func ReadTraceFile(p string) ([]Trace, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if strings.HasSuffix(p, ".tar") || strings.HasSuffix(p, ".tar.gz") || strings.HasSuffix(p, ".tgz") {
		return ReadPlanetLab(f, p)
	}
	tr, err := ReadBitbrains(f, p)
	if err != nil {
		return nil, err
	}
	return []Trace{tr}, nil
}
