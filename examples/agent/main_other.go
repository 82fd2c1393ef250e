//go:build !linux

// Command agent is Gleaner's example agent. It runs on Linux only.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "agent: runs on Linux only")
	os.Exit(1)
}
