package monitor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/gleaner/gleaner/internal/cgroupstat"
)

// Cgroup measures one cgroup from its control files. It is not safe for
// concurrent use.
//
// The files are read here rather than through containerd/cgroups because
// that library finds hierarchies through the live host's
// /proc/self/mountinfo, so it cannot be pointed at a fixture tree; which
// files are read and how they are parsed is internal/cgroupstat's, shared
// with package isolate.
type Cgroup struct {
	version int
	// v1: the cpuacct and memory directories; v2: both are the cgroup.
	cpuDir, memDir string
	k              kfile
}

// NewCgroup watches the cgroup at path (relative to the hierarchy, for
// example "/gleaner") under root ("/sys/fs/cgroup" on the live host). When
// root holds cgroup.controllers it is a cgroup v2 mount; otherwise root is
// taken as the parent of v1 hierarchies, and the cpuacct hierarchy (alone or
// co-mounted with cpu) and the memory hierarchy are used. It returns an
// error wrapping ErrNotFound when the cgroup does not exist.
func NewCgroup(root, path string) (*Cgroup, error) {
	if path == "" {
		return nil, fmt.Errorf("%w: cgroup path %q", ErrInvalid, path)
	}
	c := &Cgroup{}
	if exists(filepath.Join(root, "cgroup.controllers")) {
		c.version = 2
		c.cpuDir = filepath.Join(root, path)
		c.memDir = c.cpuDir
	} else {
		c.version = 1
		for _, h := range []string{"cpuacct", "cpu,cpuacct", "cpuacct,cpu"} {
			if exists(filepath.Join(root, h)) {
				c.cpuDir = filepath.Join(root, h, path)
				break
			}
		}
		if c.cpuDir == "" {
			return nil, fmt.Errorf("%w: no cgroup v2 mount and no v1 cpuacct hierarchy under %s", ErrNotSupported, root)
		}
		c.memDir = filepath.Join(root, "memory", path)
	}
	for _, d := range []string{c.cpuDir, c.memDir} {
		if !exists(d) {
			return nil, fmt.Errorf("%w: cgroup %s", ErrNotFound, d)
		}
	}
	return c, nil
}

// Version returns 1 or 2.
func (c *Cgroup) Version() int { return c.version }

// Usage reads CPU time and the memory working set: usage minus the
// inactive file cache, as cAdvisor and the kubelet count it, and as
// isolate's task stats do (both through one definition). A cgroup removed
// meanwhile gives an error wrapping ErrNotFound; a control file that does
// not parse, a *ParseError.
func (c *Cgroup) Usage(ctx context.Context) (ResourceUsage, error) {
	if err := ctx.Err(); err != nil {
		return ResourceUsage{}, err
	}
	f := cgroupstat.V1
	if c.version == 2 {
		f = cgroupstat.V2
	}
	cpuPath := filepath.Join(c.cpuDir, f.CPU)
	if err := c.k.read(cpuPath); err != nil {
		return ResourceUsage{}, readErr(err)
	}
	cpu, err := f.CPUTime(c.k.data)
	if err != nil {
		return ResourceUsage{}, statError(cpuPath, err)
	}
	memPath := filepath.Join(c.memDir, f.Memory)
	if err := c.k.read(memPath); err != nil {
		if c.version == 2 && errors.Is(err, fs.ErrNotExist) && exists(c.memDir) {
			return ResourceUsage{}, fmt.Errorf("%w: %s has no %s: the memory controller is not enabled for it", ErrNotSupported, c.memDir, f.Memory)
		}
		return ResourceUsage{}, readErr(err)
	}
	usage, err := cgroupstat.Value(c.k.data)
	if err != nil {
		return ResourceUsage{}, statError(memPath, err)
	}
	statPath := filepath.Join(c.memDir, f.Stat)
	if err := c.k.read(statPath); err != nil {
		return ResourceUsage{}, readErr(err)
	}
	inactive, err := cgroupstat.Required(c.k.data, f.InactiveFileKey)
	if err != nil {
		return ResourceUsage{}, statError(statPath, err)
	}
	ws := cgroupstat.WorkingSet(usage, inactive)
	return ResourceUsage{CPUSeconds: cpu.Seconds(), MemoryBytes: ws}, nil
}

// statError turns a cgroupstat syntax error into a ParseError naming path.
func statError(path string, err error) error {
	var se *cgroupstat.SyntaxError
	if !errors.As(err, &se) {
		return err
	}
	field := se.Field
	if field == "" {
		field = filepath.Base(path)
	}
	return &ParseError{File: path, Line: se.Line, Field: field, Value: se.Value, Err: se.Err}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, fs.ErrNotExist)
}
