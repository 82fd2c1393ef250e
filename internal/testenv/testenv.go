// Package testenv holds the helpers every Gleaner package's tests use to
// decide whether the machine has what a test needs: root, cgroups, a binary,
// namespaces.
//
// Each Require function skips the test with a reason when the thing is
// missing. When GLEANER_REQUIRE_PRIVILEGED=1 (CI sets it) the same reason
// fails the test instead, so a CI run cannot go green by skipping the tests
// that exercise real kernels.
//
//	func TestTaskCgroup(t *testing.T) {
//		testenv.RequireCgroupV1(t, "cpu", "memory")
//		...
//	}
package testenv

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// PrivilegedEnv is the environment variable that turns skips into failures.
const PrivilegedEnv = "GLEANER_REQUIRE_PRIVILEGED"

// Privileged reports whether GLEANER_REQUIRE_PRIVILEGED=1 is set, that is,
// whether missing capabilities must fail tests rather than skip them.
func Privileged() bool { return os.Getenv(PrivilegedEnv) == "1" }

// tb is the part of testing.TB these helpers use; testing.TB itself cannot be
// implemented outside the testing package, and the fail-vs-skip switch needs a
// fake to be tested.
type tb interface {
	Helper()
	Skipf(format string, args ...any)
	Fatalf(format string, args ...any)
}

// host is the set of probes the helpers consult. The live host reads the real
// machine; tests substitute a fake one.
type host struct {
	privileged func() bool
	euid       func() int
	lookPath   func(name string) (string, error)
	// mounts returns /proc/self/mounts.
	mounts func() ([]mount, error)
	// readFile reads a file such as cgroup.controllers.
	readFile func(path string) ([]byte, error)
	userNS   func() error
	mountNS  func() error
}

type mount struct {
	point   string
	fsType  string
	options []string
}

var live = host{
	privileged: Privileged,
	euid:       os.Geteuid,
	lookPath:   exec.LookPath,
	mounts:     readMounts,
	readFile:   os.ReadFile,
	userNS:     probeUserNamespaces,
	mountNS:    probeMountNamespace,
}

// missing skips or fails t with reason, depending on the privileged switch.
func (h host) missing(t tb, format string, args ...any) {
	t.Helper()
	reason := fmt.Sprintf(format, args...)
	if h.privileged() {
		t.Fatalf("%s (%s=1: failing instead of skipping)", reason, PrivilegedEnv)
		return
	}
	t.Skipf("%s (set %s=1 to make this a failure)", reason, PrivilegedEnv)
}

// RequireRoot skips (or fails) t unless the test runs as root.
func RequireRoot(t testing.TB) {
	t.Helper()
	live.requireRoot(t)
}

func (h host) requireRoot(t tb) bool {
	t.Helper()
	if uid := h.euid(); uid != 0 {
		h.missing(t, "test needs root, running as uid %d", uid)
		return false
	}
	return true
}

// RequireBinary skips (or fails) t unless name is found in PATH, and returns
// its path.
func RequireBinary(t testing.TB, name string) string {
	t.Helper()
	return live.requireBinary(t, name)
}

func (h host) requireBinary(t tb, name string) string {
	t.Helper()
	path, err := h.lookPath(name)
	if err != nil {
		h.missing(t, "test needs the %q binary: %v", name, err)
		return ""
	}
	return path
}

// RequireCgroupV1 skips (or fails) t unless the test runs as root and every
// named controller is mounted as a cgroup v1 hierarchy (legacy or hybrid
// mode). With no controllers it only requires some v1 hierarchy.
func RequireCgroupV1(t testing.TB, controllers ...string) {
	t.Helper()
	live.requireCgroupV1(t, controllers...)
}

