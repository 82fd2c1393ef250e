package monitor

import "bytes"

// parsePSI reads one /proc/pressure file:
//
//	some avg10=0.06 avg60=0.21 avg300=0.99 total=8537362
//	full avg10=0.00 avg60=0.13 avg300=0.96 total=8183134
//
// A "some" line is required; "full" is absent for CPU before Linux 5.13.
func (k *kfile) parsePSI() (PSI, error) {
	var p PSI
	hasSome := false
	for {
		line, f, ok := k.nextFields()
		if !ok {
			break
		}
		var dst *PSIAverages
		switch string(f[0]) {
		case "some":
			dst, hasSome = &p.Some, true
		case "full":
			dst, p.HasFull = &p.Full, true
		default:
			continue // a future kind of line
		}
		var got uint8
		for _, kv := range f[1:] {
			key, val, ok := bytes.Cut(kv, []byte("="))
			if !ok {
				return PSI{}, k.errorf(string(f[0]), kv, errSyntax)
			}
			var out *float64
			switch string(key) {
			case "avg10":
				out, got = &dst.Avg10, got|1
			case "avg60":
				out, got = &dst.Avg60, got|2
			default:
				continue
			}
			if *out, ok = parseDecimal(val); !ok {
				return PSI{}, k.errorf(string(f[0])+" "+string(key), val, errNotNumber)
			}
		}
		if got != 3 {
			return PSI{}, k.errorf(string(f[0])+" avg10/avg60", line, errShortLine)
		}
	}
	if !hasSome {
		return PSI{}, k.missing("some")
	}
	return p, nil
}
