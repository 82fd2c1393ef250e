package attrs_test

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/gleaner/gleaner/attrs"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		text string
		want string // String() of the result
		kind map[string]attrs.Kind
	}{
		{"mesos example keeps order and kinds", "rack:r1;zone:east;cores:16;ports:[31000-32000]",
			"rack:r1;zone:east;cores:16;ports:[31000-32000]",
			map[string]attrs.Kind{"rack": attrs.KindText, "zone": attrs.KindText, "cores": attrs.KindScalar, "ports": attrs.KindRanges}},
		{"value split on the first colon only", "url:http://x:80/a", "url:http://x:80/a", map[string]attrs.Kind{"url": attrs.KindText}},
		{"spaces around names and values are ignored", " rack : r1 ; ports : [ 1-2 , 5-9 ] ", "rack:r1;ports:[1-2, 5-9]", nil},
		{"newlines separate like semicolons, empty entries skipped", "a:1\nb:x;;\n", "a:1;b:x", nil},
		{"scalars rounded to three decimals like Mesos", "mem:1.23456", "mem:1.235", map[string]attrs.Kind{"mem": attrs.KindScalar}},
		{"scalar forms", "a:+2;b:.5;c:1e3;d:-0.0001;e:2.", "a:2;b:0.5;c:1000;d:0;e:2", nil},
		{"inf, nan and hex read as text", "a:inf;b:NaN;c:0x10", "a:inf;b:NaN;c:0x10", map[string]attrs.Kind{"a": attrs.KindText, "c": attrs.KindText}},
		{"text with inner spaces", "zone:us east", "zone:us east", nil},
		{"empty text is no attributes", "", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			as, err := attrs.Parse(tt.text)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.text, err)
			}
			if got := as.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
			for name, kind := range tt.kind {
				if v, ok := as.Get(name); !ok || v.Kind() != kind {
					t.Errorf("%s: kind %v, want %v", name, v.Kind(), kind)
				}
			}
		})
	}
}

func TestParseRejectsBadInputNamingTheAttribute(t *testing.T) {
	tests := []struct {
		name     string
		text     string
		attr     string // the name the error must carry
		contains string
	}{
		{"name with slash", "a/b:1", "a/b", "'/'"},
		{"empty name", ":1", "", "empty name"},
		{"name with space inside", "ra ck:1", "ra ck", "whitespace"},
		{"duplicate name", "rack:r1;zone:e;rack:r2", "rack", "duplicate"},
		{"missing colon", "rack", "rack", "missing ':'"},
		{"empty value", "rack:", "rack", "empty value"},
		{"range without dash", "ports:[31000]", "ports", "malformed range"},
		{"range begin after end", "ports:[5-1]", "ports", "begin is after end"},
		{"range not closed", "ports:[1-2", "ports", "missing ']'"},
		{"range negative", "ports:[-1-2]", "ports", "malformed range"},
		{"range empty", "ports:[]", "ports", "malformed range"},
		{"range with text", "ports:[a-b]", "ports", "malformed range"},
		{"set", "disks:{a,b}", "disks", "sets are not supported"},
		{"scalar overflow", "big:1e999", "big", "out of range"},
		{"control character in text", "zone:ea\x01st", "zone", "control"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := attrs.Parse(tt.text)
			if !errors.Is(err, attrs.ErrInvalid) {
				t.Fatalf("Parse(%q) = %v, want ErrInvalid", tt.text, err)
			}
			var ae *attrs.AttributeError
			if !errors.As(err, &ae) || ae.Name != tt.attr {
				t.Fatalf("Parse(%q) = %v, want an AttributeError naming %q", tt.text, err, tt.attr)
			}
			if !strings.Contains(err.Error(), tt.contains) {
				t.Errorf("error %q does not say %q", err, tt.contains)
			}
		})
	}
}

