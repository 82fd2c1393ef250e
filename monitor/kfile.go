package monitor

import (
	"math"

	"github.com/gleaner/gleaner/internal/cgroupstat"
)

// kfile reads small kernel files (/proc, /sys, cgroupfs) into a buffer it
// keeps between calls, and walks them line by line and field by field
// without allocating. The host sampler reads about ten such files every
// interval; this is what keeps one sample within its allocation budget (see
// host.go for why the hot path does not go through procfs).
type kfile struct {
	path string
	buf  []byte
	// data is the content of the last read, a prefix of buf.
	data []byte
	pos  int
	line int
	// fieldBuf backs the slice fields returns.
	fieldBuf [32][]byte
}

// read loads path.
func (k *kfile) read(path string) error {
	k.path, k.pos, k.line = path, 0, 0
	data, err := readAll(path, k.buf)
	k.buf, k.data = data[:cap(data)], data
	return err
}

// next returns the next line without its newline.
func (k *kfile) next() ([]byte, bool) {
	if k.pos >= len(k.data) {
		return nil, false
	}
	rest := k.data[k.pos:]
	end := len(rest)
	for i, c := range rest {
		if c == '\n' {
			end = i
			break
		}
	}
	k.pos += end + 1
	k.line++
	return rest[:end], true
}

// nextFields returns the next line that is not blank, split into fields.
// The fields are valid until the next call.
func (k *kfile) nextFields() (line []byte, fields [][]byte, ok bool) {
	for {
		if line, ok = k.next(); !ok {
			return nil, nil, false
		}
		if fields = k.fields(line); len(fields) > 0 {
			return line, fields, true
		}
	}
}

// fields splits line on spaces and tabs. The result is valid until the next
// call.
func (k *kfile) fields(line []byte) [][]byte {
	out := k.fieldBuf[:0]
	start := -1
	for i, c := range line {
		if c == ' ' || c == '\t' {
			if start >= 0 {
				out = append(out, line[start:i])
				start = -1
			}
			continue
		}
		if start < 0 {
			start = i
		}
	}
	if start >= 0 {
		out = append(out, line[start:])
	}
	return out
}

// errorf returns a ParseError at the current line.
func (k *kfile) errorf(field string, value []byte, err error) error {
	return &ParseError{File: k.path, Line: k.line, Field: field, Value: string(value), Err: err}
}

// missing returns a ParseError for a field that never appeared: the line is
// the one after the last.
func (k *kfile) missing(field string) error {
	err := errMissingLine
	if len(k.data) == 0 || k.data[len(k.data)-1] != '\n' {
		err = errTruncated
	}
	return &ParseError{File: k.path, Line: k.line + 1, Field: field, Err: err}
}

// parseUint parses a decimal unsigned integer; the one parser is
// cgroupstat's, shared with the cgroup readers.
func parseUint(b []byte) (uint64, bool) { return cgroupstat.ParseUint(b) }

// parseDecimal parses a non-negative decimal such as "3.29", the only form
// /proc/loadavg and /proc/pressure use. strconv.ParseFloat would need a
// string, that is, an allocation per value.
func parseDecimal(b []byte) (float64, bool) {
	intPart, frac := b, []byte(nil)
	for i, c := range b {
		if c == '.' {
			intPart, frac = b[:i], b[i+1:]
			break
		}
	}
	if len(frac) > 18 {
		return 0, false
	}
	iv, ok := parseUint(intPart)
	if !ok {
		return 0, false
	}
	if frac == nil {
		return float64(iv), true
	}
	fv, ok := parseUint(frac)
	if !ok {
		return 0, false
	}
	pow := uint64(math.Pow10(len(frac)))
	if fv <= 1<<53 && iv <= (1<<53-fv)/pow {
		// Both integers are exact in a float64, so one division
		// rounds correctly: "1.36" gives the same float as the
		// literal 1.36.
		return float64(iv*pow+fv) / float64(pow), true
	}
	v := float64(iv) + float64(fv)/float64(pow)
	return v, true
}