func (h host) requireCgroupV1(t tb, controllers ...string) bool {
	t.Helper()
	if !h.requireRoot(t) {
		return false
	}
	mounts, err := h.mounts()
	if err != nil {
		h.missing(t, "cannot list mounts to find cgroup v1: %v", err)
		return false
	}
	mounted := map[string]bool{}
	found := false
	for _, m := range mounts {
		if m.fsType != "cgroup" {
			continue
		}
		found = true
		for _, o := range m.options {
			mounted[o] = true
		}
	}
	if !found {
		h.missing(t, "test needs cgroup v1, but no cgroup v1 hierarchy is mounted")
		return false
	}
	var absent []string
	for _, c := range controllers {
		if !mounted[c] {
			absent = append(absent, c)
		}
	}
	if len(absent) > 0 {
		h.missing(t, "test needs cgroup v1 controllers %s, not mounted", strings.Join(absent, ","))
		return false
	}
	return true
}

// RequireCgroupV2 skips (or fails) t unless the test runs as root, a cgroup v2
// hierarchy is mounted, and every named controller is available at its root
// (listed in cgroup.controllers). It returns the mount point.
func RequireCgroupV2(t testing.TB, controllers ...string) string {
	t.Helper()
	return live.requireCgroupV2(t, controllers...)
}

func (h host) requireCgroupV2(t tb, controllers ...string) string {
	t.Helper()
	if !h.requireRoot(t) {
		return ""
	}
	mounts, err := h.mounts()
	if err != nil {
		h.missing(t, "cannot list mounts to find cgroup v2: %v", err)
		return ""
	}
	point := ""
	for _, m := range mounts {
		if m.fsType == "cgroup2" {
			point = m.point
			break
		}
	}
	if point == "" {
		h.missing(t, "test needs cgroup v2, but no cgroup2 hierarchy is mounted")
		return ""
	}
	data, err := h.readFile(filepath.Join(point, "cgroup.controllers"))
	if err != nil {
		h.missing(t, "cannot read cgroup v2 controllers at %s: %v", point, err)
		return ""
	}
	available := strings.Fields(string(data))
	var absent []string
	for _, c := range controllers {
		if !slices.Contains(available, c) {
			absent = append(absent, c)
		}
	}
	if len(absent) > 0 {
		h.missing(t, "test needs cgroup v2 controllers %s, not enabled at %s (hybrid mode binds them to v1)", strings.Join(absent, ","), point)
		return ""
	}
	return point
}

// RequireUserNamespaces skips (or fails) t unless the process can create a
// user namespace.
func RequireUserNamespaces(t testing.TB) {
	t.Helper()
	live.requireNamespace(t, "user", live.userNS)
}

// RequireMountNamespace skips (or fails) t unless the process can create a
// mount namespace (which needs root or a user namespace).
func RequireMountNamespace(t testing.TB) {
	t.Helper()
	live.requireNamespace(t, "mount", live.mountNS)
}

func (h host) requireNamespace(t tb, kind string, probe func() error) bool {
	t.Helper()
	if err := probe(); err != nil {
		h.missing(t, "test needs %s namespaces: %v", kind, err)
		return false
	}
	return true
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
// Prefer listening on port 0 directly where the code under test allows it;
// this is for programs that must be told a port before they start.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TempDirOnDisk returns a temporary directory on a disk-backed file system
// (not tmpfs), removed when the test ends. Disk-usage tests need it: tmpfs
// accounts blocks differently and may be tiny.
func TempDirOnDisk(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if !onTmpfs(dir) {
		return dir
	}
	for _, base := range []string{os.Getenv("GLEANER_DISK_TMPDIR"), "/var/tmp"} {
		if base == "" || onTmpfs(base) {
			continue
		}
		d, err := os.MkdirTemp(base, "gleaner-test-")
		if err != nil {
			continue
		}
		t.Cleanup(func() { os.RemoveAll(d) })
		return d
	}
	t.Fatalf("no disk-backed temporary directory: %s is tmpfs and so is /var/tmp; set GLEANER_DISK_TMPDIR", dir)
	return ""
}

// readMounts parses /proc/self/mounts: four space-separated fields are all
// that is needed here, and this package must not pull heavier dependencies
// into every test binary.
func readMounts() ([]mount, error) {
	f, err := os.Open("/proc/self/mounts")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []mount
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 4 {
			continue
		}
		out = append(out, mount{point: fields[1], fsType: fields[2], options: strings.Split(fields[3], ",")})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, errors.New("/proc/self/mounts is empty")
	}
	return out, nil
}
