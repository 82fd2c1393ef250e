package offer

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
)

func TestParseResources(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // String() of the result
	}{
		{"mesos docs agent example", "cpus:24;gpus:2;mem:24576;disk:409600;ports:[21000-24000,30000-34000];bugs(debug_role):{a,b,c}",
			"bugs(debug_role):{a,b,c};cpus:24;disk:409600;gpus:2;mem:24576;ports:[21000-24000,30000-34000]"},
		{"mesos docs older example", "cpu:24;mem:24576;disk:409600;ports:[21000-24000];bugs:{a,b,c}",
			"bugs:{a,b,c};cpu:24;disk:409600;mem:24576;ports:[21000-24000]"},
		{"mesos default agent resources", "cpus:1;mem:512;ports:[31000-32000]", "cpus:1;mem:512;ports:[31000-32000]"},
		{"custom scalar range and set names", "set:{label_a,label_b};range:[0-1000];scalar:108;numbers:{4,8,15,16,23,42}",
			"numbers:{15,16,23,4,42,8};range:[0-1000];scalar:108;set:{label_a,label_b}"},
		{"static reservation", "cpus(role1):2;mem(role1):1024;cpus:4", "cpus:4;cpus(role1):2;mem(role1):1024"},
		{"explicit star role is unreserved", "cpus(*):2", "cpus:2"},
		{"white space is ignored", "  cpus : 2 ;\tmem:  1024 ; ports:[ 1-2 , 5 - 6 ] ", "cpus:2;mem:1024;ports:[1-2,5-6]"},
		{"empty entries are skipped", ";cpus:1;;", "cpus:1"},
		{"empty text is empty resources", "", ""},
		{"repeated entries add up", "cpus:1;cpus:0.5;ports:[1-2];ports:[4-5]", "cpus:1.5;ports:[1-2,4-5]"},
		{"adjacent ranges coalesce", "ports:[1-2,3-4]", "ports:[1-4]"},
		// Mesos's values::parse coalesces what it parses (src/common/values.cpp).
		{"overlapping ranges coalesce as in Mesos", "ports:[1-4, 4-5, 7-8, 8-10]", "ports:[1-5,7-10]"},
		{"contained and unsorted ranges coalesce", "ports:[20-30,1-3,22-25,2-2,4-6]", "ports:[1-6,20-30]"},
		{"ranges coalesce across entries", "ports:[1-5];ports:[5-8];ports:[10-12];ports:[9-9]", "ports:[1-12]"},
		{"ranges at the top of uint64 coalesce", "p:[18446744073709551614-18446744073709551615,18446744073709551615]", "p:[18446744073709551614-18446744073709551615]"},
		{"scalar rounds to three decimals", "cpus:0.12345", "cpus:0.123"},
		{"scalar rounds half away from zero", "cpus:0.0005", "cpus:0.001"},
		{"zero scalar is dropped", "cpus:0;mem:1", "mem:1"},
		{"exponent form is a scalar", "mem:1e3", "mem:1000"},
		{"single-number range", "ports:[80]", "ports:[80-80]"},
		{"hierarchical role", "cpus(eng/batch):1", "cpus(eng/batch):1"},
		{"empty set and ranges are empty", "disks:{};ports:[]", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseResources(tt.in)
			if err != nil {
				t.Fatalf("ParseResources(%q): %v", tt.in, err)
			}
			if got := r.String(); got != tt.want {
				t.Fatalf("ParseResources(%q).String() = %q, want %q", tt.in, got, tt.want)
			}
			again, err := ParseResources(r.String())
			if err != nil || !again.Equal(r) {
				t.Fatalf("reparse of %q = %v, %v; want equal", r, again, err)
			}
		})
	}
}

func TestParseResourcesErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // the whole error text
	}{
		{"negative scalar", "cpus:-1", `resources: "cpus:-1" at 0: negative scalar`},
		{"NaN scalar", "cpus:1;mem:NaN", `resources: "mem:NaN" at 7: NaN scalar`},
		{"infinite scalar", "mem:+Inf", `resources: "mem:+Inf" at 0: infinite scalar`},
		{"overflowing scalar is infinite", "mem:1e400", `resources: "mem:1e400" at 0: infinite scalar`},
		{"scalar beyond fixed point", "mem:1e20", `resources: "mem:1e20" at 0: scalar too large`},
		{"not a number", "cpus:two", `resources: "cpus:two" at 0: invalid scalar`},
		{"empty scalar", "cpus:", `resources: "cpus:" at 0: empty scalar`},
		{"missing colon", "cpus:1; mem", `resources: "mem" at 8: missing ':' between name and value`},
		{"empty name", ":1", `resources: ":1" at 0: empty name`},
		{"inverted range", "ports:[5-3]", `resources: "ports:[5-3]" at 0: inverted range 5-3`},
		{"malformed range", "ports:[1-x]", `resources: "ports:[1-x]" at 0: invalid range "1-x"`},
		{"unterminated ranges", "ports:[1-2", `resources: "ports:[1-2" at 0: unterminated ranges`},
		{"unterminated set", "disks:{a", `resources: "disks:{a" at 0: unterminated set`},
		{"duplicate set item", "disks:{a,a}", `resources: "disks:{a,a}" at 0: duplicate set item`},
		{"empty set item", "disks:{a,,b}", `resources: "disks:{a,,b}" at 0: empty set item`},
		{"type mismatch", "cpus:1;cpus:[1-2]", `resources: "cpus:[1-2]" at 7: type RANGES differs from earlier SCALAR`},
		{"unterminated role", "cpus(batch:1", `resources: "cpus(batch:1" at 0: unterminated role`},
		{"empty role", "cpus():1", `resources: "cpus():1" at 0: invalid role`},
		{"name with space", "my cpus:1", `resources: "my cpus:1" at 0: invalid name`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseResources(tt.in)
			if err == nil {
				t.Fatalf("ParseResources(%q) succeeded, want error %q", tt.in, tt.want)
			}
			if err.Error() != tt.want {
				t.Fatalf("ParseResources(%q) error = %q, want %q", tt.in, err, tt.want)
			}
			var se *SyntaxError
			if !errors.As(err, &se) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v is not a *SyntaxError wrapping ErrInvalid", err)
			}
			if !strings.HasPrefix(tt.in[se.Offset:], se.Token) {
				t.Fatalf("token %q is not at offset %d of %q", se.Token, se.Offset, tt.in)
			}
		})
	}
}

