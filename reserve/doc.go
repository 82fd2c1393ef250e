// Package reserve decides how much of a business machine's CPU, memory and
// disk may be lent to harvested batch work right now, changes that
// reservation online as the business's usage moves, and says what to
// throttle or evict when the business wants its resources back.
//
// The agent feeds it one Sample per monitoring interval (converted from a
// monitor sample: capacity, and business usage = host usage minus
// Gleaner's own); reserve does no I/O of its own except the trace readers,
// which read what they are given.
//
//	r, err := reserve.NewReservation(reserve.DefaultPolicy(), reserve.DefaultHysteresis())
//	sub := r.Subscribe() // e.g. the parent-cgroup resizer
//	defer sub.Close()
//	for s := range samples {
//		if _, _, err := r.Observe(s); err != nil { ... }
//		actions, err := reserve.QoS{}.Decide(r.Current(), s.Business, tasks)
//		...
//	}
//
// The pieces:
//
//   - A Policy estimates the idle amount from a History: Headroom,
//     Percentile over a window, PeakDecay (Autopilot's decaying
//     recommenders, Borg's slowly decaying reclamation), Koordinator's
//     batch-resource formula, Swing (a margin that grows with how far
//     usage swung lately), Min of several, and PerResource (a policy per
//     resource: the default sets CPU and memory apart). History keeps each
//     window's maximum or quantile up to date sample by sample, so an
//     estimate over an hour of one-second samples costs microseconds.
//   - Hysteresis damps the estimate: shrink at once, grow only after the
//     estimate stayed higher for a while and by a bounded step, ignore
//     small changes, never lend below zero, above capacity or above what
//     the business leaves idle now.
//   - Reservation holds the result and publishes each Change, with its
//     reason, to subscribers without ever blocking on them.
//   - QoS turns a reservation below what tasks hold into throttles and
//     evictions with reasons a person can read.
//   - Replay scores a policy on a recorded Trace (ReadBitbrains,
//     ReadPlanetLab, ReadCSV): harvested versus oracle-idle core-hours and the share
//     of intervals where lending would have hurt the business. RESULTS.md
//     has the table for the public Bitbrains traces and how to remake it;
//     the default policy was chosen from it.
//
// A policy's, a hysteresis's and QoS's parameters are plain values (what to
// decide); the one function with knobs about how it runs, Replay, takes
// functional options (ReplayOption: WithMaxGap, WithOnStep). Bad input wraps
// ErrInvalid, usually as a *FieldError naming the field; a trace file that
// cannot be read is a *ParseError wrapping ErrMalformed.
package reserve
