package attrs

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Attribute is one named value.
type Attribute struct {
	Name  string
	Value Value
}

// Attributes is an ordered list of attributes with unique names, as an
// agent's --attributes flag spells them. The order is the order of the text
// it was parsed from; the store and the syncer return it sorted by name.
type Attributes []Attribute

// Parse reads Mesos's attribute syntax:
//
//	rack:r1;zone:east;cores:16;ports:[31000-32000]
//
// Attributes are separated by ';' or newlines (empty entries are skipped).
// Each is split on its first ':' into a name and a value; spaces around
// either are ignored. A value that is a decimal number is a scalar, a value
// in brackets is a list of ranges "[b-e, b-e]", anything else is text. Sets
// ("{a,b}") are refused, as Mesos refuses them for attributes.
//
// Errors are *AttributeError values wrapping ErrInvalid that name the
// attribute: names that are empty or hold '/', ':', whitespace or control
// characters, duplicate names, malformed ranges, text with control characters.
func Parse(text string) (Attributes, error) {
	var as Attributes
	seen := make(map[string]bool)
	for entry := range strings.FieldsFuncSeq(text, func(r rune) bool { return r == ';' || r == '\n' }) {
		if strings.TrimSpace(entry) == "" {
			continue
		}
		name, value, ok := strings.Cut(entry, ":")
		name = strings.TrimSpace(name)
		if !ok {
			return nil, invalid(name, "", "missing ':' in %q", shorten(entry))
		}
		if err := ValidateName(name); err != nil {
			return nil, err
		}
		if seen[name] {
			return nil, invalid(name, "", "duplicate name")
		}
		seen[name] = true
		v, err := parseValue(name, value)
		if err != nil {
			return nil, err
		}
		as = append(as, Attribute{Name: name, Value: v})
	}
	return as, nil
}

// ParseValue reads one attribute value in Mesos's syntax (see Parse).
func ParseValue(s string) (Value, error) { return parseValue("", s) }

func parseValue(name, s string) (Value, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return Value{}, invalid(name, s, "empty value")
	case s[0] == '[':
		return parseRanges(name, s)
	case s[0] == '{':
		return Value{}, invalid(name, s, "sets are not supported for attributes")
	case isNumber(s):
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return Value{}, invalid(name, s, "scalar out of range")
		}
		return Scalar(f), nil
	}
	v := Text(s)
	if err := v.validate(name); err != nil {
		return Value{}, err
	}
	return v, nil
}

func parseRanges(name, s string) (Value, error) {
	inner, ok := strings.CutSuffix(s[1:], "]")
	if !ok {
		return Value{}, invalid(name, s, "malformed range: missing ']'")
	}
	var rs []Range
	for part := range strings.SplitSeq(inner, ",") {
		b, e, ok := strings.Cut(strings.TrimSpace(part), "-")
		begin, err1 := strconv.ParseUint(strings.TrimSpace(b), 10, 64)
		end, err2 := strconv.ParseUint(strings.TrimSpace(e), 10, 64)
		if !ok || err1 != nil || err2 != nil {
			return Value{}, invalid(name, s, "malformed range %q: want begin-end with non-negative integers", shorten(strings.TrimSpace(part)))
		}
		if begin > end {
			return Value{}, invalid(name, s, "malformed range %q: begin is after end", shorten(strings.TrimSpace(part)))
		}
		rs = append(rs, Range{Begin: begin, End: end})
	}
	return Value{kind: KindRanges, ranges: rs}, nil
}

// isNumber reports whether s is a plain decimal number:
// [+-]? (digits [. digits?] | . digits) ([eE] [+-]? digits)?
// strconv.ParseFloat alone also takes "inf", "nan", hex floats and
// underscores, none of which Mesos treats as scalars.
func isNumber(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
			n++
		}
		return n
	}
	n := digits()
	if i < len(s) && s[i] == '.' {
		i++
		n += digits()
	}
	if n == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}

