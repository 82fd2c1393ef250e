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
		ci:         func() bool { return false },
		absent:     func() string { return "" },
		stat:       func(string) (os.FileInfo, error) { return nil, os.ErrNotExist },
		exec32:     func() exec32Result { return exec32Result{} },
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
	// The cgroup version is the host's choice: an unmounted one skips even
	// under the privileged switch, while a missing controller of a mounted
	// version is set-up and fails there.
	t.Run("no v1 hierarchy on a unified host skips under the switch", func(t *testing.T) {
		h := root(fakeHost(true))
		h.mounts = func() ([]mount, error) { return []mount{{point: "/sys/fs/cgroup", fsType: "cgroup2"}}, nil }
		f := &fakeTB{}
		if h.requireCgroupV1(f) || f.failed != "" || !strings.Contains(f.skipped, "no cgroup v1 hierarchy") {
			t.Fatalf("want a skip, got skipped=%q failed=%q", f.skipped, f.failed)
		}
	})
	t.Run("no v2 hierarchy on a legacy host skips under the switch", func(t *testing.T) {
		h := root(fakeHost(true))
		h.mounts = func() ([]mount, error) {
			return []mount{{point: "/sys/fs/cgroup/cpu", fsType: "cgroup", options: []string{"cpu"}}}, nil
		}
		f := &fakeTB{}
		if h.requireCgroupV2(f) != "" || f.failed != "" || !strings.Contains(f.skipped, "no cgroup2 hierarchy") {
			t.Fatalf("want a skip, got skipped=%q failed=%q", f.skipped, f.failed)
		}
	})
	t.Run("missing v1 controller fails under the switch", func(t *testing.T) {
		f := &fakeTB{}
		if root(fakeHost(true)).requireCgroupV1(f, "memory") || !strings.Contains(f.failed, "memory") {
			t.Fatalf("want a failure, got skipped=%q failed=%q", f.skipped, f.failed)
		}
	})
	t.Run("cgroup versions reported absent by the environment skip", func(t *testing.T) {
		h := root(fakeHost(true))
		h.absent = func() string { return "cgroup1, cgroup2" }
		for name, check := range map[string]func(f tb) bool{
			"v1": func(f tb) bool { return h.requireCgroupV1(f, "cpu") },
			"v2": func(f tb) bool { return h.requireCgroupV2(f, "cpu") != "" },
		} {
			f := &fakeTB{}
			if check(f) || f.failed != "" || !strings.Contains(f.skipped, AbsentEnv) {
				t.Fatalf("%s: want a skip naming %s, got skipped=%q failed=%q", name, AbsentEnv, f.skipped, f.failed)
			}
		}
	})
}

func TestExec32Requirements(t *testing.T) {
	enoexec := fmt.Errorf("%w: fork/exec probe: exec format error", errENOEXEC)
	for _, tc := range []struct {
		name       string
		privileged bool
		absent     string
		probe      exec32Result
		skip, fail string // substrings; both "" means available
	}{
		{"builds and runs", true, "", exec32Result{}, "", ""},
		{"kernel refuses: skips under the switch", true, "", exec32Result{runErr: enoexec}, "exec format error", ""},
		{"kernel refuses: skips without the switch", false, "", exec32Result{runErr: enoexec}, "exec format error", ""},
		{"not x86: skips under the switch", true, "", exec32Result{unsupported: "a arm64 CPU cannot run them"}, "arm64", ""},
		{"no gcc -m32: fails under the switch", true, "", exec32Result{buildErr: errors.New("cannot find -lc")}, "", "gcc -m32 cannot build"},
		{"no gcc -m32: skips without the switch", false, "", exec32Result{buildErr: errors.New("cannot find -lc")}, "gcc -m32 cannot build", ""},
		{"reported absent: skips under the switch", true, "exec32", exec32Result{}, AbsentEnv + "=exec32", ""},
		{"reported absent among others", true, "cgroup2,exec32", exec32Result{}, "exec32", ""},
		{"reported absent but gcc -m32 missing still fails", true, "exec32", exec32Result{buildErr: errors.New("no gcc")}, "", "gcc -m32 cannot build"},
		{"other probes reported absent do not matter", true, "cgroup1", exec32Result{}, "", ""},
		{"unknown probe name fails", false, "exec-32", exec32Result{}, "", `unknown probe "exec-32"`},
		{"built but crashed fails under the switch", true, "", exec32Result{runErr: errors.New("signal: segmentation fault")}, "", "did not run"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := fakeHost(tc.privileged)
			h.absent = func() string { return tc.absent }
			h.exec32 = func() exec32Result { return tc.probe }
			f := &fakeTB{}
			ok := h.requireExec32(f)
			switch {
			case tc.skip == "" && tc.fail == "":
				if !ok || f.skipped != "" || f.failed != "" {
					t.Fatalf("want available, got ok=%v skipped=%q failed=%q", ok, f.skipped, f.failed)
				}
			case tc.fail != "":
				if ok || f.skipped != "" || !strings.Contains(f.failed, tc.fail) {
					t.Fatalf("want a failure mentioning %q, got ok=%v skipped=%q failed=%q", tc.fail, ok, f.skipped, f.failed)
				}
			default:
				if ok || f.failed != "" || !strings.Contains(f.skipped, tc.skip) {
					t.Fatalf("want a skip mentioning %q, got ok=%v skipped=%q failed=%q", tc.skip, ok, f.skipped, f.failed)
				}
				if tc.privileged && !strings.Contains(f.skipped, "skipped even with") {
					t.Fatalf("a property skip must say it skips under the switch too: %q", f.skipped)
				}
			}
		})
	}
}

// TestExec32ProbeOnThisMachine runs the real probe: whatever this machine
// can do, the helper must either pass or skip or fail with a reason, and a
// second call must reuse the first result.
func TestExec32ProbeOnThisMachine(t *testing.T) {
	r := probeExec32Once()
	if r != probeExec32Once() {
		t.Fatal("the probe ran twice in one process")
	}
	t.Logf("probe: %+v", r)
	RequireExec32(t)
	if r.unsupported != "" || r.buildErr != nil || r.runErr != nil {
		t.Fatalf("RequireExec32 returned on a machine whose probe failed: %+v", r)
	}
}

func TestRequireData(t *testing.T) {
	for _, ci := range []bool{false, true} {
		h := fakeHost(false)
		h.ci = func() bool { return ci }
		f := &fakeTB{}
		if got := h.requireData(f, "/nonexistent/traces", "public traces"); got != "" {
			t.Fatalf("CI=%v: returned %q for a missing directory", ci, got)
		}
		if ci && (f.skipped != "" || !strings.Contains(f.failed, "public traces")) {
			t.Fatalf("in CI a missing data set must fail, got skipped=%q failed=%q", f.skipped, f.failed)
		}
		if !ci && (f.failed != "" || !strings.Contains(f.skipped, "public traces")) {
			t.Fatalf("outside CI a missing data set skips, got skipped=%q failed=%q", f.skipped, f.failed)
		}
	}
	if got := RequireData(t, ".", "this directory"); got != "." {
		t.Fatalf("RequireData(.) = %q", got)
	}
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
