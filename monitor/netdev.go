package monitor

import "bytes"

// netCounters is one interface line of /proc/net/dev.
type netCounters struct {
	name                                   string
	rxBytes, rxPackets, txBytes, txPackets uint64
}

// parseNetDev reads /proc/net/dev into dst (reused): two header lines, then
// "iface: 16 counters" per interface.
func (k *kfile) parseNetDev(dst []netCounters, intern names) ([]netCounters, error) {
	dst = dst[:0]
	for {
		line, ok := k.next()
		if !ok {
			break
		}
		if k.line <= 2 {
			continue // headers
		}
		colon := bytes.LastIndexByte(line, ':')
		if colon < 0 {
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			return nil, k.errorf("interface", line, errSyntax)
		}
		name := bytes.TrimSpace(line[:colon])
		f := k.fields(line[colon+1:])
		if len(name) == 0 || len(f) < 16 {
			return nil, k.errorf("interface "+string(name), line, errShortLine)
		}
		var v [4]uint64
		for i, col := range [4]int{0, 1, 8, 9} {
			if v[i], ok = parseUint(f[col]); !ok {
				return nil, k.errorf(string(name)+" "+netColumns[i], f[col], errNotNumber)
			}
		}
		dst = append(dst, netCounters{name: intern.get(name), rxBytes: v[0], rxPackets: v[1], txBytes: v[2], txPackets: v[3]})
	}
	return dst, nil
}

var netColumns = [4]string{"receive bytes", "receive packets", "transmit bytes", "transmit packets"}

// netRates pairs interfaces by name; one that appeared, or whose counters
// were reset, between the readings is left out.
func netRates(prev, cur []netCounters, seconds float64) []NetworkIO {
	out := make([]NetworkIO, 0, len(cur))
	pairByName(prev, cur, func(c *netCounters) string { return c.name }, func(p, n *netCounters) {
		rb, ok1 := counterDelta(p.rxBytes, n.rxBytes)
		tb, ok2 := counterDelta(p.txBytes, n.txBytes)
		rp, ok3 := counterDelta(p.rxPackets, n.rxPackets)
		tp, ok4 := counterDelta(p.txPackets, n.txPackets)
		if ok1 && ok2 && ok3 && ok4 {
			out = append(out, NetworkIO{
				Interface:                n.name,
				ReceiveBytesPerSecond:    float64(rb) / seconds,
				TransmitBytesPerSecond:   float64(tb) / seconds,
				ReceivePacketsPerSecond:  float64(rp) / seconds,
				TransmitPacketsPerSecond: float64(tp) / seconds,
			})
		}
	})
	return out
}
