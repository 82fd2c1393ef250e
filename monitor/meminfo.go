package monitor

import "bytes"

// parseMeminfo reads /proc/meminfo. Every line must be "Key: value [kB]";
// MemTotal, MemFree, MemAvailable (Linux 3.14+), Buffers, Cached, SwapTotal
// and SwapFree must all be present.
func (k *kfile) parseMeminfo() (Memory, error) {
	var m Memory
	var seen uint8
	for {
		line, f, ok := k.nextFields()
		if !ok {
			break
		}
		if len(f) < 2 || len(f) > 3 || !bytes.HasSuffix(f[0], []byte(":")) {
			return Memory{}, k.errorf("line", line, errShortLine)
		}
		v, ok := parseUint(f[1])
		if !ok {
			return Memory{}, k.errorf(string(f[0][:len(f[0])-1]), f[1], errNotNumber)
		}
		if len(f) == 3 {
			if string(f[2]) != "kB" {
				return Memory{}, k.errorf(string(f[0][:len(f[0])-1])+" unit", f[2], errSyntax)
			}
			v *= 1024
		}
		var dst *uint64
		var bit uint8
		switch string(f[0]) {
		case "MemTotal:":
			dst, bit = &m.TotalBytes, 1
		case "MemFree:":
			dst, bit = &m.FreeBytes, 2
		case "MemAvailable:":
			dst, bit = &m.AvailableBytes, 4
		case "Buffers:":
			dst, bit = &m.BuffersBytes, 8
		case "Cached:":
			dst, bit = &m.PageCacheBytes, 16
		case "SwapTotal:":
			dst, bit = &m.SwapTotalBytes, 32
		case "SwapFree:":
			dst, bit = &m.SwapFreeBytes, 64
		default:
			continue
		}
		*dst = v
		seen |= bit
	}
	for i, name := range meminfoKeys {
		if seen&(1<<i) == 0 {
			return Memory{}, k.missing(name)
		}
	}
	m.UsedBytes = sub(m.TotalBytes, m.AvailableBytes)
	m.SwapUsedBytes = sub(m.SwapTotalBytes, m.SwapFreeBytes)
	return m, nil
}

var meminfoKeys = [...]string{"MemTotal", "MemFree", "MemAvailable", "Buffers", "Cached", "SwapTotal", "SwapFree"}

// sub is a - b, or 0 when b > a.
func sub(a, b uint64) uint64 {
	if b > a {
		return 0
	}
	return a - b
}
