// Package cgroupstat is the one definition of what monitor and isolate read
// from a cgroup's control files: cumulative CPU time and the memory working
// set, parsed strictly. monitor measures the business and Gleaner's own
// cgroup with it, isolate each task's cgroup, so that the agent's QoS
// compares task memory with business memory counted the same way.
//
// The working set is usage minus the inactive file cache, as cAdvisor and
// the kubelet count it: page cache the kernel can drop at once is not
// memory a task or the business needs. Junk in a file is an error, never a
// zero that looks real.
//
// It parses bytes and opens nothing: monitor reads the files once per
// interval under a configurable root, isolate keeps them open and re-reads
// them with pread.
package cgroupstat

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"time"
)

// Files names, for one cgroup version, the control files and keys CPU time
// and the working set are read from.
type Files struct {
	// CPU holds cumulative CPU time: one number (CPUKey empty) or the
	// value of CPUKey in a flat-keyed file, in CPUUnit.
	CPU     string
	CPUKey  string
	CPUUnit time.Duration
	// Memory holds the usage, page cache included.
	Memory string
	// Stat is memory.stat; InactiveFileKey its line with the inactive
	// file cache, counted over the same cgroups as Memory.
	Stat            string
	InactiveFileKey string
}

// V1 is cgroup v1: the cpuacct and memory controllers. total_inactive_file
// counts descendants, like memory.usage_in_bytes.
var V1 = Files{
	CPU: "cpuacct.usage", CPUUnit: time.Nanosecond,
	Memory: "memory.usage_in_bytes",
	Stat:   "memory.stat", InactiveFileKey: "total_inactive_file",
}

// V2 is cgroup v2, where every figure counts descendants.
var V2 = Files{
	CPU: "cpu.stat", CPUKey: "usage_usec", CPUUnit: time.Microsecond,
	Memory: "memory.current",
	Stat:   "memory.stat", InactiveFileKey: "inactive_file",
}

// CPUTime parses the content of f.CPU.
func (f Files) CPUTime(data []byte) (time.Duration, error) {
	var v uint64
	var err error
	if f.CPUKey == "" {
		v, err = Value(data)
	} else {
		v, err = Required(data, f.CPUKey)
	}
	if err != nil {
		return 0, err
	}
	if v > math.MaxInt64/uint64(f.CPUUnit) {
		return 0, &SyntaxError{Line: 1, Field: f.CPUKey, Value: fmt.Sprint(v), Err: ErrRange}
	}
	return time.Duration(v) * f.CPUUnit, nil
}

// WorkingSet is usage minus the inactive file cache, never below zero (the
// two are read one after the other, so the cache may have grown between).
func WorkingSet(usage, inactiveFile uint64) uint64 {
	if inactiveFile > usage {
		return 0
	}
	return usage - inactiveFile
}

// Errors a SyntaxError carries.
var (
	ErrNotNumber = errors.New("not an unsigned decimal number")
	ErrMissing   = errors.New("required line missing")
	ErrRange     = errors.New("out of range")
	ErrTrailing  = errors.New("unexpected text after the value")
)

// SyntaxError reports a control file that does not have the expected
// shape. The caller adds the file's path.
type SyntaxError struct {
	Line  int    // 1-based; the line after the last for a missing one
	Field string // the key; empty in a one-number file
	Value string // the offending text; empty when the line is missing
	Err   error  // ErrNotNumber, ErrMissing, ErrRange or ErrTrailing
}

func (e *SyntaxError) Error() string {
	s := fmt.Sprintf("line %d:", e.Line)
	if e.Field != "" {
		s += " " + e.Field
	}
	if e.Value != "" {
		s += fmt.Sprintf(" %q", e.Value)
	}
	return s + ": " + e.Err.Error()
}

func (e *SyntaxError) Unwrap() error { return e.Err }

// Value parses a file holding one unsigned number and a newline, such as
// memory.current or cpuacct.usage.
func Value(data []byte) (uint64, error) {
	line, rest, _ := bytes.Cut(data, []byte{'\n'})
	if len(bytes.TrimSpace(rest)) > 0 {
		return 0, &SyntaxError{Line: 2, Value: string(rest), Err: ErrTrailing}
	}
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return 0, &SyntaxError{Line: 1, Err: ErrMissing}
	}
	v, ok := ParseUint(line)
	if !ok {
		return 0, &SyntaxError{Line: 1, Value: string(line), Err: ErrNotNumber}
	}
	return v, nil
}

// Lookup returns the value of key in a flat-keyed file ("key value" lines,
// as memory.stat and cpu.stat are); found is false when no line has the
// key. Only that line's value is parsed.
func Lookup(data []byte, key string) (v uint64, found bool, err error) {
	for n := 1; len(data) > 0; n++ {
		var line []byte
		line, data, _ = bytes.Cut(data, []byte{'\n'})
		k, val, ok := bytes.Cut(line, []byte{' '})
		if !ok || string(k) != key {
			continue
		}
		val = bytes.TrimSpace(val)
		v, ok := ParseUint(val)
		if !ok {
			return 0, true, &SyntaxError{Line: n, Field: key, Value: string(val), Err: ErrNotNumber}
		}
		return v, true, nil
	}
	return 0, false, nil
}

// Required is Lookup for a key the kernel always writes: its absence is an
// error.
func Required(data []byte, key string) (uint64, error) {
	v, found, err := Lookup(data, key)
	if err == nil && !found {
		err = &SyntaxError{Line: bytes.Count(data, []byte{'\n'}) + 1, Field: key, Err: ErrMissing}
	}
	return v, err
}

// ParseUint parses a decimal unsigned 64-bit integer, without allocating
// (strconv.ParseUint would need a string).
func ParseUint(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if v > (math.MaxUint64-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	return v, true
}
