package cgroupstat

import (
	"errors"
	"testing"
	"time"
)

func TestValue(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want uint64
		err  error
	}{
		{"number and newline", "1172811776\n", 1172811776, nil},
		{"no newline", "42", 42, nil},
		{"junk is an error, not zero", "12ab\n", 0, ErrNotNumber},
		{"max is not a usage", "max\n", 0, ErrNotNumber},
		{"negative", "-1\n", 0, ErrNotNumber},
		{"empty file", "", 0, ErrMissing},
		{"overflow", "18446744073709551616\n", 0, ErrNotNumber},
		{"a second line", "1\n2\n", 0, ErrTrailing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Value([]byte(tt.in))
			if !errors.Is(err, tt.err) || got != tt.want {
				t.Fatalf("Value(%q) = %d, %v; want %d, %v", tt.in, got, err, tt.want, tt.err)
			}
		})
	}
}

func TestLookup(t *testing.T) {
	stat := "cache 10\nrss 20\ninactive_file 7\ntotal_inactive_file x9\n"
	tests := []struct {
		key   string
		want  uint64
		found bool
		err   error
		line  int
	}{
		{"inactive_file", 7, true, nil, 0},
		{"rss", 20, true, nil, 0},
		{"absent", 0, false, nil, 0},
		{"total_inactive_file", 0, true, ErrNotNumber, 4},
		{"inactive", 0, false, nil, 0}, // a prefix of a key is not the key
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			got, found, err := Lookup([]byte(stat), tt.key)
			if got != tt.want || found != tt.found || !errors.Is(err, tt.err) {
				t.Fatalf("Lookup(%q) = %d, %v, %v; want %d, %v, %v", tt.key, got, found, err, tt.want, tt.found, tt.err)
			}
			var se *SyntaxError
			if tt.line != 0 && (!errors.As(err, &se) || se.Line != tt.line || se.Field != tt.key) {
				t.Fatalf("Lookup(%q) error %v: want line %d naming the key", tt.key, err, tt.line)
			}
		})
	}
	if _, err := Required([]byte(stat), "absent"); !errors.Is(err, ErrMissing) {
		t.Fatalf("Required(absent) = %v, want ErrMissing", err)
	}
}

func TestWorkingSet(t *testing.T) {
	if got := WorkingSet(1000, 300); got != 700 {
		t.Errorf("WorkingSet(1000, 300) = %d, want 700", got)
	}
	// The cache may grow between the two reads.
	if got := WorkingSet(100, 400); got != 0 {
		t.Errorf("WorkingSet(100, 400) = %d, want 0", got)
	}
}

func TestCPUTime(t *testing.T) {
	for _, tt := range []struct {
		name string
		f    Files
		in   string
		want time.Duration
		err  error
	}{
		{"v1 nanoseconds", V1, "2500000000\n", 2500 * time.Millisecond, nil},
		{"v2 usage_usec", V2, "usage_usec 1500\nuser_usec 1000\n", 1500 * time.Microsecond, nil},
		{"v2 without usage_usec", V2, "user_usec 1\n", 0, ErrMissing},
		{"v1 junk", V1, "1k\n", 0, ErrNotNumber},
		{"v2 overflow", V2, "usage_usec 18446744073709551615\n", 0, ErrRange},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.f.CPUTime([]byte(tt.in))
			if got != tt.want || !errors.Is(err, tt.err) {
				t.Fatalf("CPUTime(%q) = %v, %v; want %v, %v", tt.in, got, err, tt.want, tt.err)
			}
		})
	}
}

func TestLookupDoesNotAllocate(t *testing.T) {
	stat := []byte("cache 10\nrss 20\ntotal_inactive_file 9\n")
	if n := testing.AllocsPerRun(100, func() { _, _, _ = Lookup(stat, "total_inactive_file") }); n != 0 {
		t.Fatalf("Lookup allocates %v times", n)
	}
}
