//go:build !linux

package testenv

import (
	"errors"
	"runtime"
)

var errNotLinux = errors.New("namespaces exist only on Linux, this is " + runtime.GOOS)

func probeUserNamespaces() error   { return errNotLinux }
func probeMountNamespace() error   { return errNotLinux }
func probeNetworkNamespace() error { return errNotLinux }
func probeCgroupNamespace() error  { return errNotLinux }
func probeSeccomp() error          { return errNotLinux }
func onTmpfs(string) bool          { return false }

// probeExec32Once: whether a kernel other than Linux runs 32-bit x86
// programs is not probed; the tests that execute them are Linux tests.
func probeExec32Once() exec32Result {
	return exec32Result{unsupported: "32-bit execution is probed on Linux only, this is " + runtime.GOOS}
}
