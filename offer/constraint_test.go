package offer

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestParseConstraint(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		field string
		op    Operator
		value string
	}{
		{"unique hostname", "hostname:UNIQUE", "hostname", Unique, ""},
		{"group by with count", "rack:GROUP_BY:3", "rack", GroupBy, "3"},
		{"group by without count", "rack:GROUP_BY", "rack", GroupBy, ""},
		{"cluster with value", "rack:CLUSTER:rack-1", "rack", Cluster, "rack-1"},
		{"cluster without value", "rack:CLUSTER", "rack", Cluster, ""},
		{"like keeps colons in the expression", "zone:LIKE:a:b|c", "zone", Like, "a:b|c"},
		{"unlike", "@hostname:UNLIKE:db.*", "@hostname", Unlike, "db.*"},
		{"max per", "rack:MAX_PER:2", "rack", MaxPer, "2"},
		{"is", "gen:IS:2", "gen", Is, "2"},
		{"JSON three parts", `["rack","GROUP_BY","3"]`, "rack", GroupBy, "3"},
		{"JSON two parts", `["hostname", "UNIQUE"]`, "hostname", Unique, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseConstraint(tt.in)
			if err != nil {
				t.Fatalf("ParseConstraint(%q): %v", tt.in, err)
			}
			if c.Field != tt.field || c.Op != tt.op || c.Value != tt.value {
				t.Fatalf("got %q %v %q, want %q %v %q", c.Field, c.Op, c.Value, tt.field, tt.op, tt.value)
			}
			again, err := ParseConstraint(c.String())
			if err != nil || again.String() != c.String() {
				t.Fatalf("reparse of %q = %v, %v", c, again, err)
			}
			data, _ := json.Marshal(c)
			var fromJSON Constraint
			if err := json.Unmarshal(data, &fromJSON); err != nil || fromJSON.String() != c.String() {
				t.Fatalf("JSON round trip through %s = %v, %v", data, fromJSON, err)
			}
		})
	}
}

func TestParseConstraintErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"unknown operator", "rack:FOO", `constraint: "FOO" at 5: unknown operator (want UNIQUE, CLUSTER, GROUP_BY, LIKE, UNLIKE, MAX_PER or IS)`},
		{"lower-case operator is unknown", "rack:unique", `constraint: "unique" at 5: unknown operator (want UNIQUE, CLUSTER, GROUP_BY, LIKE, UNLIKE, MAX_PER or IS)`},
		{"missing operator", "rack", `constraint: "rack" at 0: missing operator (want field:OPERATOR[:value])`},
		{"empty field", ":UNIQUE", `constraint: "" at 0: empty field`},
		{"invalid regular expression", "zone:LIKE:a(b", `constraint: "a(b" at 10: invalid regular expression: missing closing ): ` + "`a(b`"},
		{"like without expression", "zone:LIKE", `constraint: "" at 9: LIKE needs a regular expression`},
		{"non-numeric MAX_PER", "rack:MAX_PER:two", `constraint: "two" at 13: MAX_PER value must be a positive integer`},
		{"zero MAX_PER", "rack:MAX_PER:0", `constraint: "0" at 13: MAX_PER value must be a positive integer`},
		{"non-numeric GROUP_BY", "rack:GROUP_BY:x", `constraint: "x" at 14: GROUP_BY value must be a non-negative integer`},
		{"UNIQUE with value", "rack:UNIQUE:x", `constraint: "x" at 12: UNIQUE takes no value`},
		{"IS without value", "rack:IS", `constraint: "" at 7: IS needs a value`},
		{"JSON unknown operator", `["rack", "NEAR"]`, `constraint: "NEAR" at 9: unknown operator (want UNIQUE, CLUSTER, GROUP_BY, LIKE, UNLIKE, MAX_PER or IS)`},
		{"JSON non-numeric MAX_PER", `["rack","MAX_PER","x"]`, `constraint: "x" at 18: MAX_PER value must be a positive integer`},
		{"JSON number part", `["rack","MAX_PER",2]`, `constraint: "2" at 18: constraint parts must be strings`},
		{"JSON too many parts", `["a","IS","b","c"]`, `constraint: "[\"a\",\"IS\",\"b\",\"c\"]" at 0: constraint needs 2 or 3 parts, got 4`},
		{"invalid UTF-8 field", "\xe1:UNIQUE", `constraint: "\xe1" at 0: field is not valid UTF-8`},
		{"field with colon from JSON", `["a:b","UNIQUE"]`, `constraint: "a:b" at 1: field contains ':'`},
		{"JSON not closed", `["a","IS"`, `constraint: "[\"a\",\"IS\"" at 9: malformed JSON: EOF`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConstraint(tt.in)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("ParseConstraint(%q) error = %v, want %s", tt.in, err, tt.want)
			}
			var se *SyntaxError
			if !errors.As(err, &se) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v is not a *SyntaxError wrapping ErrInvalid", err)
			}
		})
	}
}

