package isolate

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/gleaner/gleaner/internal/cgroupstat"
)

// statFile is one control file a stats read needs.
type statFile struct {
	dir, name string
	optional  bool // absent on some kernels (memory.peak before 5.19)
	parse     func(data []byte, r *reading) error
}

// reading is one stats read in progress: Stats, and the two figures the
// working set is computed from once every file is parsed.
type reading struct {
	Stats
	usage, inactiveFile uint64
}

// statReader reads Stats from a few control files kept open and re-read
// with pread. Written by hand because containerd's Stat opens every file of
// every controller on each call (cgroup1 also starts a goroutine per
// controller): about 1 ms per read on the development host, where opening a
// memory-cgroup file costs 20-70 µs and a pread of an open one 1-15 µs. The
// agent reads every task's stats often, so the goal is under 100 µs.
//
// Which files give CPU time and the memory working set, and how they are
// parsed (strictly: junk is an error, never 0), is internal/cgroupstat's,
// shared with package monitor, so that a task's memory and the business's
// are counted alike.
type statReader struct {
	files []statFile

	mu     sync.Mutex
	open   []*os.File
	buf    []byte
	rd     reading // kept, so that passing it to the parsers does not allocate
	closed bool    // the cgroup was removed: never reopen
}

func (r *statReader) read() (Stats, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return Stats{}, fmt.Errorf("%w: stats: cgroup removed", ErrNotFound)
	}
	if r.open == nil {
		if err := r.openAll(); err != nil {
			return Stats{}, err
		}
	}
	rd := &r.rd
	*rd = reading{}
	for i, f := range r.open {
		if f == nil {
			continue
		}
		data, err := r.pread(f)
		if err != nil {
			return Stats{}, err
		}
		if err := r.files[i].parse(data, rd); err != nil {
			return Stats{}, fmt.Errorf("%w: %s: %w", ErrMalformed, f.Name(), err)
		}
	}
	rd.MemoryBytes = cgroupstat.WorkingSet(rd.usage, rd.inactiveFile)
	return rd.Stats, nil
}

// pread reads all of f into r.buf, growing it when the file fills it
// (memory.stat grows with every kernel release).
func (r *statReader) pread(f *os.File) ([]byte, error) {
	for {
		n, err := f.ReadAt(r.buf, 0)
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("isolate: read %s: %w", f.Name(), err)
		}
		if n < len(r.buf) {
			return r.buf[:n], nil
		}
		r.buf = make([]byte, 2*len(r.buf))
	}
}

func (r *statReader) openAll() error {
	r.buf = make([]byte, 4096)
	open := make([]*os.File, len(r.files))
	for i, sf := range r.files {
		f, err := os.Open(filepath.Join(sf.dir, sf.name))
		if err != nil {
			if sf.optional && errors.Is(err, os.ErrNotExist) {
				continue
			}
			closeAll(open)
			if errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("%w: stats: %w", ErrNotFound, err)
			}
			return fmt.Errorf("isolate: stats: %w", err)
		}
		open[i] = f
	}
	r.open = open
	return nil
}

// close closes the kept files once the cgroup is removed. A read after it
// fails rather than reopening files nobody would close again.
func (r *statReader) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	closeAll(r.open)
	r.open, r.closed = nil, true
}

func closeAll(files []*os.File) {
	for _, f := range files {
		if f != nil {
			f.Close()
		}
	}
}

// value returns a parse function for a file holding one number.
func value(dst func(*reading) *uint64) func([]byte, *reading) error {
	return func(d []byte, r *reading) error {
		v, err := cgroupstat.Value(d)
		*dst(r) = v
		return err
	}
}

// keyed is one key of a flat-keyed file and where its value goes.
type keyed struct {
	key string
	dst func(*reading, uint64)
}

// keys returns a parse function for a flat-keyed file. A key the kernel
// does not write (nr_periods without CFS bandwidth control, oom_kill
// before 4.13) reads 0; a value that does not parse is an error.
func keys(ks ...keyed) func([]byte, *reading) error {
	return func(d []byte, r *reading) error {
		for _, k := range ks {
			v, _, err := cgroupstat.Lookup(d, k.key)
			if err != nil {
				return err
			}
			k.dst(r, v)
		}
		return nil
	}
}

func oomKills(r *reading, v uint64) { r.OOMKills = v }

func v1StatFiles(g *v1Group) []statFile {
	f := cgroupstat.V1
	mem := g.dir("memory")
	files := []statFile{
		{dir: mem, name: f.Memory, parse: value(func(r *reading) *uint64 { return &r.usage })},
		{dir: mem, name: f.Stat, parse: inactiveFile(f)},
		{dir: mem, name: "memory.max_usage_in_bytes", parse: value(func(r *reading) *uint64 { return &r.MemoryPeakBytes })},
		{dir: mem, name: "memory.oom_control", parse: keys(keyed{"oom_kill", oomKills})},
		{dir: g.dir("cpu"), name: "cpu.stat", parse: keys(
			keyed{"nr_periods", func(r *reading, v uint64) { r.CPUPeriods = v }},
			keyed{"nr_throttled", func(r *reading, v uint64) { r.CPUThrottled = v }},
			keyed{"throttled_time", func(r *reading, v uint64) { r.CPUThrottledTime = time.Duration(v) }},
		)},
	}
	if d := g.dir("cpuacct"); d != "" {
		files = append(files, statFile{dir: d, name: f.CPU, parse: cpuTime(f)})
	}
	if d := g.dir("pids"); d != "" {
		files = append(files, statFile{dir: d, name: "pids.current", parse: value(func(r *reading) *uint64 { return &r.PIDs })})
	}
	return files
}

func v2StatFiles(dir string, feat Features) []statFile {
	f := cgroupstat.V2
	files := []statFile{
		{dir: dir, name: f.CPU, parse: both(cpuTime(f), keys(
			keyed{"nr_periods", func(r *reading, v uint64) { r.CPUPeriods = v }},
			keyed{"nr_throttled", func(r *reading, v uint64) { r.CPUThrottled = v }},
			keyed{"throttled_usec", func(r *reading, v uint64) { r.CPUThrottledTime = time.Duration(v) * time.Microsecond }},
		))},
		{dir: dir, name: f.Memory, parse: value(func(r *reading) *uint64 { return &r.usage })},
		{dir: dir, name: f.Stat, parse: inactiveFile(f)},
		{dir: dir, name: "memory.peak", optional: true, parse: value(func(r *reading) *uint64 { return &r.MemoryPeakBytes })},
		{dir: dir, name: "memory.events", parse: keys(keyed{"oom_kill", oomKills})},
	}
	if feat.Pids {
		files = append(files, statFile{dir: dir, name: "pids.current", parse: value(func(r *reading) *uint64 { return &r.PIDs })})
	}
	return files
}

func cpuTime(f cgroupstat.Files) func([]byte, *reading) error {
	return func(d []byte, r *reading) (err error) {
		r.CPUUsage, err = f.CPUTime(d)
		return err
	}
}

func inactiveFile(f cgroupstat.Files) func([]byte, *reading) error {
	return func(d []byte, r *reading) (err error) {
		r.inactiveFile, err = cgroupstat.Required(d, f.InactiveFileKey)
		return err
	}
}

// both parses one file with two functions.
func both(a, b func([]byte, *reading) error) func([]byte, *reading) error {
	return func(d []byte, r *reading) error {
		if err := a(d, r); err != nil {
			return err
		}
		return b(d, r)
	}
}
