//go:build linux

package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gleaner/gleaner/internal/testenv"
)

// network is a bridge in the test's own network namespace with one network
// namespace per simulated host behind it, each joined by a veth pair: the
// agents of a test get their own addresses and their own loopback, as on
// separate machines, and reach the master and etcd at the bridge address.
type network struct {
	ip      string // path of the ip tool
	nsenter string
	name    string // unique prefix of every interface and namespace
	bridge  string
	subnet  string // "10.A.B"
	hosts   int
}

// host is one network namespace behind the bridge.
type host struct {
	NS   string // name for "ip netns exec"
	Addr string // its address on the bridge
}

// newNetwork creates the bridge on a random 10.x.y.0/24 that no interface of
// this machine uses yet, with address 10.x.y.1. Everything is removed when
// the test ends.
func newNetwork(t *testing.T) *network {
	t.Helper()
	testenv.RequireRoot(t)
	ip := testenv.RequireBinary(t, "ip")
	nsenter := testenv.RequireBinary(t, "nsenter")
	var b [3]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	// Interface names are at most 15 bytes: "gle" + 6 hex + "b"/"h<n>".
	n := &network{ip: ip, nsenter: nsenter, name: "gle" + hex.EncodeToString(b[:])}
	n.bridge = n.name + "b"
	n.subnet = freeSubnet(t)
	n.run(t, "link", "add", n.bridge, "type", "bridge")
	t.Cleanup(func() { n.quiet("link", "del", n.bridge) })
	n.run(t, "addr", "add", n.subnet+".1/24", "dev", n.bridge)
	n.run(t, "link", "set", n.bridge, "up")
	return n
}

// Addr is the bridge's address: where hosts reach the test process.
func (n *network) Addr() string { return n.subnet + ".1" }

// addHost creates a network namespace with a veth pair into the bridge and
// address 10.x.y.(10+k), its loopback up.
func (n *network) addHost(t *testing.T) host {
	t.Helper()
	n.hosts++
	k := n.hosts
	h := host{NS: fmt.Sprintf("%sh%d", n.name, k), Addr: fmt.Sprintf("%s.%d", n.subnet, 10+k)}
	outer, inner := fmt.Sprintf("%sv%d", n.name, k), fmt.Sprintf("%sp%d", n.name, k)
	n.run(t, "netns", "add", h.NS)
	// Deleting the namespace destroys the veth end inside it, and with it
	// the pair.
	t.Cleanup(func() { n.quiet("netns", "del", h.NS) })
	n.run(t, "link", "add", outer, "type", "veth", "peer", "name", inner)
	n.run(t, "link", "set", outer, "master", n.bridge, "up")
	n.run(t, "link", "set", inner, "netns", h.NS)
	n.run(t, "-n", h.NS, "addr", "add", h.Addr+"/24", "dev", inner)
	n.run(t, "-n", h.NS, "link", "set", inner, "up")
	n.run(t, "-n", h.NS, "link", "set", "lo", "up")
	return h
}

// Command returns a command that runs name with args inside h's network
// namespace. It enters only the network namespace (nsenter), not what "ip
// netns exec" sets up: that also remounts /sys, which would hide the cgroup
// hierarchies from agents.
func (n *network) Command(h host, name string, args ...string) *exec.Cmd {
	return exec.Command(n.nsenter, append([]string{"--net=/run/netns/" + h.NS, "--", name}, args...)...)
}

func (n *network) run(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(n.ip, args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

func (n *network) quiet(args ...string) { _ = exec.Command(n.ip, args...).Run() }

// freeSubnet picks a 10.x.y.0/24 that overlaps no network of this machine:
// none of its interfaces' networks and none of its IPv4 routes but the
// default one, so that the bridge's route shadows nothing the machine
// reaches (other tests may be creating networks at the same time; the
// random pick makes a clash unlikely, the check makes it impossible with
// what exists).
func freeSubnet(t *testing.T) string {
	t.Helper()
	var used []*net.IPNet
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil {
			used = append(used, ipn)
		}
	}
	used = append(used, ipv4Routes(t)...)
	for range 100 {
		x, _ := rand.Int(rand.Reader, big.NewInt(200))
		y, _ := rand.Int(rand.Reader, big.NewInt(254))
		cand := &net.IPNet{IP: net.IPv4(10, byte(20+x.Int64()), byte(1+y.Int64()), 0).To4(), Mask: net.CIDRMask(24, 32)}
		if !slices.ContainsFunc(used, func(n *net.IPNet) bool { return n.Contains(cand.IP) || cand.Contains(n.IP) }) {
			return fmt.Sprintf("%d.%d.%d", cand.IP[0], cand.IP[1], cand.IP[2])
		}
	}
	t.Fatal("no free 10.x.y.0/24 subnet")
	return ""
}

// ipv4Routes returns the destinations of the IPv4 routes in
// /proc/net/route, except the default route.
func ipv4Routes(t *testing.T) []*net.IPNet {
	t.Helper()
	data, err := os.ReadFile("/proc/net/route")
	if err != nil {
		t.Fatal(err)
	}
	var out []*net.IPNet
	for _, line := range strings.Split(string(data), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 8 {
			continue
		}
		// Destination and Mask are hexadecimal in host (little-endian) order.
		dst, err1 := strconv.ParseUint(f[1], 16, 32)
		mask, err2 := strconv.ParseUint(f[7], 16, 32)
		if err1 != nil || err2 != nil || mask == 0 {
			continue
		}
		le := func(v uint64) []byte { return []byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)} }
		out = append(out, &net.IPNet{IP: net.IP(le(dst)), Mask: net.IPMask(le(mask))})
	}
	return out
}
