package attrs

import (
	"math"
	"slices"
	"strconv"
	"strings"
)

// Kind is the type of an attribute value, as in Mesos's Value.Type.
type Kind uint8

// The kinds of value an attribute holds. Mesos also has sets; attributes
// here do not, as Mesos itself refuses set-valued attributes.
const (
	KindText Kind = iota + 1
	KindScalar
	KindRanges
)

func (k Kind) String() string {
	switch k {
	case KindText:
		return "text"
	case KindScalar:
		return "scalar"
	case KindRanges:
		return "ranges"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Range is an inclusive interval of non-negative integers, such as a port
// range.
type Range struct {
	Begin, End uint64
}

// Value is one typed attribute value. The zero Value is "no value" and is
// what Change.Old or Change.New holds when the attribute is absent.
type Value struct {
	kind   Kind
	text   string
	scalar float64
	ranges []Range
}

// Text returns a text value. Check it with Validate (Store.Set does) before
// relying on it to round-trip: text that reads as a number parses back as a
// scalar.
func Text(s string) Value { return Value{kind: KindText, text: s} }

// Scalar returns a scalar value, rounded to three decimal places as Mesos
// does.
func Scalar(f float64) Value { return Value{kind: KindScalar, scalar: roundScalar(f)} }

// Ranges returns a ranges value holding rs in the given order.
func Ranges(rs ...Range) Value { return Value{kind: KindRanges, ranges: slices.Clone(rs)} }

// Kind reports the value's kind; 0 for the zero Value.
func (v Value) Kind() Kind { return v.kind }

// IsZero reports whether v is the zero Value (no value).
func (v Value) IsZero() bool { return v.kind == 0 }

// Text returns the text of a text value and "" for other kinds.
func (v Value) Text() string { return v.text }

// Scalar returns the number of a scalar value and 0 for other kinds.
func (v Value) Scalar() float64 { return v.scalar }

// Ranges returns a copy of the intervals of a ranges value.
func (v Value) Ranges() []Range { return slices.Clone(v.ranges) }

// Contains reports whether n lies in one of the intervals of a ranges value.
func (v Value) Contains(n uint64) bool {
	for _, r := range v.ranges {
		if r.Begin <= n && n <= r.End {
			return true
		}
	}
	return false
}

// Equal reports whether v and w are the same kind with the same contents.
func (v Value) Equal(w Value) bool {
	return v.kind == w.kind && v.text == w.text && v.scalar == w.scalar && slices.Equal(v.ranges, w.ranges)
}

// String formats v in Mesos's text syntax so that ParseValue(v.String())
// returns v: text as is, scalars as Mesos prints them (see MesosString),
// ranges as "[31000-32000, 33000-34000]".
func (v Value) String() string {
	if v.kind == KindScalar {
		s := mesosScalar(v.scalar)
		if f, err := strconv.ParseFloat(s, 64); err == nil && roundScalar(f) == v.scalar {
			return s
		}
		// Fifteen significant digits lost precision (a very large scalar
		// with a fraction): fall back to the exact shortest decimal.
		return strconv.FormatFloat(v.scalar, 'f', -1, 64)
	}
	return v.MesosString()
}

// MesosString formats v exactly as Mesos prints an attribute value, which is
// what Marathon-style constraints compare against: scalars are rounded to
// three decimal places and printed with 15 significant digits in the
// shortest of fixed or exponent notation ("16", "1.5", "1e+20").
func (v Value) MesosString() string {
	switch v.kind {
	case KindText:
		return v.text
	case KindScalar:
		return mesosScalar(v.scalar)
	case KindRanges:
		var b strings.Builder
		b.WriteByte('[')
		for i, r := range v.ranges {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(strconv.FormatUint(r.Begin, 10))
			b.WriteByte('-')
			b.WriteString(strconv.FormatUint(r.End, 10))
		}
		b.WriteByte(']')
		return b.String()
	}
	return ""
}

// mesosScalar mirrors Mesos's operator<< for Value::Scalar: the value is
// stream-printed with precision digits10 (15) in the default float format,
// which is C's %.15g.
func mesosScalar(f float64) string {
	return strconv.FormatFloat(f, 'g', 15, 64)
}

// roundScalar applies Mesos's fixed-point convention (three decimal places,
// llround(v*1000)/1000). Values too large for that conversion already have
// no fractional digits worth keeping and are returned unchanged.
func roundScalar(f float64) float64 {
	if math.Abs(f) < 9e15 {
		// Like Mesos, divide as integer quotient plus remainder so that
		// only values in [0,999] go through floating-point division.
		fixed := int64(math.Round(f * 1000))
		f = float64(fixed/1000) + float64(fixed%1000)/1000
	}
	if f == 0 {
		return 0 // no negative zero
	}
	return f
}