func TestResourcesJSON(t *testing.T) {
	t.Run("mesos docs JSON equals the text form", func(t *testing.T) {
		data, err := os.ReadFile("testdata/mesos-docs-resources.json")
		if err != nil {
			t.Fatal(err)
		}
		fromJSON, err := ParseResources(string(data))
		if err != nil {
			t.Fatal(err)
		}
		fromText := MustParseResources("cpus:24;gpus:2;mem:24576;disk:409600;ports:[21000-24000,30000-34000];bugs(debug_role):{a,b,c}")
		if !fromJSON.Equal(fromText) {
			t.Fatalf("JSON gives %v, text gives %v", fromJSON, fromText)
		}
	})
	t.Run("marshal then unmarshal gives the same value", func(t *testing.T) {
		in := MustParseResources("cpus:0.5;cpus(batch):1.25;mem:1024;ports:[1-5,9-9];disks(batch):{x,y}")
		data, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		var out Resources
		if err := json.Unmarshal(data, &out); err != nil {
			t.Fatal(err)
		}
		if !out.Equal(in) {
			t.Fatalf("round trip through %s gave %v, want %v", data, out, in)
		}
	})
	t.Run("overlapping and adjacent ranges coalesce as in the text form", func(t *testing.T) {
		in := `[{"name":"ports","type":"RANGES","ranges":{"range":[{"begin":1,"end":4},{"begin":4,"end":5},{"begin":7,"end":8},{"begin":8,"end":10}]}},` +
			`{"name":"ports","type":"RANGES","ranges":{"range":[{"begin":11,"end":11},{"begin":20,"end":21}]}}]`
		r, err := ParseResources(in)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := r.String(), "ports:[1-5,7-11,20-21]"; got != want {
			t.Fatalf("JSON %s parses to %q, want %q", in, got, want)
		}
		if text := MustParseResources("ports:[1-4,4-5,7-8,8-10];ports:[11-11,20-21]"); !text.Equal(r) {
			t.Fatalf("JSON gives %v, text gives %v", r, text)
		}
	})
	errTests := []struct {
		name, in, want string
	}{
		{"negative scalar names the element and offset", `[{"name":"cpus","type":"SCALAR","scalar":{"value":1}}, {"name":"mem","type":"SCALAR","scalar":{"value":-1}}]`,
			`resources: "{\"name\":\"mem\",\"type\":\"SCALAR\",\"scalar\":{\"value\":-1}}" at 55: negative scalar`},
		{"unknown type", `[{"name":"cpus","type":"TEXT"}]`, `resources: "{\"name\":\"cpus\",\"type\":\"TEXT\"}" at 1: unknown type TEXT`},
		{"inverted range", `[{"name":"ports","type":"RANGES","ranges":{"range":[{"begin":5,"end":3}]}}]`,
			`resources: "{\"name\":\"ports\",\"type\":\"RANGES\",\"ranges\":{\"range\":[{\"begin\":5,\"end\":3}]}}" at 1: inverted range 5-3`},
		{"scalar type without value", `[{"name":"cpus","type":"SCALAR"}]`, `resources: "{\"name\":\"cpus\",\"type\":\"SCALAR\"}" at 1: SCALAR without scalar value`},
		{"wrong JSON type", `[{"name":5}]`, `resources: "{\"name\":5}]" at 1: malformed JSON: name is a JSON number, want string`},
		{"not a list", `{"name":"cpus"}`, `resources: "{\"name\":\"cpus\"}" at 0: JSON resources must be a list`},
		{"trailing garbage", `[] x`, `resources: "x" at 3: trailing data after list`},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if strings.HasPrefix(tt.in, "[") {
				_, err = ParseResources(tt.in)
			} else {
				err = json.Unmarshal([]byte(tt.in), new(Resources))
			}
			if err == nil || err.Error() != tt.want {
				t.Fatalf("error = %v, want %s", err, tt.want)
			}
		})
	}
}

func TestResourcesOperations(t *testing.T) {
	r := MustParseResources
	tests := []struct {
		name string
		got  Resources
		want string
	}{
		{"add sums scalars and unions ranges and sets", r("cpus:1;ports:[1-5];d:{a}").Add(r("cpus:0.5;ports:[6-9,20-30];d:{b}")), "cpus:1.5;d:{a,b};ports:[1-9,20-30]"},
		{"add keeps roles apart", r("cpus:1").Add(r("cpus(batch):2")), "cpus:1;cpus(batch):2"},
		{"subtract removes", r("cpus:2;mem:10;ports:[1-10];d:{a,b}").Subtract(r("cpus:0.5;ports:[3-4];d:{a}")), "cpus:1.5;d:{b};mem:10;ports:[1-2,5-10]"},
		{"subtract saturates at zero", r("cpus:1;mem:5").Subtract(r("cpus:3")), "mem:5"},
		{"subtract only touches the same role", r("cpus:1;cpus(batch):1").Subtract(r("cpus(batch):1")), "cpus:1"},
		{"role filters one role", r("cpus:1;cpus(batch):2;mem(web):3").Role("batch"), "cpus(batch):2"},
		{"role star is unreserved", r("cpus:1;cpus(batch):2").Role(Unreserved), "cpus:1"},
		{"allocatable adds unreserved", r("cpus:1;cpus(batch):2;mem(web):3").Allocatable("batch"), "cpus:1;cpus(batch):2"},
		{"add keeps a name of two types as two entries", r("x:1").Add(r("x:[1-2]")), "x:1;x:[1-2]"},
		{"flatten merges roles", r("cpus:1;cpus(batch):2;ports(a):[1-2];ports:[3-4]").Flatten(), "cpus:3;ports:[1-4]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got.String() != tt.want {
				t.Fatalf("got %q, want %q", tt.got, tt.want)
			}
		})
	}
	containsTests := []struct {
		name string
		a, b string
		want bool
	}{
		{"more contains less", "cpus:2;mem:10", "cpus:1", true},
		{"equal contains equal", "cpus:2", "cpus:2", true},
		{"less does not contain more", "cpus:1", "cpus:2", false},
		{"missing resource", "cpus:2", "gpus:1", false},
		{"range inside", "ports:[1-10,20-30]", "ports:[2-3,25-30]", true},
		{"range across a gap", "ports:[1-10,12-30]", "ports:[9-13]", false},
		{"set subset", "d:{a,b,c}", "d:{a,c}", true},
		{"set not subset", "d:{a,b}", "d:{c}", false},
		{"role matters", "cpus:4", "cpus(batch):1", false},
		{"empty is contained", "cpus:1", "", true},
	}
	for _, tt := range containsTests {
		t.Run("contains/"+tt.name, func(t *testing.T) {
			if got := r(tt.a).Contains(r(tt.b)); got != tt.want {
				t.Fatalf("%q.Contains(%q) = %v, want %v", tt.a, tt.b, got, tt.want)
			}
		})
	}
	t.Run("dominant share is the largest fraction over roles", func(t *testing.T) {
		total := r("cpus:10;mem:100;ports:[1-100]")
		if got := r("cpus:1;cpus(batch):1;mem:50;ports:[1-100]").DominantShare(total); got != 0.5 {
			t.Fatalf("share = %v, want 0.5", got)
		}
		if got := r("gpus:1").DominantShare(total); got != 0 {
			t.Fatalf("share of a resource absent from total = %v, want 0", got)
		}
	})
	t.Run("roles and entries", func(t *testing.T) {
		x := r("cpus:1;cpus(batch):2;mem(web):3")
		if got := fmt.Sprint(x.Roles()); got != "[* batch web]" {
			t.Fatalf("Roles() = %s", got)
		}
		all := x.All()
		all[0].Scalar = 99 // a copy: x must not change
		if len(all) != 3 || x.String() != "cpus:1;cpus(batch):2;mem(web):3" {
			t.Fatalf("All() = %v, x = %v", all, x)
		}
	})
	t.Run("empty", func(t *testing.T) {
		if !(Resources{}).IsEmpty() || r("cpus:1").IsEmpty() || !r("cpus:1").Subtract(r("cpus:1")).IsEmpty() {
			t.Fatal("IsEmpty is wrong")
		}
	})
}

