package reserve

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/gleaner/gleaner/internal/pkgerr"
)

// ReadCSV reads a machine-utilisation trace in the simplest form: one row
// per sample, comma-separated,
//
//	timestamp,cpu,memory
//
// where timestamp is Unix seconds or RFC 3339, cpu is business usage in
// cores or, with a "%" suffix, in percent of capacity.CPUCores, and memory
// (optional column) is business usage in bytes. A first line that does not
// start with a timestamp is a header; lines starting with "#" are comments.
// Every sample gets the given capacity (CPUCores must be positive). Rows
// whose timestamp is not after the previous row's are skipped and listed in
// Skipped; anything malformed, NaN or negative is a ParseError naming name
// and the line.
func ReadCSV(r io.Reader, name string, capacity Resources) (Trace, error) {
	tr := Trace{Name: name}
	if err := (Sample{Time: time.Unix(1, 0), Capacity: capacity}).Validate(); err != nil {
		return tr, pkgerr.Wrap("reserve", err, "capacity for %s", name)
	}
	c := csv.NewReader(r)
	c.Comment = '#'
	c.FieldsPerRecord = -1
	c.TrimLeadingSpace = true
	c.ReuseRecord = true
	for first := true; ; first = false {
		rec, line, err := readRecord(c, name)
		if errors.Is(err, io.EOF) {
			return tr, nil
		}
		if err != nil {
			return tr, err
		}
		t, terr := parseTimestamp(rec[0])
		if terr != nil && first {
			continue // a header
		}
		if terr != nil {
			return tr, &ParseError{File: name, Line: line, Field: "timestamp", Err: terr}
		}
		if len(rec) < 2 || len(rec) > 3 {
			return tr, &ParseError{File: name, Line: line, Err: fmt.Errorf("%d fields, want timestamp,cpu[,memory]", len(rec))}
		}
		s := Sample{Time: t, Capacity: capacity}
		cpuText, percent := strings.CutSuffix(strings.TrimSpace(rec[1]), "%")
		if s.Business.CPUCores, err = parseAmount(cpuText); err != nil {
			return tr, &ParseError{File: name, Line: line, Field: "cpu", Err: err}
		}
		if percent {
			s.Business.CPUCores *= capacity.CPUCores / 100
		}
		if len(rec) == 3 {
			if s.Business.MemoryBytes, err = parseAmount(rec[2]); err != nil {
				return tr, &ParseError{File: name, Line: line, Field: "memory", Err: err}
			}
		}
		if err := tr.append(s, line); err != nil {
			return tr, err
		}
	}
}

// parseTimestamp accepts Unix seconds (possibly fractional) or RFC 3339.
func parseTimestamp(text string) (time.Time, error) {
	text = strings.TrimSpace(text)
	if f, err := strconv.ParseFloat(text, 64); err == nil {
		if math.IsNaN(f) || f <= 0 || f > 1e11 {
			return time.Time{}, fmt.Errorf("%q is not a Unix time in seconds", text)
		}
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339Nano, text)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither Unix seconds nor RFC 3339", text)
	}
	return t, nil
}

// parseAmount parses a finite, non-negative number.
func parseAmount(text string) (float64, error) {
	text = strings.TrimSpace(text)
	f, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
		return 0, fmt.Errorf("%q is not a non-negative number", text)
	}
	return f, nil
}

// readRecord reads the next CSV record and its line number. It returns
// io.EOF at the end and a ParseError naming name and the line otherwise.
func readRecord(c *csv.Reader, name string) ([]string, int, error) {
	rec, err := c.Read()
	if errors.Is(err, io.EOF) {
		return nil, 0, io.EOF
	}
	if err != nil {
		var pe *csv.ParseError
		line := 0
		if errors.As(err, &pe) {
			line = pe.Line
		}
		return nil, line, &ParseError{File: name, Line: line, Err: err}
	}
	line, _ := c.FieldPos(0)
	return rec, line, nil
}
