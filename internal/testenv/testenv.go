// Package testenv holds the helpers every Gleaner package's tests use to
// decide whether the machine has what a test needs (root, cgroups, a binary,
// namespaces, 32-bit execution) and to wait for a condition.
//
// Each Require function probes the real machine and, when the thing is
// missing, skips the test with the reason. What happens under
// GLEANER_REQUIRE_PRIVILEGED=1 (CI sets it) depends on what is missing:
//
//   - Set-up: root, cgroup controllers of a mounted cgroup version, user and
//     mount namespaces, and every tool scripts/test installs (gcc, gcc -m32,
//     readelf, patchelf, versitygw, ip, chromium, ...). The CI machine is set
//     up to have them, so their absence there fails the test instead of
//     skipping it: a CI run cannot go green by skipping the tests that
//     exercise real kernels. Missing reports these.
//   - Properties of the kernel or CPU that no set-up step changes: executing
//     32-bit x86 programs (a kernel without IA32 emulation refuses them with
//     ENOEXEC, a non-x86 CPU cannot run them), a cgroup version the host does
//     not mount (v1 on a unified host, v2 on a legacy one), and executing
//     big-endian programs (no test does: the big-endian tests only read and
//     edit files). These always skip, under the switch too, and the skip
//     says so. Unsupported reports these.
//   - Data that CI lays beside the clone (the public traces in
//     ../shared/traces): RequireData fails when CI=true and skips elsewhere,
//     since a developer's checkout need not have it.
//
// A machine that has a property can still rehearse its absence:
// GLEANER_TESTENV_ABSENT (see AbsentEnv) names probes to report absent, so
// `GLEANER_TESTENV_ABSENT=exec32 .ci/run` shows what a kernel without 32-bit
// execution runs and skips.
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

// PrivilegedEnv is the environment variable that turns skips for missing
// set-up into failures.
const PrivilegedEnv = "GLEANER_REQUIRE_PRIVILEGED"

// AbsentEnv is the environment variable that makes probes of kernel or CPU
// properties report the property absent although the machine has it, so the
// path a machine without it takes can be rehearsed on any machine. Its value
// is a comma-separated list of probe names:
//
//   - exec32: 32-bit x86 programs cannot be executed (RequireExec32; the
//     probe program is still built, so a missing gcc -m32 still fails
//     under the privileged switch)
//   - cgroup1: no cgroup v1 hierarchy is mounted (RequireCgroupV1)
//   - cgroup2: no cgroup v2 hierarchy is mounted (RequireCgroupV2)
//
// An unknown name fails every test that consults the list: a typo must not
// turn a rehearsal into a normal run.
const AbsentEnv = "GLEANER_TESTENV_ABSENT"

// Probe names accepted in AbsentEnv.
const (
	ProbeExec32  = "exec32"
	ProbeCgroup1 = "cgroup1"
	ProbeCgroup2 = "cgroup2"
)

var probes = []string{ProbeExec32, ProbeCgroup1, ProbeCgroup2}

// CIEnv is the environment variable CI sets to "true" (.ci/run does).
const CIEnv = "CI"

// Privileged reports whether GLEANER_REQUIRE_PRIVILEGED=1 is set, that is,
// whether missing set-up must fail tests rather than skip them.
func Privileged() bool { return os.Getenv(PrivilegedEnv) == "1" }

// CI reports whether the tests run in CI (CI=true).
func CI() bool { return os.Getenv(CIEnv) == "true" }

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
	ci         func() bool
	// absent returns the value of GLEANER_TESTENV_ABSENT.
	absent   func() string
	euid     func() int
	lookPath func(name string) (string, error)
	// mounts returns /proc/self/mounts.
	mounts func() ([]mount, error)
	// readFile reads a file such as cgroup.controllers.
	readFile func(path string) ([]byte, error)
	stat     func(path string) (os.FileInfo, error)
	userNS   func() error
	mountNS  func() error
	exec32   func() exec32Result
}

type mount struct {
	point   string
	fsType  string
	options []string
}

