//go:build linux

package e2e

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/gleaner/gleaner/rootfs"
)

// roleEnv makes the test binary, re-executed, play one part of the cluster
// (a master or an agent in a network namespace) instead of running tests:
// a process that can be killed and restarted like the real programs.
const roleEnv = "GLEANER_E2E_ROLE"

func TestMain(m *testing.M) {
	rootfs.Init()
	if role := os.Getenv(roleEnv); role != "" {
		if err := runRole(role); err != nil {
			fmt.Fprintf(os.Stderr, "e2e %s: %v\n", role, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func runRole(role string) error {
	switch role {
	case "master":
		return runMaster()
	case "agent":
		return runAgent()
	case "hog":
		return hog()
	case "reservation":
		return putReservation()
	case "dial":
		c, err := net.Dial("tcp", os.Getenv("GLEANER_E2E_ADDR"))
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Write([]byte("hello"))
		return err
	}
	return fmt.Errorf("unknown role %q", role)
}

// hog is the business load of the spike test: it spins one CPU at once and,
// when a line "mem N" arrives on stdin, maps and populates N MiB more. It
// writes "ok" after each step and runs until killed.
func hog() error {
	var spins atomic.Uint64
	go func() {
		for {
			spins.Add(1)
		}
	}()
	var held [][]byte
	fmt.Println("ok")
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		var mib int
		if _, err := fmt.Sscanf(in.Text(), "mem %d", &mib); err != nil {
			return err
		}
		// Populated by the kernel, not touched from Go: the race
		// detector's shadow of written heap would add memory the test
		// does not ask for.
		b, err := unix.Mmap(-1, 0, mib<<20, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_POPULATE)
		if err != nil {
			return fmt.Errorf("mem %d: %w", mib, err)
		}
		held = append(held, b)
		fmt.Println("ok")
	}
	_ = held
	select {}
}
