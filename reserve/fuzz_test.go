package reserve

import (
	"bytes"
	"compress/gzip"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

// checkTrace asserts what every reader promises: samples valid and in
// order, and a failure is an ErrMalformed ParseError.
func checkTrace(t *testing.T, tr Trace, err error) {
	t.Helper()
	if err != nil {
		var pe *ParseError
		if !errors.As(err, &pe) || !errors.Is(err, ErrMalformed) {
			t.Fatalf("error %v (%T) is not an ErrMalformed ParseError", err, err)
		}
		return
	}
	for i, s := range tr.Samples {
		if err := s.Validate(); err != nil {
			t.Fatalf("sample %d invalid: %v", i, err)
		}
		if i > 0 && !s.Time.After(tr.Samples[i-1].Time) {
			t.Fatalf("sample %d at %s not after %s", i, s.Time, tr.Samples[i-1].Time)
		}
	}
	// A trace a reader accepted replays without error or negative lending.
	sc, err := Replay(tr, DefaultPolicy(), DefaultHysteresis())
	if err != nil || sc.CPU.Lent < 0 || sc.Memory.Lent < 0 {
		t.Fatalf("replay of an accepted trace: %+v, %v", sc, err)
	}
}

func FuzzReadBitbrains(f *testing.F) {
	seed, err := os.ReadFile("testdata/bitbrains.csv")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	var gz bytes.Buffer
	z := gzip.NewWriter(&gz)
	z.Write(seed)
	z.Close()
	f.Add(gz.Bytes())
	f.Add([]byte("Timestamp [ms];CPU cores;cap;use;pct;memcap;memuse\n1;2;3;4;5;6;7\n"))
	f.Add([]byte("a;b;c;d;e;f;g\n1e300;1e-300;1;1;1;1;1\n\"q;\"\"\";2;3;4;5;6;7\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tr, err := ReadBitbrains(bytes.NewReader(data), "fuzz.csv")
		checkTrace(t, tr, err)
	})
}

func FuzzReadPlanetLabVM(f *testing.F) {
	f.Add("10\n20\n\n30\n")
	f.Add("1e9\n0\n-0\n")
	f.Add("NaN\n")
	f.Fuzz(func(t *testing.T, data string) {
		tr, err := readPlanetLabVM(strings.NewReader(data), "fuzz", time.Unix(0, 0))
		checkTrace(t, tr, err)
	})
}

func FuzzReadPlanetLab(f *testing.F) {
	f.Add(planetLabArchive(f, map[string]string{"vm": "10\n20\n"}))
	f.Add([]byte{0x1f, 0x8b, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		trs, err := ReadPlanetLab(bytes.NewReader(data), "fuzz.tar.gz")
		if err != nil {
			checkTrace(t, Trace{}, err)
			return
		}
		for _, tr := range trs {
			checkTrace(t, tr, nil)
		}
	})
}

func FuzzReadCSV(f *testing.F) {
	f.Add("time,cpu,memory\n1372629804,1.5,1073741824\n1372630104,50%,2\n2013-07-01T00:13:24Z,0.25\n")
	f.Add("# c\n1,1\n1,2\n")
	f.Fuzz(func(t *testing.T, data string) {
		tr, err := ReadCSV(strings.NewReader(data), "fuzz.csv", Resources{CPUCores: 4, MemoryBytes: 1 << 30})
		checkTrace(t, tr, err)
	})
}
