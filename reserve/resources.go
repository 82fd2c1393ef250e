package reserve

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Sentinel errors. Use errors.Is; the concrete error usually wraps one of
// these with the field and value at fault.
var (
	// ErrInvalid reports bad input: NaN, infinite or negative amounts, a
	// capacity of zero CPU, or a malformed option.
	ErrInvalid = errors.New("reserve: invalid input")
	// ErrOutOfOrder reports a sample whose time is not after the previous one.
	ErrOutOfOrder = errors.New("reserve: sample out of order")
	// ErrMalformed reports a trace file that cannot be read: bad syntax, a
	// NaN or negative figure, a broken archive. The *ParseError that wraps
	// it names the file and line.
	ErrMalformed = errors.New("reserve: malformed trace")
)

// Resources is an amount of each resource the reservation covers. Amounts
// are float64 so that policies can compute with them without overflow or
// unsigned wrap-around; bytes are exact up to 2^53 (8 PiB).
type Resources struct {
	CPUCores    float64 // CPU in cores (1.5 = one and a half cores)
	MemoryBytes float64 // memory in bytes
	DiskBytes   float64 // disk space in bytes
}

// Sample is one observation of the business machine: what it has and what
// the business uses. The agent fills it from a monitor sample (host usage
// minus Gleaner's own usage is the business usage); reserve does not import
// monitor so that either package can be used alone.
type Sample struct {
	Time     time.Time
	Capacity Resources // what the machine has (for a VM: what was provisioned)
	Business Resources // what the business uses now, including the system
	// System is the part of Business used by the operating system and
	// daemons, if known (zero otherwise). Only Koordinator uses it.
	System Resources
}

// resource names a dimension of Resources; it indexes the per-dimension
// state the policies keep.
type resource int

const (
	cpu resource = iota
	memory
	disk
	numResources
)

func (r resource) String() string {
	switch r {
	case cpu:
		return "CPU"
	case memory:
		return "memory"
	case disk:
		return "disk"
	}
	return fmt.Sprintf("resource(%d)", int(r))
}

func (r resource) field() string {
	switch r {
	case cpu:
		return "CPUCores"
	case memory:
		return "MemoryBytes"
	}
	return "DiskBytes"
}

func (x Resources) get(r resource) float64 {
	switch r {
	case cpu:
		return x.CPUCores
	case memory:
		return x.MemoryBytes
	}
	return x.DiskBytes
}

func (x *Resources) set(r resource, v float64) {
	switch r {
	case cpu:
		x.CPUCores = v
	case memory:
		x.MemoryBytes = v
	default:
		x.DiskBytes = v
	}
}

// each returns x with f applied to every dimension.
func (x Resources) each(f func(r resource, v float64) float64) Resources {
	var out Resources
	for r := range numResources {
		out.set(r, f(r, x.get(r)))
	}
	return out
}

// String formats x with units: "2.50 cores, 3.0 GiB memory, 0 B disk".
func (x Resources) String() string {
	return fmt.Sprintf("%s, %s memory, %s disk", formatAmount(cpu, x.CPUCores),
		formatAmount(memory, x.MemoryBytes), formatAmount(disk, x.DiskBytes))
}

// formatAmount prints v in the unit of r, binary units for bytes.
func formatAmount(r resource, v float64) string {
	if r == cpu {
		return fmt.Sprintf("%.2f cores", v)
	}
	const (
		kib = 1 << 10
		mib = 1 << 20
		gib = 1 << 30
		tib = 1 << 40
	)
	switch a := math.Abs(v); {
	case a >= tib:
		return fmt.Sprintf("%.1f TiB", v/tib)
	case a >= gib:
		return fmt.Sprintf("%.1f GiB", v/gib)
	case a >= mib:
		return fmt.Sprintf("%.1f MiB", v/mib)
	case a >= kib:
		return fmt.Sprintf("%.1f KiB", v/kib)
	}
	return fmt.Sprintf("%.0f B", v)
}

// FieldError is bad input in one field of a Sample or option; it wraps
// ErrInvalid.
type FieldError struct {
	Field string  // "Business.CPUCores"
	Value float64 // the offending value
	Why   string  // "is NaN", "is negative"
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("reserve: %s = %v %s", e.Field, e.Value, e.Why)
}

func (e *FieldError) Unwrap() error { return ErrInvalid }

// checkAmounts reports the first NaN, infinite or negative amount in x.
func checkAmounts(prefix string, x Resources) error {
	for r := range numResources {
		v := x.get(r)
		var why string
		switch {
		case math.IsNaN(v):
			why = "is NaN"
		case math.IsInf(v, 0):
			why = "is infinite"
		case v < 0:
			why = "is negative"
		default:
			continue
		}
		return &FieldError{Field: prefix + "." + r.field(), Value: v, Why: why}
	}
	return nil
}

// Validate reports whether s can be used: no amount may be NaN, infinite or
// negative, and the CPU capacity must be positive. A memory or disk capacity
// of zero is allowed and means that resource is not lent at all (its idle
// amount is always zero); PlanetLab traces, for instance, carry no memory.
// Business usage above capacity is allowed: real VMs burst above what was
// provisioned, and the idle amount is then zero.
func (s Sample) Validate() error {
	if s.Time.IsZero() {
		return &FieldError{Field: "Time", Why: "is zero"}
	}
	for _, c := range []struct {
		name string
		x    Resources
	}{{"Capacity", s.Capacity}, {"Business", s.Business}, {"System", s.System}} {
		if err := checkAmounts(c.name, c.x); err != nil {
			return err
		}
	}
	if s.Capacity.CPUCores == 0 {
		return &FieldError{Field: "Capacity.CPUCores", Value: 0, Why: "is zero"}
	}
	return nil
}

// clamp limits v to [lo, hi]; NaN becomes lo so that no NaN escapes.
func clamp(v, lo, hi float64) float64 {
	if math.IsNaN(v) || v < lo {
		return lo
	}
	if v > hi {
		return hi
	}
	return v
}
