//go:build linux

package main

import (
	"strconv"
	"syscall"
)

// int80 makes a system call through the 32-bit entry point (int $0x80),
// with no arguments; it returns the raw result (-errno on failure).
func int80(trap uintptr) uintptr

// getpid32 calls getpid through the 32-bit entry point (i386 number 20): a
// seccomp filter written for x86-64 numbers must refuse every such call,
// or a task could reach mount, ptrace and the rest by their i386 numbers.
func getpid32() (string, error) {
	r := int(int80(20))
	if r < 0 && r > -4096 {
		return "", syscall.Errno(-r)
	}
	return "pid=" + strconv.Itoa(r), nil
}
