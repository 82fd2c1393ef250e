package monitor

import (
	"fmt"

	"github.com/prometheus/procfs/blockdevice"
	"github.com/prometheus/procfs/sysfs"
	"golang.org/x/sys/unix"
)

// cpuCounter counts the CPUs present under sysRoot/devices/system/cpu.
func cpuCounter(sysRoot string) (func() (int, error), error) {
	fs, err := sysfs.NewFS(sysRoot)
	if err != nil {
		return nil, fmt.Errorf("monitor: sys root: %w", err)
	}
	return func() (int, error) {
		cpus, err := fs.CPUs()
		if err != nil {
			return 0, fmt.Errorf("monitor: count CPUs: %w", err)
		}
		return len(cpus), nil
	}, nil
}

// wholeDisks lists /sys/block, which holds whole devices only (partitions
// live beneath them), minus loop and ram devices.
func wholeDisks(procRoot, sysRoot string) (map[string]bool, error) {
	fs, err := blockdevice.NewFS(procRoot, sysRoot)
	if err != nil {
		return nil, fmt.Errorf("monitor: block devices: %w", err)
	}
	devs, err := fs.SysBlockDevices()
	if err != nil {
		return nil, readErr(fmt.Errorf("list block devices: %w", err))
	}
	out := map[string]bool{}
	for _, d := range devs {
		if isWholeDiskCandidate(d) {
			out[d] = true
		}
	}
	return out, nil
}

// statfs reports the space of the file system mounted at path.
func statfs(path string) (FilesystemSpace, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return FilesystemSpace{}, readErr(fmt.Errorf("statfs %s: %w", path, err))
	}
	bs := uint64(st.Bsize)
	fs := FilesystemSpace{
		MountPoint:     path,
		SizeBytes:      st.Blocks * bs,
		FreeBytes:      st.Bfree * bs,
		AvailableBytes: st.Bavail * bs,
		Files:          st.Files,
		FilesFree:      st.Ffree,
	}
	fs.UsedBytes = sub(fs.SizeBytes, fs.FreeBytes)
	return fs, nil
}
