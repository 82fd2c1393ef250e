package isolate

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/containerd/cgroups/v3"
	"golang.org/x/sys/unix"
)

// v1Controllers are the cgroup v1 controllers isolate uses.
var v1Controllers = []string{"cpu", "cpuacct", "memory", "pids", "freezer", "devices"}

// Detect inspects the host: cgroups.Mode for the layout, then the mounted
// hierarchies and their control files.
func Detect() (Features, error) {
	mode := Mode(cgroups.Mode())
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return Features{Mode: mode}, fmt.Errorf("isolate: detect: %w", err)
	}
	defer f.Close()
	return detect(mode, f)
}

func detect(mode Mode, mountinfo io.Reader) (Features, error) {
	feat := Features{Mode: mode, Mounts: map[string]string{}}
	v1, v2, err := parseCgroupMounts(mountinfo)
	if err != nil {
		return feat, err
	}
	switch mode.Version() {
	case 1:
		for _, c := range v1Controllers {
			mnt, ok := v1[c]
			if !ok || unix.Access(mnt, unix.W_OK) != nil {
				continue
			}
			feat.Controllers = append(feat.Controllers, c)
			feat.Mounts[c] = mnt
		}
		cpu, mem := feat.Mounts["cpu"], feat.Mounts["memory"]
		feat.CPUQuota = cpu != "" && exists(filepath.Join(cpu, "cpu.cfs_quota_us"))
		feat.CPUShares = cpu != "" && exists(filepath.Join(cpu, "cpu.shares"))
		feat.CPUAccounting = feat.Has("cpuacct")
		feat.Memory = mem != ""
		feat.SwapAccounting = mem != "" && exists(filepath.Join(mem, "memory.memsw.limit_in_bytes"))
		feat.Pids = feat.Has("pids")
		feat.Freezer = feat.Has("freezer")
		for _, c := range []string{"cpu", "cpuacct"} {
			if m := feat.Mounts[c]; m != "" && exists(filepath.Join(m, "cpu.pressure")) {
				feat.PSI = true
			}
		}
	case 2:
		if v2 == "" {
			return feat, fmt.Errorf("%w: detect: mode %s but no cgroup2 mount", ErrNotSupported, mode)
		}
		feat.Mounts["unified"] = v2
		data, err := os.ReadFile(filepath.Join(v2, "cgroup.controllers"))
		if err != nil {
			return feat, fmt.Errorf("isolate: detect: %w", err)
		}
		if unix.Access(v2, unix.W_OK) == nil {
			feat.Controllers = strings.Fields(string(data))
		}
		slices.Sort(feat.Controllers)
		// cpu.max exists only below the root: it is there when the kernel
		// has CFS bandwidth control, which any cpu-enabled v2 kernel
		// built with CONFIG_CFS_BANDWIDTH offers. Probe our own cgroup.
		feat.CPUShares = feat.Has("cpu")
		feat.CPUAccounting = true // cpu.stat is always present on v2
		feat.CPUQuota = feat.CPUShares && v2HasFile(v2, "cpu.max", true)
		feat.Memory = feat.Has("memory")
		feat.SwapAccounting = feat.Memory && v2HasFile(v2, "memory.swap.max", true)
		feat.Pids = feat.Has("pids")
		feat.Freezer = true
		feat.PSI = exists(filepath.Join(v2, "cpu.pressure")) || v2HasFile(v2, "cpu.pressure", false)
	}
	slices.Sort(feat.Controllers)
	return feat, nil
}

// v2HasFile looks for name in this process's own cgroup, or, when that is the
// root, in any direct child (control files like cpu.max are absent at the
// root). assume is returned when there is nothing to look at.
func v2HasFile(root, name string, assume bool) bool {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if rest, ok := strings.CutPrefix(line, "0::"); ok && rest != "/" {
				return exists(filepath.Join(root, rest, name))
			}
		}
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		return assume
	}
	for _, e := range entries {
		if e.IsDir() {
			return exists(filepath.Join(root, e.Name(), name))
		}
	}
	return assume
}

// parseCgroupMounts reads mountinfo and returns the v1 controllers' mount
// points and the first cgroup2 mount point. containerd's cgroup1 package
// assumes every hierarchy sits under one directory and exposes no mount map,
// so the detection reads mountinfo itself.
func parseCgroupMounts(r io.Reader) (v1 map[string]string, v2 string, err error) {
	v1 = map[string]string{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		// 36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
		fields := strings.Fields(sc.Text())
		sep := slices.Index(fields, "-")
		if sep < 5 || len(fields) < sep+4 {
			continue
		}
		point, fsType, super := fields[4], fields[sep+1], fields[sep+3]
		switch fsType {
		case "cgroup":
			for _, opt := range strings.Split(super, ",") {
				if slices.Contains(v1Controllers, opt) {
					if _, seen := v1[opt]; !seen {
						v1[opt] = point
					}
				}
			}
		case "cgroup2":
			if v2 == "" {
				v2 = point
			}
		}
	}
	return v1, v2, sc.Err()
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}