// placedOn builds placements of one app on agents described as
// hostname/attributes pairs.
func placedOn(agents ...map[string]string) []Placement {
	var out []Placement
	for _, a := range agents {
		out = append(out, Placement{AppID: "app", Hostname: a["hostname"], Attributes: a})
	}
	return out
}

func TestConstraintCheck(t *testing.T) {
	host := func(h string, kv ...string) map[string]string {
		m := map[string]string{"hostname": h}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	a1 := host("a1", "rack", "r1", "zone", "z1", "gen", "2")
	a2 := host("a2", "rack", "r1", "zone", "z2", "gen", "3")
	b1 := host("b1", "rack", "r2", "zone", "z1", "gen", "2.0")
	c1 := host("c1", "rack", "r3")
	bare := host("bare")
	tests := []struct {
		name       string
		constraint string
		placed     []Placement
		agent      map[string]string
		want       bool
	}{
		{"UNIQUE hostname accepts a new host", "hostname:UNIQUE", placedOn(a1), a2, true},
		{"UNIQUE hostname rejects a used host", "hostname:UNIQUE", placedOn(a1), a1, false},
		{"UNIQUE @hostname means hostname", "@hostname:UNIQUE", placedOn(a1), a1, false},
		{"UNIQUE attribute rejects a used value", "rack:UNIQUE", placedOn(a1), a2, false},
		{"UNIQUE attribute accepts a new value", "rack:UNIQUE", placedOn(a1), b1, true},
		{"UNIQUE rejects an agent without the attribute", "zone:UNIQUE", nil, c1, false},
		{"CLUSTER with value accepts the value", "rack:CLUSTER:r1", nil, a2, true},
		{"CLUSTER with value rejects others", "rack:CLUSTER:r1", nil, b1, false},
		{"CLUSTER without value accepts anything first", "rack:CLUSTER", nil, b1, true},
		{"CLUSTER without value sticks to the first placement", "rack:CLUSTER", placedOn(a1, b1), b1, false},
		{"CLUSTER without value accepts the first placement's value", "rack:CLUSTER", placedOn(a1, b1), a2, true},
		{"CLUSTER rejects a missing attribute", "zone:CLUSTER", nil, c1, false},
		{"GROUP_BY accepts a value not yet used", "rack:GROUP_BY", placedOn(a1), b1, true},
		{"GROUP_BY rejects a value above the minimum", "rack:GROUP_BY", placedOn(a1, a2, b1), a1, false},
		{"GROUP_BY accepts the least used value", "rack:GROUP_BY", placedOn(a1, a2, b1), b1, true},
		{"GROUP_BY with count waits for enough values", "rack:GROUP_BY:3", placedOn(a1, b1), a2, false},
		{"GROUP_BY with count accepts a new value", "rack:GROUP_BY:3", placedOn(a1, b1), c1, true},
		{"GROUP_BY with count accepts the minimum once all values seen", "rack:GROUP_BY:3", placedOn(a1, b1, c1), a2, true},
		{"GROUP_BY rejects a missing attribute", "zone:GROUP_BY", nil, c1, false},
		{"LIKE matches the whole value", "zone:LIKE:z[12]", nil, a2, true},
		{"LIKE does not match a part", "zone:LIKE:z", nil, a2, false},
		{"LIKE rejects a missing attribute", "zone:LIKE:.*", nil, c1, false},
		{"LIKE on hostname", "hostname:LIKE:a.", nil, a2, true},
		{"UNLIKE rejects a match", "zone:UNLIKE:z1", nil, a1, false},
		{"UNLIKE accepts a partial match", "zone:UNLIKE:z", nil, a1, true},
		{"UNLIKE accepts a missing attribute", "zone:UNLIKE:z1", nil, c1, true},
		{"MAX_PER accepts below the limit", "rack:MAX_PER:2", placedOn(a1), a2, true},
		{"MAX_PER rejects at the limit", "rack:MAX_PER:2", placedOn(a1, a2), a1, false},
		{"MAX_PER counts per value", "rack:MAX_PER:2", placedOn(a1, a2), b1, true},
		{"MAX_PER rejects a missing attribute", "zone:MAX_PER:5", nil, c1, false},
		{"IS accepts the value", "zone:IS:z1", nil, a1, true},
		{"IS rejects another value", "zone:IS:z1", nil, a2, false},
		{"IS compares scalars formatted", "gen:IS:2.000", nil, b1, true},
		{"IS rejects a missing attribute", "zone:IS:z1", nil, bare, false},
		{"UNIQUE compares scalars formatted", "gen:UNIQUE", placedOn(a1), b1, false},
		{"placements without the attribute are not counted", "zone:MAX_PER:1", placedOn(c1, c1), a1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := MustParseConstraint(tt.constraint)
			if got := c.Check(tt.agent["hostname"], tt.agent, tt.placed); got != tt.want {
				t.Fatalf("%s on %v with %d placed = %v, want %v", c, tt.agent, len(tt.placed), got, tt.want)
			}
		})
	}
}

