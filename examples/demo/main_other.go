//go:build !linux

package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "demo: Gleaner's agents need Linux (cgroups, namespaces); run the demo on Linux")
	os.Exit(1)
}
