package offer

import (
	"encoding/json"
	"errors"
	"testing"
)

// FuzzParseResources checks that no input panics, that errors are
// *SyntaxErrors whose offset lies inside the input, and that whatever
// parses prints and parses back to the same value, in text and in JSON.
func FuzzParseResources(f *testing.F) {
	for _, s := range []string{
		"cpus:24;gpus:2;mem:24576;disk:409600;ports:[21000-24000,30000-34000];bugs(debug_role):{a,b,c}",
		"cpus(*):1.5;mem:0.0005;ports:[1-2,3-4]", "cpus:-1", "ports:[5-3]", "ports:[1-5,3-8]", "cpus:NaN",
		"mem:9007199254740.991", "mem:1e400", "d:{a,,b}", "cpus(:1", ";;", "x:[18446744073709551615-18446744073709551615]",
		`[{"name":"cpus","type":"SCALAR","scalar":{"value":1.5}},{"name":"p","type":"RANGES","ranges":{"range":[{"begin":1,"end":2}]},"role":"r"}]`,
		`[{"name":"s","type":"SET","set":{"item":["a","b"]}}]`, `[{"name":"c","type":"SCALAR","scalar":{"value":"1e3"}}]`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		r, err := ParseResources(text)
		if err != nil {
			checkSyntaxError(t, text, err)
			return
		}
		printed := r.String()
		again, err := ParseResources(printed)
		if err != nil {
			t.Fatalf("%q printed as %q, which does not parse: %v", text, printed, err)
		}
		if !again.Equal(r) {
			t.Fatalf("%q printed as %q, which parses to %q", text, printed, again)
		}
		data, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		var fromJSON Resources
		if err := json.Unmarshal(data, &fromJSON); err != nil || !fromJSON.Equal(r) {
			t.Fatalf("%q through JSON %s gives %q, %v", printed, data, fromJSON, err)
		}
		if !r.Contains(r) || !r.Subtract(r).IsEmpty() || !r.Add(Resources{}).Equal(r) {
			t.Fatalf("%q: r contains r, r-r empty, r+0 = r do not all hold", printed)
		}
	})
}

// FuzzParseConstraint checks that no input panics, that errors are
// *SyntaxErrors with an offset inside the input, and that what parses
// prints and parses back the same, in text and JSON, and can be checked.
func FuzzParseConstraint(f *testing.F) {
	for _, s := range []string{
		"hostname:UNIQUE", "rack:GROUP_BY:3", "rack:CLUSTER", "zone:LIKE:z[0-4]", "zone:UNLIKE:a:b", "rack:MAX_PER:2",
		"gen:IS:2.50", "@hostname:UNIQUE", "rack:FOO", "a:LIKE:(", "a:MAX_PER:x", `["rack","GROUP_BY","3"]`,
		`["a","IS"`, `["a","MAX_PER",2]`, ":", "",
	} {
		f.Add(s)
	}
	attrs := map[string]string{"rack": "r1", "zone": "z2", "gen": "2.5"}
	placed := []Placement{{AppID: "a", Hostname: "h1", Attributes: attrs}, {AppID: "a", Hostname: "h2", Attributes: map[string]string{"rack": "r2"}}}
	f.Fuzz(func(t *testing.T, text string) {
		c, err := ParseConstraint(text)
		if err != nil {
			checkSyntaxError(t, text, err)
			return
		}
		printed := c.String()
		again, err := ParseConstraint(printed)
		if err != nil || again.String() != printed {
			t.Fatalf("%q printed as %q, which parses to %v, %v", text, printed, again, err)
		}
		data, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		var fromJSON Constraint
		if err := json.Unmarshal(data, &fromJSON); err != nil || fromJSON.String() != printed {
			t.Fatalf("%q through JSON %s gives %v, %v", printed, data, fromJSON, err)
		}
		c.Check("h1", attrs, placed)
		c.Check("h3", nil, placed)
	})
}

// checkSyntaxError asserts that a parse error is a *SyntaxError wrapping
// ErrInvalid whose offset lies inside the input.
func checkSyntaxError(t *testing.T, text string, err error) {
	t.Helper()
	var se *SyntaxError
	if !errors.As(err, &se) || !errors.Is(err, ErrInvalid) {
		t.Fatalf("error %v is not a *SyntaxError wrapping ErrInvalid", err)
	}
	if se.Offset < 0 || se.Offset > len(text) {
		t.Fatalf("offset %d outside input of length %d", se.Offset, len(text))
	}
}