func TestFixedPointDoesNotDrift(t *testing.T) {
	step := MustParseResources("cpus:0.1;mem:0.001")
	var sum Resources
	for range 10000 {
		sum = sum.Add(step)
	}
	if want := "cpus:1000;mem:10"; sum.String() != want {
		t.Fatalf("10000 × %v = %v, want %s", step, sum, want)
	}
	for range 10000 {
		sum = sum.Subtract(step)
	}
	if !sum.IsEmpty() {
		t.Fatalf("after subtracting back: %v, want empty", sum)
	}
}

func TestNewResources(t *testing.T) {
	got, err := NewResources(
		Resource{Name: "cpus", Type: Scalar, Scalar: 1500},
		Resource{Name: "ports", Type: Ranges, Ranges: []Range{{40, 50}, {10, 20}, {45, 60}}},
		Resource{Name: "cpus", Type: Scalar, Scalar: 500},
		Resource{Name: "ports", Type: Ranges, Ranges: []Range{{21, 22}}},
	)
	if err != nil {
		t.Fatal(err)
	}
	if want := "cpus:2;ports:[10-22,40-60]"; got.String() != want {
		t.Fatalf("got %v, want %s", got, want)
	}
	for _, bad := range []Resource{
		{Name: "cpus", Type: Scalar, Scalar: -1},
		{Name: "ports", Type: Ranges, Ranges: []Range{{5, 1}}},
		{Name: "d", Type: Set, Set: []string{"a,b"}},
		{Name: "", Type: Scalar, Scalar: 1},
		{Name: "x", Type: 9},
	} {
		if _, err := NewResources(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("NewResources(%+v) error = %v, want ErrInvalid", bad, err)
		}
	}
	mixed := []Resource{{Name: "cpus", Type: Scalar, Scalar: 1}, {Name: "cpus", Role: "r", Type: Set, Set: []string{"a"}}}
	if _, err := NewResources(mixed...); !errors.Is(err, ErrInvalid) {
		t.Errorf("NewResources with one name of two types: error = %v, want ErrInvalid", err)
	}
}
