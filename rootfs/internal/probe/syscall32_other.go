//go:build linux && !amd64

package main

import "errors"

// getpid32 needs the x86 32-bit entry point.
func getpid32() (string, error) {
	return "", errors.New("UNSUPPORTED: no 32-bit entry point on this architecture")
}