// ValidateName checks that name can be an attribute name (or an agent ID):
// it becomes one segment of an etcd key and one entry of Mesos's text, so it
// must be non-empty UTF-8 without '/', ':', ';', whitespace or control
// characters. It returns an *AttributeError wrapping ErrInvalid.
func ValidateName(name string) error {
	switch {
	case name == "":
		return invalid(name, "", "empty name")
	case !utf8.ValidString(name):
		return invalid(name, "", "name is not valid UTF-8")
	case strings.ContainsAny(name, "/:;"):
		return invalid(name, "", "name contains one of '/', ':', ';'")
	case strings.ContainsFunc(name, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }):
		return invalid(name, "", "name contains whitespace or control characters")
	}
	return nil
}

// Validate reports whether v can be stored and parsed back unchanged.
func (v Value) Validate() error { return v.validate("") }

func (v Value) validate(name string) error {
	switch v.kind {
	case KindText:
		t := v.text
		switch {
		case t == "":
			return invalid(name, t, "empty value")
		case strings.TrimSpace(t) != t:
			return invalid(name, t, "text has leading or trailing whitespace")
		case !utf8.ValidString(t):
			return invalid(name, t, "text is not valid UTF-8")
		case t[0] == '[' || t[0] == '{':
			return invalid(name, t, "text starts with '[' or '{'")
		case strings.ContainsRune(t, ';'):
			return invalid(name, t, "text contains ';'")
		case strings.ContainsFunc(t, unicode.IsControl):
			return invalid(name, t, "text contains control characters")
		case isNumber(t):
			return invalid(name, t, "text reads as a number; use a scalar")
		}
	case KindScalar:
		if math.IsNaN(v.scalar) || math.IsInf(v.scalar, 0) {
			return invalid(name, "", "scalar is %v", v.scalar)
		}
	case KindRanges:
		if len(v.ranges) == 0 {
			return invalid(name, "", "malformed range: no intervals")
		}
		for _, r := range v.ranges {
			if r.Begin > r.End {
				return invalid(name, "", "malformed range %d-%d: begin is after end", r.Begin, r.End)
			}
		}
	default:
		return invalid(name, "", "no value")
	}
	return nil
}

// String formats as in Parse, in list order, so that Parse(a.String())
// returns a.
func (as Attributes) String() string {
	var b strings.Builder
	for i, a := range as {
		if i > 0 {
			b.WriteByte(';')
		}
		b.WriteString(a.Name)
		b.WriteByte(':')
		b.WriteString(a.Value.String())
	}
	return b.String()
}

// Get returns the value of the named attribute.
func (as Attributes) Get(name string) (Value, bool) {
	for _, a := range as {
		if a.Name == name {
			return a.Value, true
		}
	}
	return Value{}, false
}

// Map converts to the map[string]string that placement constraints compare
// against, with values formatted by Value.MesosString.
func (as Attributes) Map() map[string]string {
	m := make(map[string]string, len(as))
	for _, a := range as {
		m[a.Name] = a.Value.MesosString()
	}
	return m
}

// FromMap parses each value of m (see ParseValue) and returns the attributes
// sorted by name.
func FromMap(m map[string]string) (Attributes, error) {
	as := make(Attributes, 0, len(m))
	for name, s := range m {
		if err := ValidateName(name); err != nil {
			return nil, err
		}
		v, err := parseValue(name, s)
		if err != nil {
			return nil, err
		}
		as = append(as, Attribute{Name: name, Value: v})
	}
	as.sort()
	return as, nil
}

func (as Attributes) sort() {
	slices.SortFunc(as, func(a, b Attribute) int { return strings.Compare(a.Name, b.Name) })
}

// Validate checks every name and value and that no name repeats.
func (as Attributes) Validate() error {
	seen := make(map[string]bool, len(as))
	for _, a := range as {
		if err := ValidateName(a.Name); err != nil {
			return err
		}
		if seen[a.Name] {
			return invalid(a.Name, "", "duplicate name")
		}
		seen[a.Name] = true
		if err := a.Value.validate(a.Name); err != nil {
			return err
		}
	}
	return nil
}
