// Command gleaner-init is the launch helper of package rootfs: rootfs.Start
// runs it to enter a task's root and drop its privileges before exec'ing the
// task's command, and, when the command is PID 1 of its own namespace, it
// stays as the command's init (it forwards signals and reaps orphans).
//
// It is a separate, small program so that a launch pays for its start (the
// Go runtime's, half a millisecond on a slow virtual machine) rather than
// for re-executing the whole agent. Install it
// next to the program that calls rootfs.Start (rootfs.HelperName; the agent's
// install does) or name it in rootfs.Spec.Helper:
//
//	go build -o /opt/gleaner-agent/bin/gleaner-init github.com/gleaner/gleaner/rootfs/cmd/gleaner-init
//
// Run by hand it does nothing and exits with status 127.
package main

import "github.com/gleaner/gleaner/rootfs/internal/sandbox"

func main() { sandbox.Main() }
