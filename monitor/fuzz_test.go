//go:build linux

package monitor

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzKernelFiles feeds arbitrary bytes to every host parser: none may
// panic, and each either succeeds or returns a ParseError that names the
// file and a line within it.
func FuzzKernelFiles(f *testing.F) {
	for _, name := range []string{"stat", "meminfo", "loadavg", "net/dev", "diskstats", "pressure/cpu", "pressure/io"} {
		data, err := os.ReadFile(filepath.Join("testdata/host/1/proc", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("cpu0 1 2 3\n"))
	f.Add([]byte("some avg10=1.5 avg60=2\n"))
	parsers := map[string]func(k *kfile) error{
		"stat":     func(k *kfile) error { _, err := k.parseStat(nil); return err },
		"meminfo":  func(k *kfile) error { _, err := k.parseMeminfo(); return err },
		"loadavg":  func(k *kfile) error { _, err := k.parseLoadavg(); return err },
		"pressure": func(k *kfile) error { _, err := k.parsePSI(); return err },
		"net/dev":  func(k *kfile) error { _, err := k.parseNetDev(nil, names{}); return err },
		"diskstats": func(k *kfile) error {
			_, err := k.parseDiskstats(nil, func(string) bool { return true }, names{})
			return err
		},
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		lines := 1
		for _, c := range data {
			if c == '\n' {
				lines++
			}
		}
		for name, parse := range parsers {
			k := &kfile{path: name, data: data}
			err := parse(k)
			if err == nil {
				continue
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("%s: error is not a ParseError: %v", name, err)
			}
			if pe.File != name || pe.Line < 1 || pe.Line > lines+1 {
				t.Fatalf("%s: error names %s:%d, file has %d lines", name, pe.File, pe.Line, lines)
			}
		}
	})
}
