package e2e

import (
	"fmt"
	"net"
	"os"
	"testing"

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
