package rootfs_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/gleaner/gleaner/internal/testenv"
	"github.com/gleaner/gleaner/rootfs"
)

func TestMain(m *testing.M) {
	// Start re-executes this test binary as the launch helper.
	rootfs.Init()
	if arg := os.Getenv(orphanEnv); arg != "" {
		orphanMain(arg)
	}
	if root := os.Getenv(pid1Env); root != "" {
		pid1Main(root)
	}
	if arg := os.Getenv(groupsEnv); arg != "" {
		groupsMain(arg)
	}
	dir, err := os.MkdirTemp("", "gleaner-test-rootfs-helper-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	// Tests that go through run use the real helper; those that call
	// Start directly re-execute this binary (through Init above).
	if helperPath, err = testenv.BuildProgram(rootfs.HelperPackage, dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if probePath, err = testenv.BuildProgram("github.com/gleaner/gleaner/rootfs/internal/probe", dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// helperPath is the launch helper TestMain built, probePath the program
// that tries what a sandbox must refuse.
var helperPath, probePath string

// orphanEnv makes the test binary start `sleep` in a root and exit without
// stopping it, so that a test can watch the parent-death signal act.
const orphanEnv = "GLEANER_ROOTFS_TEST_ORPHAN"

func orphanMain(arg string) {
	mode, rest, _ := strings.Cut(arg, ":")
	root, pidfile, _ := strings.Cut(rest, ":")
	m, _ := strconv.Atoi(mode)
	p, err := rootfs.Start(context.Background(), rootfs.Spec{Root: root, Mode: rootfs.LaunchMode(m), Args: []string{"/bin/sleep", "100"}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	os.WriteFile(pidfile, []byte(strconv.Itoa(p.Pid())), 0o644)
	os.Exit(0)
}

// pid1Env makes the test binary, started as PID 1 of a new PID namespace
// (as an agent in a container is), launch `true` in chroot mode.
const pid1Env = "GLEANER_ROOTFS_TEST_PID1"

func pid1Main(root string) {
	p, err := rootfs.Start(context.Background(), rootfs.Spec{Root: root, Mode: rootfs.ModeChroot, Args: []string{"/bin/true"}})
	if err != nil {
		fmt.Fprintf(os.Stderr, "pid %d: %v\n", os.Getpid(), err)
		os.Exit(2)
	}
	st, err := p.Wait(context.Background())
	if err != nil || !st.Success() {
		fmt.Fprintf(os.Stderr, "true: %v %v\n", st, err)
		os.Exit(3)
	}
	os.Exit(0)
}

// groupsEnv makes the test binary, started with a supplementary group of
// its own, print the groups of a command it launches: none of its own
// groups may follow the command.
const groupsEnv = "GLEANER_ROOTFS_TEST_GROUPS"

func groupsMain(arg string) {
	mode, rest, _ := strings.Cut(arg, ":")
	userns, root, _ := strings.Cut(rest, ":")
	m, _ := strconv.Atoi(mode)
	spec := rootfs.Spec{Root: root, Mode: rootfs.LaunchMode(m), Helper: os.Getenv("GLEANER_ROOTFS_TEST_HELPER"),
		Args: []string{"/bin/id", "-G"}, StdoutFile: os.Stdout, StderrFile: os.Stderr}
	if uid, _ := strconv.Atoi(userns); uid != 0 {
		spec.UserNamespace = &rootfs.IDMap{HostUID: uint32(uid), HostGID: uint32(uid)}
	} else {
		spec.Credential = &rootfs.Credential{UID: 65534, GID: 65534}
	}
	p, err := rootfs.Start(context.Background(), spec)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if st, err := p.Wait(context.Background()); err != nil || !st.Success() {
		fmt.Fprintln(os.Stderr, st, err)
		os.Exit(3)
	}
	os.Exit(0)
}

// uniqueName returns a per-test name for host-wide objects (cgroups).
func uniqueName(prefix string) string {
	b := make([]byte, 6)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// busyboxApplets are linked into every test root.
var busyboxApplets = []string{"sh", "true", "false", "cat", "ls", "echo", "id", "pwd", "sleep", "test", "touch", "ps", "kill", "wc", "readlink", "env", "mkdir", "rm", "head"}

// buildBusyboxRoot makes a base rootfs directory holding a static busybox
// and its applet links, as an operator's base image would.
func buildBusyboxRoot(t testing.TB, dir string) {
	t.Helper()
	bb := testenv.RequireBinary(t, "busybox")
	data, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"bin", "etc", "proc", "dev", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "bin", "busybox"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, a := range busyboxApplets {
		if err := os.Symlink("busybox", filepath.Join(dir, "bin", a)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "etc", "base-release"), []byte("busybox-base 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// tarEntry is one entry of a hand-built test archive.
type tarEntry struct {
	name     string
	typ      byte
	body     string
	size     int64 // when body is empty and size > 0: that many zero bytes
	link     string
	mode     int64
	devMajor int64
}

func buildTar(t testing.TB, entries []tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.link, Mode: e.mode, Devmajor: e.devMajor, Format: tar.FormatPAX}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if e.typ == tar.TypeReg {
			h.Size = int64(len(e.body))
			if e.body == "" {
				h.Size = e.size
			}
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if e.typ == tar.TypeReg {
			if e.body != "" {
				tw.Write([]byte(e.body))
			} else if e.size > 0 {
				zero := make([]byte, 1<<20)
				for left := e.size; left > 0; {
					n := min(left, int64(len(zero)))
					tw.Write(zero[:n])
					left -= n
				}
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// snapshot lists every path under dir with its type and content, to prove
// that nothing changed.
func snapshot(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		line := rel + " " + d.Type().String()
		if d.Type().IsRegular() {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			line += " " + string(data)
		}
		out = append(out, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// net0 listens on a free loopback port.
type net0 struct{}

func (net0) listen() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }
