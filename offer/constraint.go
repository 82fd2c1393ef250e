package offer

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Operator is a Marathon placement-constraint operator.
type Operator uint8

// Marathon's operators.
const (
	// Unique: no two tasks of the app share a value of the field.
	Unique Operator = iota + 1
	// Cluster: every task runs where the field equals the value; without a
	// value, where the app's first task landed.
	Cluster
	// GroupBy: tasks spread evenly over the values of the field; an
	// optional value is the number of distinct values to expect.
	GroupBy
	// Like: the field's whole value matches the regular expression.
	Like
	// Unlike: the field's whole value does not match the regular
	// expression; an agent without the field is accepted.
	Unlike
	// MaxPer: at most n tasks of the app per value of the field.
	MaxPer
	// Is: the field equals the value.
	Is
)

var operatorNames = [...]string{
	Unique: "UNIQUE", Cluster: "CLUSTER", GroupBy: "GROUP_BY", Like: "LIKE",
	Unlike: "UNLIKE", MaxPer: "MAX_PER", Is: "IS",
}

func (o Operator) String() string {
	if int(o) < len(operatorNames) && operatorNames[o] != "" {
		return operatorNames[o]
	}
	return fmt.Sprintf("Operator(%d)", uint8(o))
}

func parseOperator(s string) (Operator, bool) {
	for op, name := range operatorNames {
		if name != "" && name == s {
			return Operator(op), true
		}
	}
	return 0, false
}

// Hostname is the field name that means the agent's hostname rather than an
// attribute; "@hostname" means the same.
const Hostname = "hostname"

// Constraint is a Marathon placement constraint: a field (an attribute name,
// or "hostname"), an operator and an optional value. Build one with
// ParseConstraint, NewConstraint or JSON unmarshalling, which validate it
// and compile its regular expression.
type Constraint struct {
	Field string
	Op    Operator
	Value string

	value string         // Value in the form compared against attributes
	n     int            // GROUP_BY and MAX_PER count
	re    *regexp.Regexp // LIKE and UNLIKE, anchored to the whole value
	ok    bool           // compiled and valid
	text  string         // String(), kept for the matcher
}

// NewConstraint validates and builds a constraint.
func NewConstraint(field string, op Operator, value string) (Constraint, error) {
	c := Constraint{Field: field, Op: op, Value: value}
	if tok, part, msg := c.compile(); msg != "" {
		// Offsets refer to the text form, field:OPERATOR:value.
		offs := []int{0, len(field) + 1, len(field) + len(op.String()) + 2}
		return Constraint{}, &SyntaxError{What: "constraint", Token: tok, Offset: offs[part], Msg: msg}
	}
	return c, nil
}

// compile validates c and fills in its derived fields. On failure it returns
// the bad token, which part it is (0 field, 1 operator, 2 value) and the
// message.
func (c *Constraint) compile() (string, int, string) {
	if c.Field == "" || c.Field == "@" {
		return c.Field, 0, "empty field"
	}
	if strings.Contains(c.Field, ":") {
		return c.Field, 0, "field contains ':'"
	}
	// JSON cannot carry invalid UTF-8; reject it so that both forms agree.
	if !utf8.ValidString(c.Field) {
		return c.Field, 0, "field is not valid UTF-8"
	}
	if !utf8.ValidString(c.Value) {
		return c.Value, 2, "value is not valid UTF-8"
	}
	if _, ok := parseOperator(c.Op.String()); !ok {
		return c.Op.String(), 1, "unknown operator"
	}
	c.value = normalizeValue(c.Value)
	switch c.Op {
	case Unique:
		if c.Value != "" {
			return c.Value, 2, "UNIQUE takes no value"
		}
	case Cluster:
	case GroupBy:
		if c.Value != "" {
			n, err := strconv.Atoi(c.Value)
			if err != nil || n < 0 {
				return c.Value, 2, "GROUP_BY value must be a non-negative integer"
			}
			c.n = n
		}
	case MaxPer:
		n, err := strconv.Atoi(c.Value)
		if err != nil || n < 1 {
			return c.Value, 2, "MAX_PER value must be a positive integer"
		}
		c.n = n
	case Like, Unlike:
		if c.Value == "" {
			return c.Value, 2, c.Op.String() + " needs a regular expression"
		}
		// Compile alone first so that the error quotes the user's
		// expression, not the anchored one.
		if _, err := regexp.Compile(c.Value); err != nil {
			return c.Value, 2, "invalid regular expression: " + strings.TrimPrefix(err.Error(), "error parsing regexp: ")
		}
		re, err := regexp.Compile(`^(?:` + c.Value + `)$`)
		if err != nil {
			return c.Value, 2, "invalid regular expression: " + strings.TrimPrefix(err.Error(), "error parsing regexp: ")
		}
		c.re = re
	case Is:
		if c.Value == "" {
			return c.Value, 2, "IS needs a value"
		}
	}
	c.text = c.String()
	c.ok = true
	return "", 0, ""
}

// ParseConstraint parses Marathon's text form "field:OPERATOR[:value]", for
// example "rack:GROUP_BY:3" or "hostname:UNIQUE", or, when the text starts
// with '[', the JSON form ["rack","GROUP_BY","3"]. The value is everything
// after the second colon, so regular expressions may contain colons. An
// error is a *SyntaxError naming the bad token and its byte offset.
func ParseConstraint(text string) (Constraint, error) {
	if strings.HasPrefix(strings.TrimSpace(text), "[") {
		return parseConstraintJSON([]byte(text))
	}
	parts := strings.SplitN(text, ":", 3)
	offs := []int{0, 0, 0}
	if len(parts) > 1 {
		offs[1] = len(parts[0]) + 1
	}
	if len(parts) > 2 {
		offs[2] = offs[1] + len(parts[1]) + 1
	} else {
		offs[2] = len(text) // a missing value is reported where it should start
	}
	if len(parts) < 2 {
		return Constraint{}, &SyntaxError{What: "constraint", Token: text, Offset: 0, Msg: "missing operator (want field:OPERATOR[:value])"}
	}
	var value string
	if len(parts) == 3 {
		value = parts[2]
	}
	return buildConstraint(parts[0], parts[1], value, offs)
}

// buildConstraint validates the three parts of a constraint whose byte
// offsets in the input are offs.
func buildConstraint(field, op, value string, offs []int) (Constraint, error) {
	fail := func(part int, tok, msg string) error {
		return &SyntaxError{What: "constraint", Token: tok, Offset: offs[part], Msg: msg}
	}
	o, ok := parseOperator(op)
	if !ok {
		return Constraint{}, fail(1, op, "unknown operator (want UNIQUE, CLUSTER, GROUP_BY, LIKE, UNLIKE, MAX_PER or IS)")
	}
	c := Constraint{Field: field, Op: o, Value: value}
	if tok, part, msg := c.compile(); msg != "" {
		return Constraint{}, fail(part, tok, msg)
	}
	return c, nil
}

// MustParseConstraint is like ParseConstraint but panics on error. It is for
// literals in tests and examples.
func MustParseConstraint(text string) Constraint {
	c, err := ParseConstraint(text)
	if err != nil {
		panic(err)
	}
	return c
}

// String returns the text form, "field:OPERATOR" or "field:OPERATOR:value".
func (c Constraint) String() string {
	if c.Value == "" {
		return c.Field + ":" + c.Op.String()
	}
	return c.Field + ":" + c.Op.String() + ":" + c.Value
}

// MarshalJSON encodes c in Marathon's JSON form, ["field","OPERATOR"] or
// ["field","OPERATOR","value"].
func (c Constraint) MarshalJSON() ([]byte, error) {
	parts := []string{c.Field, c.Op.String()}
	if c.Value != "" {
		parts = append(parts, c.Value)
	}
	return json.Marshal(parts)
}

// UnmarshalJSON decodes Marathon's JSON form; see ParseConstraint.
func (c *Constraint) UnmarshalJSON(data []byte) error {
	v, err := parseConstraintJSON(data)
	if err != nil {
		return err
	}
	*c = v
	return nil
}

// parseConstraintJSON reads ["field","OP"(,"value")] token by token so that
// errors carry byte offsets.
func parseConstraintJSON(data []byte) (Constraint, error) {
	l, err := openJSONList("constraint", data, `JSON constraint must be a list like ["rack","GROUP_BY","3"]`)
	if err != nil {
		return Constraint{}, err
	}
	var parts []string
	var offs []int
	for l.more() {
		off := l.offset()
		t, err := l.dec.Token()
		if err != nil {
			return Constraint{}, l.failJSON(off, err)
		}
		s, ok := t.(string)
		if !ok {
			return Constraint{}, l.fail(fmt.Sprint(t), off, "constraint parts must be strings")
		}
		parts, offs = append(parts, s), append(offs, off)
	}
	if err := l.close(); err != nil {
		return Constraint{}, err
	}
	if len(parts) < 2 || len(parts) > 3 {
		return Constraint{}, l.fail(prefix(string(data)), 0, fmt.Sprintf("constraint needs 2 or 3 parts, got %d", len(parts)))
	}
	value := ""
	if len(parts) == 3 {
		value = parts[2]
	} else {
		offs = append(offs, offs[1])
	}
	return buildConstraint(parts[0], parts[1], value, offs)
}

// normalizeValue formats a numeric value ("1.50", "007") as a scalar with up
// to three decimals ("1.5", "7"), as Mesos scalar attributes are; other
// values are returned unchanged.
func normalizeValue(s string) string {
	if !looksNumeric(s) {
		return s
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return s
	}
	neg := v < 0
	f, ok := FixedFromFloat(max(v, -v))
	if !ok {
		return s
	}
	if neg && f != 0 {
		f = -f
	}
	return f.String()
}

// looksNumeric reports whether s is a plain decimal: an optional minus,
// digits, and optionally a point followed by digits.
func looksNumeric(s string) bool {
	s = strings.TrimPrefix(s, "-")
	intPart, frac, hasPoint := strings.Cut(s, ".")
	return allDigits(intPart) && (!hasPoint || allDigits(frac))
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
