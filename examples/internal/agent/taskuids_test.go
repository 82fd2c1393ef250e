package agent

import (
	"errors"
	"strings"
	"testing"
)

func TestParseUIDRange(t *testing.T) {
	for _, c := range []struct {
		in   string
		want UIDRange
		err  string
	}{
		{"", UIDRange{}, ""},
		{"200000-265535", UIDRange{200000, 265535}, ""},
		{"7-7", UIDRange{7, 7}, ""},
		{"0-100", UIDRange{}, "holds root"},
		{"20-10", UIDRange{}, "below the first"},
		{"10-4294967295", UIDRange{}, "invalid ID"},
		{"200000", UIDRange{}, "want first-last"},
		{"a-b", UIDRange{}, "two user IDs"},
		{"1-99999999999", UIDRange{}, "two user IDs"},
	} {
		got, err := ParseUIDRange(c.in)
		switch {
		case c.err == "" && (err != nil || got != c.want):
			t.Errorf("ParseUIDRange(%q) = %v, %v; want %v", c.in, got, err, c.want)
		case c.err != "" && (err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.err)):
			t.Errorf("ParseUIDRange(%q) = %v, %v; want ErrInvalid saying %q", c.in, got, err, c.err)
		}
		if c.err == "" && got.String() != c.in {
			t.Errorf("%v prints as %q, want %q", got, got.String(), c.in)
		}
	}
}

// TestUIDPoolGoesRound: IDs come one per task, round the range, so an ID
// given back comes again only after the others; a full range refuses.
func TestUIDPoolGoesRound(t *testing.T) {
	p := newUIDPool(UIDRange{10, 12})
	take := func(task string) uint32 {
		t.Helper()
		uid, err := p.take(task)
		if err != nil {
			t.Fatalf("take for %s: %v", task, err)
		}
		return uid
	}
	if a, b, c := take("a"), take("b"), take("c"); a != 10 || b != 11 || c != 12 {
		t.Fatalf("took %d %d %d, want 10 11 12", a, b, c)
	}
	if _, err := p.take("d"); err == nil || !strings.Contains(err.Error(), "all 3 task UIDs (10-12) are in use") {
		t.Fatalf("a full range: %v", err)
	}
	p.release(11)
	if got := take("e"); got != 11 {
		t.Fatalf("took %d, want the only free one, 11", got)
	}
	p.release(10)
	p.release(12)
	if got := take("f"); got != 12 {
		t.Fatalf("took %d, want 12: the search goes on from after the last ID taken", got)
	}
	p.hold(10, "adopted")
	p.hold(99, "outside the range") // not the pool's: ignored
	if n := p.inUse(); n != 3 {
		t.Fatalf("%d in use, want 3", n)
	}
}
