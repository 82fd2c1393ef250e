package testenv

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
)

// fakeTB records what a helper asked of the test instead of stopping it.
type fakeTB struct {
	skipped, failed string
}

func (f *fakeTB) Helper()                           {}
func (f *fakeTB) Skipf(format string, args ...any)  { f.skipped = fmt.Sprintf(format, args...) }
func (f *fakeTB) Fatalf(format string, args ...any) { f.failed = fmt.Sprintf(format, args...) }

func fakeHost(privileged bool) host {
	return host{
		privileged: func() bool { return privileged },
		euid:       func() int { return 1000 },
		lookPath:   func(name string) (string, error) { return "", errors.New("not found") },
		mounts: func() ([]mount, error) {
			return []mount{
				{point: "/sys/fs/cgroup/cpu", fsType: "cgroup", options: []string{"rw", "cpu"}},
				{point: "/sys/fs/cgroup/unified", fsType: "cgroup2", options: []string{"rw"}},
			}, nil
		},
		readFile: func(string) ([]byte, error) { return []byte("cpu io\n"), nil },
		userNS:   func() error { return errors.New("user namespaces disabled") },
		mountNS:  func() error { return nil },
	}
}

func TestMissingSkipsOrFails(t *testing.T) {
	for _, tc := range []struct {
		name       string
		privileged bool
		check      func(h host, t tb)
		want       string // substring of the reason; "" means nothing missing
	}{
		{"non-root skips", false, func(h host, t tb) { h.requireRoot(t) }, "needs root, running as uid 1000"},
		{"non-root fails when privileged is required", true, func(h host, t tb) { h.requireRoot(t) }, "needs root"},
		{"missing binary names it", false, func(h host, t tb) { h.requireBinary(t, "patchelf") }, `"patchelf"`},
		{"missing binary fails when privileged is required", true, func(h host, t tb) { h.requireBinary(t, "gcc") }, `"gcc"`},
		{"user namespaces refused", true, func(h host, t tb) { h.requireNamespace(t, "user", h.userNS) }, "user namespaces disabled"},
		{"mount namespace available", true, func(h host, t tb) { h.requireNamespace(t, "mount", h.mountNS) }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := fakeHost(tc.privileged)
			f := &fakeTB{}
			tc.check(h, f)
			switch {
			case tc.want == "":
				if f.skipped != "" || f.failed != "" {
					t.Fatalf("nothing is missing, yet skipped=%q failed=%q", f.skipped, f.failed)
				}
			case tc.privileged:
				if f.skipped != "" || !strings.Contains(f.failed, tc.want) || !strings.Contains(f.failed, PrivilegedEnv) {
					t.Fatalf("want a failure mentioning %q and %s, got skipped=%q failed=%q", tc.want, PrivilegedEnv, f.skipped, f.failed)
				}
			default:
				if f.failed != "" || !strings.Contains(f.skipped, tc.want) {
					t.Fatalf("want a skip mentioning %q, got skipped=%q failed=%q", tc.want, f.skipped, f.failed)
				}
			}
		})
	}
}

func TestCgroupRequirements(t *testing.T) {
	root := func(h host) host { h.euid = func() int { return 0 }; return h }
	for _, tc := range []struct {
		name  string
		check func(h host, t tb) bool
		want  string
	}{
		{"v1 controller mounted", func(h host, t tb) bool { return h.requireCgroupV1(t, "cpu") }, ""},
		{"v1 controller absent is named", func(h host, t tb) bool { return h.requireCgroupV1(t, "cpu", "memory", "pids") }, "memory,pids"},
		{"v2 controller enabled", func(h host, t tb) bool { return h.requireCgroupV2(t, "cpu") != "" }, ""},
		{"v2 controller bound elsewhere", func(h host, t tb) bool { return h.requireCgroupV2(t, "memory") != "" }, "memory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeTB{}
			ok := tc.check(root(fakeHost(false)), f)
			if tc.want == "" {
				if !ok || f.skipped != "" {
					t.Fatalf("want available, got ok=%v skipped=%q", ok, f.skipped)
				}
				return
			}
			if ok || !strings.Contains(f.skipped, tc.want) {
				t.Fatalf("want a skip naming %q, got ok=%v skipped=%q", tc.want, ok, f.skipped)
			}
		})
	}

	t.Run("cgroups need root first", func(t *testing.T) {
		f := &fakeTB{}
		if fakeHost(false).requireCgroupV1(f, "cpu") || !strings.Contains(f.skipped, "root") {
			t.Fatalf("want a skip for root, got %q", f.skipped)
		}
	})
	t.Run("no v1 hierarchy on a unified host", func(t *testing.T) {
		h := root(fakeHost(true))
		h.mounts = func() ([]mount, error) { return []mount{{point: "/sys/fs/cgroup", fsType: "cgroup2"}}, nil }
		f := &fakeTB{}
		if h.requireCgroupV1(f) || !strings.Contains(f.failed, "no cgroup v1 hierarchy") {
			t.Fatalf("want a failure, got %q", f.failed)
		}
	})
}

func TestPrivilegedReadsEnvironment(t *testing.T) {
	t.Setenv(PrivilegedEnv, "1")
	if !Privileged() {
		t.Fatal("Privileged() = false with GLEANER_REQUIRE_PRIVILEGED=1")
	}
	t.Setenv(PrivilegedEnv, "")
	if Privileged() {
		t.Fatal("Privileged() = true with the variable empty")
	}
}

func TestLiveMountsParse(t *testing.T) {
	if _, err := os.Stat("/proc/self/mounts"); err != nil {
		t.Skipf("no /proc/self/mounts: %v", err)
	}
	ms, err := readMounts()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.point == "/" || m.point == "/proc" {
			return
		}
	}
	t.Fatalf("neither / nor /proc among %d mounts", len(ms))
}

func TestFreePortListens(t *testing.T) {
	p := FreePort(t)
	if p <= 0 || p > 65535 {
		t.Fatalf("port %d out of range", p)
	}
}

func TestTempDirOnDiskIsNotTmpfs(t *testing.T) {
	d := TempDirOnDisk(t)
	if onTmpfs(d) {
		t.Fatalf("%s is on tmpfs", d)
	}
	if err := os.WriteFile(d+"/f", []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
}
