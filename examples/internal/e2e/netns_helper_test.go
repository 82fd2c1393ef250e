//go:build linux

package e2e

import (
	"io"
	"net"
	"os"
	"testing"
)

// TestNetworkHostsHaveTheirOwnAddresses checks the harness itself: a process
// in each namespace reaches the test at the bridge address and is seen
// coming from its own address, as a separate machine would be.
func TestNetworkHostsHaveTheirOwnAddresses(t *testing.T) {
	n := newNetwork(t)
	l, err := net.Listen("tcp", n.Addr()+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for range 2 {
		h := n.addHost(t)
		cmd := n.Command(h, os.Args[0])
		cmd.Env = append(os.Environ(), roleEnv+"=dial", "GLEANER_E2E_ADDR="+l.Addr().String())
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		c, err := l.Accept()
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(c)
		c.Close()
		if err := cmd.Wait(); err != nil {
			t.Fatalf("dialer in %s: %v", h.NS, err)
		}
		from := c.RemoteAddr().(*net.TCPAddr).IP.String()
		if from != h.Addr || string(got) != "hello" {
			t.Errorf("host %s: got %q from %s, want \"hello\" from %s", h.NS, got, from, h.Addr)
		}
	}
}
