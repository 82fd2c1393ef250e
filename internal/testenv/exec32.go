package testenv

import (
	"errors"
	"fmt"
	"testing"
)

// exec32Result is what the 32-bit probe found. The probe builds a tiny
// program with gcc -m32 and runs it; building needs the toolchain that
// scripts/test installs, running needs a kernel with IA32 emulation.
type exec32Result struct {
	// unsupported says why this platform cannot run 32-bit x86 code at all
	// (a CPU that is not x86); nothing is built there.
	unsupported string
	// buildErr is why gcc -m32 could not build the probe.
	buildErr error
	// runErr is why the built probe did not run; errENOEXEC when the kernel
	// refused it as an unknown format.
	runErr error
}

// errENOEXEC marks a probe the kernel refused to execute (execve returned
// ENOEXEC): the kernel lacks IA32 emulation, or has it switched off.
var errENOEXEC = errors.New("the kernel refuses to execute 32-bit x86 programs (exec format error)")

// RequireExec32 skips t unless this machine can build (gcc -m32) and execute
// 32-bit x86 programs. The probe runs once per test process.
//
// A kernel that refuses 32-bit programs (ENOEXEC), a CPU that is not x86,
// and GLEANER_TESTENV_ABSENT=exec32 always skip: they are properties of the
// kernel or CPU. A gcc -m32 that cannot build is missing set-up, which
// scripts/test installs: it fails under GLEANER_REQUIRE_PRIVILEGED=1.
//
// Tests of 32-bit files call it right before executing one, after the checks
// that only read the files, so a machine without 32-bit execution still runs
// those.
func RequireExec32(t testing.TB) {
	t.Helper()
	live.requireExec32(t)
}

func (h host) requireExec32(t tb) bool {
	t.Helper()
	r := h.exec32()
	switch {
	case r.unsupported != "":
		unsupported(t, "test executes 32-bit x86 programs: %s", r.unsupported)
		return false
	case r.buildErr != nil:
		h.missing(t, "test executes 32-bit x86 programs, but gcc -m32 cannot build one (scripts/test installs gcc-multilib and libc6-dev-i386): %v", r.buildErr)
		return false
	case h.absentByEnv(t, ProbeExec32, "to execute 32-bit x86 programs"):
		return false
	case errors.Is(r.runErr, errENOEXEC):
		unsupported(t, "test executes 32-bit x86 programs: %v", r.runErr)
		return false
	case r.runErr != nil:
		h.missing(t, "test executes 32-bit x86 programs, but the probe built with gcc -m32 did not run: %v", r.runErr)
		return false
	}
	return true
}

// exec32Source is the probe program; its output proves it ran to the end,
// dynamically linked as the tests' programs are.
const exec32Source = `#include <stdio.h>
int main(void) { printf("%d-bit\n", (int)(8 * sizeof(void *))); return 0; }
`

const exec32Output = "32-bit\n"

func describeRun(out []byte, err error) error {
	if err != nil {
		return fmt.Errorf("%w: %s", err, out)
	}
	return fmt.Errorf("printed %q, want %q", out, exec32Output)
}
