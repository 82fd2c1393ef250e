//go:build !linux

package testenv

import (
	"errors"
	"runtime"
)

var errNotLinux = errors.New("namespaces exist only on Linux, this is " + runtime.GOOS)

func probeUserNamespaces() error { return errNotLinux }
func probeMountNamespace() error { return errNotLinux }
func onTmpfs(string) bool        { return false }
