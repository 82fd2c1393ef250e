package monitor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Cgroup measures one cgroup from its control files. It is not safe for
// concurrent use.
//
// The files are read here rather than through containerd/cgroups because
// that library finds hierarchies through the live host's
// /proc/self/mountinfo, so it cannot be pointed at a fixture tree; the four
// files needed are one number or one "key value" list each.
type Cgroup struct {
	path    string
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
	c := &Cgroup{path: path}
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

// Path returns the cgroup path given to NewCgroup.
func (c *Cgroup) Path() string { return c.path }

// Usage reads CPU time and the memory working set (usage minus inactive
// file cache, as the kubelet counts it). A cgroup removed meanwhile gives
// an error wrapping ErrNotFound.
func (c *Cgroup) Usage(ctx context.Context) (ResourceUsage, error) {
	if err := ctx.Err(); err != nil {
		return ResourceUsage{}, err
	}
	var u ResourceUsage
	var inactiveKey string
	var usage uint64
	if c.version == 1 {
		ns, err := c.number(filepath.Join(c.cpuDir, "cpuacct.usage"))
		if err != nil {
			return ResourceUsage{}, err
		}
		u.CPUSeconds = float64(ns) / 1e9
		if usage, err = c.number(filepath.Join(c.memDir, "memory.usage_in_bytes")); err != nil {
			return ResourceUsage{}, err
		}
		// total_ counts the cgroup and its descendants, like usage.
		inactiveKey = "total_inactive_file"
	} else {
		us, err := c.key(filepath.Join(c.cpuDir, "cpu.stat"), "usage_usec")
		if err != nil {
			return ResourceUsage{}, err
		}
		u.CPUSeconds = float64(us) / 1e6
		if usage, err = c.number(filepath.Join(c.memDir, "memory.current")); err != nil {
			if errors.Is(err, ErrNotFound) && exists(c.memDir) {
				return ResourceUsage{}, fmt.Errorf("%w: %s has no memory.current: the memory controller is not enabled for it", ErrNotSupported, c.memDir)
			}
			return ResourceUsage{}, err
		}
		inactiveKey = "inactive_file"
	}
	inactive, err := c.key(filepath.Join(c.memDir, "memory.stat"), inactiveKey)
	if err != nil {
		return ResourceUsage{}, err
	}
	u.MemoryBytes = sub(usage, inactive)
	return u, nil
}

// number reads a file holding one unsigned number.
func (c *Cgroup) number(path string) (uint64, error) {
	if err := c.k.read(path); err != nil {
		return 0, readErr(err)
	}
	line, ok := c.k.next()
	if !ok {
		return 0, c.k.missing(filepath.Base(path))
	}
	v, ok := parseUint(bytes.TrimSpace(line))
	if !ok {
		return 0, c.k.errorf(filepath.Base(path), line, errNotNumber)
	}
	return v, nil
}

// key reads the value of one "key value" line.
func (c *Cgroup) key(path, key string) (uint64, error) {
	if err := c.k.read(path); err != nil {
		return 0, readErr(err)
	}
	for {
		_, f, ok := c.k.nextFields()
		if !ok {
			return 0, c.k.missing(key)
		}
		if len(f) != 2 || string(f[0]) != key {
			continue
		}
		v, ok := parseUint(f[1])
		if !ok {
			return 0, c.k.errorf(key, f[1], errNotNumber)
		}
		return v, nil
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, fs.ErrNotExist)
}