func TestConstraintBuiltByHand(t *testing.T) {
	c := Constraint{Field: "zone", Op: Like, Value: "z[0-4]"}
	if !c.Check("h", map[string]string{"zone": "z3"}, nil) || c.Check("h", map[string]string{"zone": "z7"}, nil) {
		t.Fatal("a Constraint literal is not compiled on use")
	}
	bad := Constraint{Field: "zone", Op: Like, Value: "("}
	if bad.Check("h", map[string]string{"zone": "("}, nil) {
		t.Fatal("an invalid constraint accepted an agent")
	}
	if _, err := NewConstraint("zone", Operator(42), ""); !errors.Is(err, ErrInvalid) {
		t.Fatalf("unknown operator: error = %v, want ErrInvalid", err)
	}
}

func TestNormalizeValue(t *testing.T) {
	for in, want := range map[string]string{
		"2": "2", "2.0": "2", "2.50": "2.5", "007": "7", "-1.5": "-1.5", "0.0004": "0",
		"r1": "r1", "1e3": "1e3", "1.": "1.", "": "", "-": "-", "1.2.3": "1.2.3",
	} {
		if got := normalizeValue(in); got != want {
			t.Errorf("normalizeValue(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestTallyMinimum checks the incremental minimum that GROUP_BY relies on
// against a recount after every addition.
func TestTallyMinimum(t *testing.T) {
	var tl tally
	seq := []int32{3, 3, 1, 0, 3, 1, 2, 0, 2, 1, 0, 2, 4, 4, 4, 4, 3, 0, 1, 2}
	for step, v := range seq {
		tl.add(v)
		var distinct, minCount, nmin int32
		for _, n := range tl.counts {
			if n == 0 {
				continue
			}
			distinct++
			switch {
			case minCount == 0 || n < minCount:
				minCount, nmin = n, 1
			case n == minCount:
				nmin++
			}
		}
		if tl.distinct != distinct || tl.min != minCount || tl.nmin != nmin {
			t.Fatalf("step %d: distinct/min/nmin = %d/%d/%d, recount %d/%d/%d",
				step, tl.distinct, tl.min, tl.nmin, distinct, minCount, nmin)
		}
	}
	if tl.first != 3 {
		t.Fatalf("first = %d, want 3", tl.first)
	}
}