var live = host{
	privileged: Privileged,
	ci:         CI,
	absent:     func() string { return os.Getenv(AbsentEnv) },
	euid:       os.Geteuid,
	lookPath:   exec.LookPath,
	mounts:     readMounts,
	readFile:   os.ReadFile,
	stat:       os.Stat,
	userNS:     probeUserNamespaces,
	mountNS:    probeMountNamespace,
	exec32:     probeExec32Once,
}

// Missing skips t with the reason, or fails it under
// GLEANER_REQUIRE_PRIVILEGED=1: for set-up that the test script or CI
// provides (a tool, a privilege, a kernel feature the CI machine has).
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	live.missing(t, format, args...)
}

// Unsupported skips t with the reason, under GLEANER_REQUIRE_PRIVILEGED=1 too:
// for properties of the kernel, CPU or C library that no set-up step can
// change.
func Unsupported(t testing.TB, format string, args ...any) {
	t.Helper()
	unsupported(t, format, args...)
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

func unsupported(t tb, format string, args ...any) {
	t.Helper()
	t.Skipf("%s (a property of this machine, not set-up: skipped even with %s=1)", fmt.Sprintf(format, args...), PrivilegedEnv)
}

// reportedAbsent reports whether GLEANER_TESTENV_ABSENT names probe; an
// unknown name in the list is an error.
func (h host) reportedAbsent(probe string) (bool, error) {
	found := false
	for name := range strings.SplitSeq(h.absent(), ",") {
		name = strings.TrimSpace(name)
		switch {
		case name == "":
		case !slices.Contains(probes, name):
			return false, fmt.Errorf("%s=%q: unknown probe %q (known: %s)", AbsentEnv, h.absent(), name, strings.Join(probes, ", "))
		case name == probe:
			found = true
		}
	}
	return found, nil
}

// absentByEnv reports, through t, whether probe is reported absent by
// GLEANER_TESTENV_ABSENT (skipping t) or the list is malformed (failing t).
func (h host) absentByEnv(t tb, probe, what string) bool {
	t.Helper()
	absent, err := h.reportedAbsent(probe)
	if err != nil {
		t.Fatalf("%v", err)
		return true
	}
	if absent {
		unsupported(t, "test needs %s, reported absent by %s=%s", what, AbsentEnv, h.absent())
	}
	return absent
}

// RequireData returns path when it exists. Otherwise it fails t when CI=true
// (CI provides the data, so its absence there is a broken run) and skips it
// elsewhere; what names the data and where it comes from.
func RequireData(t testing.TB, path, what string) string {
	t.Helper()
	return live.requireData(t, path, what)
}

func (h host) requireData(t tb, path, what string) string {
	t.Helper()
	if _, err := h.stat(path); err != nil {
		if h.ci() {
			t.Fatalf("%s: %v (%s=true: CI provides it, so its absence fails)", what, err, CIEnv)
			return ""
		}
		t.Skipf("%s: %v (fails instead when %s=true)", what, err, CIEnv)
		return ""
	}
	return path
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
// mode). With no controllers it only requires some v1 hierarchy. A host that
// mounts no v1 hierarchy at all (a unified one) skips even under the
// privileged switch: the cgroup version is the host's choice, not set-up.
func RequireCgroupV1(t testing.TB, controllers ...string) {
	t.Helper()
	live.requireCgroupV1(t, controllers...)
}

func (h host) requireCgroupV1(t tb, controllers ...string) bool {
	t.Helper()
	if !h.requireRoot(t) || h.absentByEnv(t, ProbeCgroup1, "cgroup v1") {
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
		unsupported(t, "test needs cgroup v1, but no cgroup v1 hierarchy is mounted")
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
// (listed in cgroup.controllers). It returns the mount point. A host that
// mounts no cgroup2 hierarchy (a legacy one) skips even under the privileged
// switch.
func RequireCgroupV2(t testing.TB, controllers ...string) string {
	t.Helper()
	return live.requireCgroupV2(t, controllers...)
}

func (h host) requireCgroupV2(t tb, controllers ...string) string {
	t.Helper()
	if !h.requireRoot(t) || h.absentByEnv(t, ProbeCgroup2, "cgroup v2") {
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
		unsupported(t, "test needs cgroup v2, but no cgroup2 hierarchy is mounted")
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
