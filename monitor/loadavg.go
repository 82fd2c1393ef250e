package monitor

// parseLoadavg reads /proc/loadavg: "0.52 0.58 0.59 2/345 12345".
func (k *kfile) parseLoadavg() (LoadAverage, error) {
	line, ok := k.next()
	if !ok {
		return LoadAverage{}, k.missing("load averages")
	}
	f := k.fields(line)
	if len(f) < 3 {
		return LoadAverage{}, k.errorf("load averages", line, errShortLine)
	}
	var v [3]float64
	for i := range v {
		if v[i], ok = parseDecimal(f[i]); !ok {
			return LoadAverage{}, k.errorf(loadNames[i], f[i], errNotNumber)
		}
	}
	return LoadAverage{Load1: v[0], Load5: v[1], Load15: v[2]}, nil
}

var loadNames = [3]string{"load1", "load5", "load15"}
