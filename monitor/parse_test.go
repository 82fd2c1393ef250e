//go:build linux

package monitor

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// copyFixture copies testdata/<name>/<snap> to a temporary directory that
// a test may edit.
func copyFixture(t *testing.T, name, snap string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "root")
	require.NoError(t, os.CopyFS(dst, os.DirFS(filepath.Join("testdata", name, snap))))
	return dst
}

func TestMalformedFilesNameFileAndLine(t *testing.T) {
	tests := []struct {
		name  string
		file  string
		edit  func(string) string
		line  int
		field string
		cause error
	}{
		{"stat cut inside a cpu line", "stat", func(s string) string {
			return s[:strings.Index(s, "cpu1")+len("cpu1 18537 0 5033")]
		}, 3, "cpu1", errShortLine},
		{"stat counter with a letter", "stat", func(s string) string {
			return strings.Replace(s, "cpu0 17634", "cpu0 17x34", 1)
		}, 2, "cpu0 user", errNotNumber},
		{"stat with no per-CPU line", "stat", func(s string) string {
			return s[:strings.Index(s, "\n")+1]
		}, 2, "cpuN", errMissingLine},
		{"meminfo truncated before MemAvailable", "meminfo", func(s string) string {
			return s[:strings.Index(s, "MemAvailable")+3]
		}, 3, "line", errShortLine},
		{"meminfo ending after MemFree", "meminfo", func(s string) string {
			return s[:strings.Index(s, "MemAvailable")-1]
		}, 3, "MemAvailable", errTruncated},
		{"meminfo with an unknown unit", "meminfo", func(s string) string {
			return strings.Replace(s, "Cached:          1108472 kB", "Cached:          1108472 MB", 1)
		}, 5, "Cached unit", errSyntax},
		{"empty loadavg", "loadavg", func(string) string { return "" }, 1, "load averages", errTruncated},
		{"loadavg with a negative load", "loadavg", func(s string) string { return "-1.0" + s[4:] }, 1, "load1", errNotNumber},
		{"pressure without avg60", "pressure/io", func(s string) string {
			return strings.Replace(s, "avg60=0.00 ", "", 1)
		}, 1, "some avg10/avg60", errShortLine},
		{"pressure with a bad number", "pressure/memory", func(s string) string {
			return strings.Replace(s, "full avg10=0.00", "full avg10=x", 1)
		}, 2, "full avg10", errNotNumber},
		{"net/dev cut after the receive counters", "net/dev", func(s string) string {
			i := strings.Index(s, "eth0:")
			return s[:i+60]
		}, 6, "interface eth0", errShortLine},
		{"diskstats line cut short", "diskstats", func(s string) string {
			return strings.Replace(s, "vda 73491 9397 2956986 42359 12565 69307 5445528 14322 0 9696 57317 8822 48 934432 610 583 24", "vda 73491", 1)
		}, 9, "device line", errShortLine},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := copyFixture(t, "host", "1")
			path := filepath.Join(root, "proc", tt.file)
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(path, []byte(tt.edit(string(data))), 0o644))
			h, err := NewHost(WithProcRoot(filepath.Join(root, "proc")), WithSysRoot(filepath.Join(root, "sys")), WithMounts())
			require.NoError(t, err)

			_, err = h.Sample(context.Background())
			var pe *ParseError
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, path, pe.File)
			assert.Equal(t, tt.line, pe.Line)
			assert.Equal(t, tt.field, pe.Field)
			assert.ErrorIs(t, err, tt.cause)
			assert.ErrorIs(t, err, ErrMalformed)
			assert.NotErrorIs(t, err, ErrInvalid, "a bad kernel file is not bad input")
			assert.Contains(t, err.Error(), path+":")
		})
	}
}

func TestMissingHostFileIsNotFound(t *testing.T) {
	root := copyFixture(t, "host", "1")
	require.NoError(t, os.Remove(filepath.Join(root, "proc", "meminfo")))
	h, err := NewHost(WithProcRoot(filepath.Join(root, "proc")), WithSysRoot(filepath.Join(root, "sys")), WithMounts())
	require.NoError(t, err)
	_, err = h.Sample(context.Background())
	assert.ErrorIs(t, err, ErrNotFound)
}

func TestParseDecimal(t *testing.T) {
	tests := []struct {
		in   string
		want float64
		ok   bool
	}{
		{"1.36", 1.36, true},
		{"19.14", 19.14, true},
		{"0.00", 0, true},
		{"12", 12, true},
		{"100.00", 100, true},
		{"", 0, false},
		{"1.", 0, false},
		{".5", 0, false},
		{"1.2.3", 0, false},
		{"-1", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseDecimal([]byte(tt.in))
		assert.Equal(t, tt.ok, ok, "%q ok", tt.in)
		assert.Equal(t, tt.want, got, "%q", tt.in)
	}
}

func TestOptionsRejectBadValues(t *testing.T) {
	tests := []struct {
		name string
		opt  SamplerOption
		want string
	}{
		{"zero interval", WithInterval(0), "WithInterval(0s): must be positive"},
		{"empty history", WithHistory(0), "WithHistory(0)"},
		{"negative pid", WithProcessTree(-1), "WithProcessTree(-1)"},
		{"empty cgroup path", WithCgroup(""), `WithCgroup("")`},
		{"empty proc root", WithProcRoot(""), `WithProcRoot("")`},
		{"empty mount point", WithMounts("/", ""), `WithMounts("")`},
		{"mount point given twice", WithMounts("/", "/tmp", "/"), `WithMounts("/"): given twice`},
		{"disk given as a path", WithDisks("/dev/vda"), `WithDisks("/dev/vda")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewSampler(tt.opt)
			require.ErrorIs(t, err, ErrInvalid)
			assert.Contains(t, err.Error(), tt.want)
			if hostOpt, ok := tt.opt.(HostOption); ok {
				_, err := NewHost(hostOpt)
				require.ErrorIs(t, err, ErrInvalid, "NewHost")
			}
		})
	}
	_, err := NewSampler(WithProcessTree(os.Getpid()), WithCgroup("/x"))
	assert.True(t, errors.Is(err, ErrInvalid), "tree and cgroup together: %v", err)
}
