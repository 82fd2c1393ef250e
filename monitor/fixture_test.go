//go:build linux

package monitor

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// fixture points a stable path at testdata/<case>/1 and can move it to
// testdata/<case>/2, so that code holding the path reads the second
// snapshot, as it would read a live /proc one interval later.
type fixture struct {
	t     *testing.T
	links map[string]string // link path -> case
}

func newFixture(t *testing.T) *fixture {
	return &fixture{t: t, links: map[string]string{}}
}

// root returns a path that holds the first snapshot of name.
func (f *fixture) root(name string) string {
	f.t.Helper()
	src, err := filepath.Abs(filepath.Join("testdata", name))
	if err != nil {
		f.t.Fatal(err)
	}
	link := filepath.Join(f.t.TempDir(), name)
	if err := os.Symlink(filepath.Join(src, "1"), link); err != nil {
		f.t.Fatal(err)
	}
	f.links[link] = src
	return link
}

// advance moves every root to the second snapshot.
func (f *fixture) advance() {
	f.t.Helper()
	for link, src := range f.links {
		tmp := link + ".new"
		if err := os.Symlink(filepath.Join(src, "2"), tmp); err != nil {
			f.t.Fatal(err)
		}
		if err := os.Rename(tmp, link); err != nil {
			f.t.Fatal(err)
		}
	}
}

// fixtureEpoch is the time of the first snapshot; the second is one second
// later.
var fixtureEpoch = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// steppingClock returns t0, t0+1s, t0+2s, ...
func steppingClock() func() time.Time {
	n := 0
	return func() time.Time {
		n++
		return fixtureEpoch.Add(time.Duration(n-1) * time.Second)
	}
}

// fixtureHost returns a Host on the fixture case, with a stepping clock
// and a fixed statfs.
func fixtureHost(t *testing.T, f *fixture, name string, opts ...HostOption) *Host {
	t.Helper()
	root := f.root(name)
	opts = append([]HostOption{WithProcRoot(filepath.Join(root, "proc")), WithSysRoot(filepath.Join(root, "sys")), WithMounts("/data")}, opts...)
	h, err := NewHost(opts...)
	if err != nil {
		t.Fatal(err)
	}
	h.now = steppingClock()
	h.statfs = fakeStatfs
	return h
}

func fakeStatfs(path string) (FilesystemSpace, error) {
	return FilesystemSpace{MountPoint: path, SizeBytes: 100 << 30, FreeBytes: 40 << 30, AvailableBytes: 35 << 30, UsedBytes: 60 << 30, Files: 1000, FilesFree: 600}, nil
}