func TestValueValidate(t *testing.T) {
	tests := []struct {
		name string
		v    attrs.Value
		ok   bool
	}{
		{"plain text", attrs.Text("east"), true},
		{"text that reads as a number", attrs.Text("16"), false},
		{"text with semicolon", attrs.Text("a;b"), false},
		{"text with outer space", attrs.Text(" a"), false},
		{"text starting with bracket", attrs.Text("[x"), false},
		{"scalar", attrs.Scalar(1.5), true},
		{"NaN scalar", attrs.Scalar(math.NaN()), false},
		{"infinite scalar", attrs.Scalar(math.Inf(1)), false},
		{"ranges", attrs.Ranges(attrs.Range{Begin: 1, End: 2}), true},
		{"no ranges", attrs.Ranges(), false},
		{"reversed range", attrs.Ranges(attrs.Range{Begin: 2, End: 1}), false},
		{"zero value", attrs.Value{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.v.Validate()
			if (err == nil) != tt.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, attrs.ErrInvalid) {
				t.Fatalf("Validate() = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestMapFormatsAsMesos(t *testing.T) {
	as := mustParse(t, "rack:r1;cores:16;mem:1.5;tiny:0.00001;huge:1e20;big:1234567;ports:[1-2,4-8]")
	want := map[string]string{
		"rack": "r1", "cores": "16", "mem": "1.5", "tiny": "0", "huge": "1e+20", "big": "1234567",
		"ports": "[1-2, 4-8]",
	}
	got := as.Map()
	for k, w := range want {
		if got[k] != w {
			t.Errorf("Map()[%q] = %q, want %q", k, got[k], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("Map() has %d entries, want %d", len(got), len(want))
	}
}

func TestFromMap(t *testing.T) {
	as, err := attrs.FromMap(map[string]string{"zone": "east", "cores": "16"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := as.String(), "cores:16;zone:east"; got != want {
		t.Fatalf("FromMap: %q, want %q", got, want)
	}
	if _, err := attrs.FromMap(map[string]string{"a/b": "x"}); !errors.Is(err, attrs.ErrInvalid) {
		t.Fatalf("FromMap with a bad name: %v, want ErrInvalid", err)
	}
}

func TestRangesContains(t *testing.T) {
	v := mustValue(t, "[31000-32000, 40000-40000]")
	for n, want := range map[uint64]bool{30999: false, 31000: true, 32000: true, 32001: false, 40000: true} {
		if got := v.Contains(n); got != want {
			t.Errorf("Contains(%d) = %v, want %v", n, got, want)
		}
	}
}

// FuzzParse checks the round-trip property: whatever Parse accepts, it
// formats into text that parses back to equal attributes and formats the
// same again.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"rack:r1;zone:east;cores:16;ports:[31000-32000]",
		"a:1.2345;b:[1-2, 3-4];c:x:y", "mem:1e20;n:-0;z:.5e-3", " a : b ;\n c:[0-0]", "a:{x}", "a/b:1",
		"big:123456789012.3456", "t:1e", "u:ünï cødé",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		as, err := attrs.Parse(text)
		if err != nil {
			if !errors.Is(err, attrs.ErrInvalid) {
				t.Fatalf("Parse(%q) error %v is not ErrInvalid", text, err)
			}
			return
		}
		if err := as.Validate(); err != nil {
			t.Fatalf("Parse(%q) returned attributes that do not validate: %v", text, err)
		}
		s := as.String()
		again, err := attrs.Parse(s)
		if err != nil {
			t.Fatalf("Parse(%q).String() = %q does not parse: %v", text, s, err)
		}
		if len(again) != len(as) {
			t.Fatalf("round trip of %q changed the count: %d -> %d", text, len(as), len(again))
		}
		for i := range as {
			if as[i].Name != again[i].Name || !as[i].Value.Equal(again[i].Value) {
				t.Fatalf("round trip of %q changed %q: %v -> %v", text, as[i].Name, as[i].Value, again[i].Value)
			}
		}
		if s2 := again.String(); s2 != s {
			t.Fatalf("String not stable: %q then %q", s, s2)
		}
	})
}
