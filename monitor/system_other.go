//go:build !linux

package monitor

import "fmt"

func cpuCounter(string) (func() (int, error), error) {
	return nil, fmt.Errorf("%w: host sampling needs Linux /proc and /sys", ErrNotSupported)
}

func wholeDisks(string, string) (map[string]bool, error) {
	return nil, fmt.Errorf("%w: host sampling needs Linux /proc and /sys", ErrNotSupported)
}

func statfs(path string) (FilesystemSpace, error) {
	return FilesystemSpace{}, fmt.Errorf("%w: statfs %s", ErrNotSupported, path)
}
