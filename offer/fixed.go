package offer

import (
	"math"
	"strconv"
	"strings"
)

// Fixed is a scalar resource amount in fixed point with three decimals: the
// value 1 is Fixed(1000). Mesos rounds scalars to the nearest 0.001 for the
// same reason: adding and subtracting thousands of fractional CPUs in floating
// point drifts, and a drifted 0.9999999 cpus no longer fits a 1-cpu task.
type Fixed int64

// FixedScale is the number of Fixed units in one whole unit.
const FixedScale = 1000

// MaxFixed is the largest scalar this package accepts (about 9e12 whole
// units). It keeps every value exactly representable as a float64, so that
// printing and parsing again gives the same Fixed.
const MaxFixed Fixed = 1 << 53

// FixedFromFloat rounds v to the nearest 0.001. It returns false when v is
// negative, NaN, infinite or larger than MaxFixed allows.
func FixedFromFloat(v float64) (Fixed, bool) {
	if _, msg := checkFloat(v); msg != "" {
		return 0, false
	}
	return Fixed(math.Round(v * FixedScale)), true
}

// checkFloat validates a scalar given as a float64 and returns why it is
// unacceptable ("" when it is fine).
func checkFloat(v float64) (float64, string) {
	switch {
	case math.IsNaN(v):
		return 0, "NaN scalar"
	case math.IsInf(v, 0):
		return 0, "infinite scalar"
	case v < 0:
		return 0, "negative scalar"
	case math.Round(v*FixedScale) > float64(MaxFixed):
		return 0, "scalar too large"
	}
	return v, ""
}

// parseFixed parses a decimal scalar. The returned message is empty on
// success and says what is wrong otherwise.
func parseFixed(s string) (Fixed, string) {
	if s == "" {
		return 0, "empty scalar"
	}
	if f, msg, ok := parseDecimal(s); ok {
		return f, msg
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		// ParseFloat reports overflow as an error with ±Inf; name it as
		// such rather than as a syntax problem.
		if math.IsInf(v, 0) {
			return 0, "infinite scalar"
		}
		return 0, "invalid scalar"
	}
	if _, msg := checkFloat(v); msg != "" {
		return 0, msg
	}
	return Fixed(math.Round(v * FixedScale)), ""
}

// parseDecimal parses a plain decimal ("1024", "0.125", "2.0005") exactly,
// without going through float64, so that every value String prints parses
// back to the same Fixed even near MaxFixed. ok is false for other forms
// (signs, exponents, ".5"), which parseFixed hands to strconv.ParseFloat.
func parseDecimal(s string) (f Fixed, msg string, ok bool) {
	intPart, frac, hasPoint := strings.Cut(s, ".")
	if !allDigits(intPart) || hasPoint && !allDigits(frac) {
		return 0, "", false
	}
	n, err := strconv.ParseUint(intPart, 10, 64)
	if err != nil || n > uint64(MaxFixed/FixedScale) {
		return 0, "scalar too large", true
	}
	var milli uint64
	for i := range 3 {
		milli *= 10
		if i < len(frac) {
			milli += uint64(frac[i] - '0')
		}
	}
	if len(frac) > 3 && frac[3] >= '5' {
		milli++ // round half away from zero, as math.Round does
	}
	v := n*FixedScale + milli
	if v > uint64(MaxFixed) {
		return 0, "scalar too large", true
	}
	return Fixed(v), "", true
}

// Float64 returns f in whole units.
func (f Fixed) Float64() float64 { return float64(f) / FixedScale }

// String formats f with up to three decimals and no trailing zeros: "2",
// "0.5", "1.125".
func (f Fixed) String() string {
	var buf [24]byte
	return string(f.appendTo(buf[:0]))
}

func (f Fixed) appendTo(b []byte) []byte {
	if f < 0 {
		b = append(b, '-')
		f = -f
	}
	b = strconv.AppendInt(b, int64(f/FixedScale), 10)
	frac := int64(f % FixedScale)
	if frac == 0 {
		return b
	}
	digits := [3]byte{byte('0' + frac/100), byte('0' + frac/10%10), byte('0' + frac%10)}
	n := 3
	for digits[n-1] == '0' {
		n--
	}
	b = append(b, '.')
	return append(b, digits[:n]...)
}
