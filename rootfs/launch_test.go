package rootfs_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/gleaner/gleaner/internal/testenv"
	"github.com/gleaner/gleaner/rootfs"
)

// taskRoot builds a busybox base and returns it as a task root directory.
func taskRoot(t testing.TB) string {
	t.Helper()
	testenv.RequireRoot(t)
	dir := filepath.Join(t.TempDir(), "root")
	buildBusyboxRoot(t, dir)
	return dir
}

// run launches sh -c script in root and returns its stdout, stderr and
// exit status.
func run(t testing.TB, spec rootfs.Spec, script string) (string, string, rootfs.ExitStatus) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "stdout")
	errf := filepath.Join(filepath.Dir(out), "stderr")
	if spec.Args == nil {
		spec.Args = []string{"/bin/sh", "-c", script}
	}
	if spec.Env == nil {
		spec.Env = []string{"PATH=/bin"}
	}
	spec.Stdout, spec.Stderr = out, errf
	if spec.Helper == "" {
		spec.Helper = helperPath
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := rootfs.Start(ctx, spec)
	require.NoError(t, err)
	st, err := p.Wait(ctx)
	require.NoError(t, err)
	o, _ := os.ReadFile(out)
	e, _ := os.ReadFile(errf)
	return string(o), string(e), st
}

var modes = []rootfs.LaunchMode{rootfs.ModeChroot, rootfs.ModePivotRoot}

func requireMode(t *testing.T, m rootfs.LaunchMode) {
	t.Helper()
	if m == rootfs.ModePivotRoot {
		testenv.RequireMountNamespace(t)
		if !rootfs.PivotRootSupported() {
			t.Fatalf("mount namespaces work but PivotRootSupported is false")
		}
	}
}

func TestLaunchSeesOnlyTheRoot(t *testing.T) {
	root := taskRoot(t)
	for _, m := range modes {
		t.Run(m.String(), func(t *testing.T) {
			requireMode(t, m)
			out, stderr, st := run(t, rootfs.Spec{Root: root, Mode: m}, "ls -a /; cat /etc/base-release; test -e "+root+" && echo HOSTPATH; true")
			require.True(t, st.Success(), "status %v, stderr %s", st, stderr)
			assert.Equal(t, []string{".", "..", "bin", "dev", "etc", "proc", "tmp"}, strings.Fields(strings.Split(out, "busybox-base")[0]))
			assert.Contains(t, out, "busybox-base 1")
			assert.NotContains(t, out, "HOSTPATH", "the host's path to the root is visible inside it")
		})
	}
}

func TestLaunchPivotRootIsPID1AndIsolated(t *testing.T) {
	requireMode(t, rootfs.ModePivotRoot)
	root := taskRoot(t)
	script := fmt.Sprintf(`echo pid=$$ ppid=$PPID; test -e /proc/%d && echo HOSTPID; ls /proc | grep -c '^[0-9]' ; grep -c . /proc/mounts >/dev/null; cat /proc/mounts; ls /dev; touch /tmp/x && echo tmpok`, os.Getpid())
	out, stderr, st := run(t, rootfs.Spec{Root: root, Mode: rootfs.ModePivotRoot}, script)
	require.True(t, st.Success(), "status %v, stderr %s", st, stderr)
	assert.Regexp(t, `pid=\d+ ppid=1\n`, out, "the command is the child of the namespace's init")
	assert.NotContains(t, out, "pid=1 ", "the init, not the command, is PID 1")
	assert.NotContains(t, out, "HOSTPID", "host process visible")
	assert.Contains(t, out, "proc /proc proc")
	assert.Contains(t, out, "tmpfs /dev tmpfs")
	assert.Contains(t, out, "tmpfs /tmp tmpfs")
	for _, d := range []string{"null", "zero", "urandom"} {
		assert.Contains(t, out, d)
	}
	assert.Contains(t, out, "tmpok")
	assert.NoFileExists(t, filepath.Join(root, "tmp", "x"), "/tmp is a tmpfs, not the root's directory")
	assert.NotContains(t, out, " /sys ", "host mounts leaked")

	out, stderr, st = run(t, rootfs.Spec{Root: root, Mode: rootfs.ModePivotRoot, Credential: &rootfs.Credential{UID: 65534, GID: 65534}},
		"echo x > /dev/null && head -c 4 /dev/zero | wc -c && touch /tmp/mine && echo user-ok")
	require.True(t, st.Success(), "status %v, stderr %s", st, stderr)
	assert.Equal(t, "4\nuser-ok\n", out, "an unprivileged task can use /dev and /tmp")
}

func TestLaunchAutoModeFollowsKernelSupport(t *testing.T) {
	root := taskRoot(t)
	want := rootfs.ModeChroot
	if rootfs.PivotRootSupported() {
		want = rootfs.ModePivotRoot
	}
	p, err := rootfs.Start(context.Background(), rootfs.Spec{Root: root, Args: []string{"true"}, Env: []string{"PATH=/bin"}})
	require.NoError(t, err)
	assert.Equal(t, want, p.Mode())
	st, err := p.Wait(context.Background())
	require.NoError(t, err)
	assert.True(t, st.Success())
}

func TestLaunchProcessSettings(t *testing.T) {
	root := taskRoot(t)
	require.NoError(t, os.MkdirAll(filepath.Join(root, "work"), 0o777))
	for _, m := range modes {
		t.Run(m.String(), func(t *testing.T) {
			requireMode(t, m)
			// A user of its own: RLIMIT_NPROC counts every process of the
			// user on the host, and nobody's are many on a shared machine.
			// Its group is above 2^31: IDs are unsigned 32 bits all along.
			uid := uniqueUID()
			spec := rootfs.Spec{
				Root:       root,
				Mode:       m,
				Dir:        "/work",
				Env:        []string{"PATH=/bin", "GREETING=hello"},
				Credential: &rootfs.Credential{UID: uid, GID: uid, Groups: []uint32{65532}},
				Rlimits:    []rootfs.Rlimit{{Resource: unix.RLIMIT_NOFILE, Cur: 123, Max: 123}, {Resource: unix.RLIMIT_NPROC, Cur: 77, Max: 77}},
			}
			out, stderr, st := run(t, spec, `pwd; echo $GREETING; id -u; id -g; id -G; ulimit -n; ulimit -u; echo to-stderr >&2; exit 7`)
			assert.Equal(t, rootfs.ExitStatus{Code: 7}, st)
			assert.Equal(t, fmt.Sprintf("/work\nhello\n%d\n%d\n%d 65532\n123\n77\n", uid, uid, uid), out)
			assert.Equal(t, "to-stderr\n", stderr)
		})
	}
}

func TestLaunchStopAndSignals(t *testing.T) {
	root := taskRoot(t)
	for _, c := range []struct {
		mode rootfs.LaunchMode
		want rootfs.ExitStatus
	}{
		// A shell that is not PID 1 dies of SIGTERM.
		{rootfs.ModeChroot, rootfs.ExitStatus{Code: -1, Signal: syscall.SIGTERM}},
		// The namespace's init forwards SIGTERM to the command, which dies
		// of it as it would outside a namespace.
		{rootfs.ModePivotRoot, rootfs.ExitStatus{Code: -1, Signal: syscall.SIGTERM}},
	} {
		t.Run(c.mode.String(), func(t *testing.T) {
			requireMode(t, c.mode)
			p, err := rootfs.Start(context.Background(), rootfs.Spec{Root: root, Mode: c.mode, Args: []string{"sleep", "100"}, Env: []string{"PATH=/bin"}})
			require.NoError(t, err)
			// The signal in the status shows Stop killed it, not that
			// `sleep 100` ran out.
			st, err := p.Stop(context.Background(), 300*time.Millisecond)
			require.NoError(t, err)
			assert.Equal(t, c.want, st)
			assert.Equal(t, "killed by "+c.want.Signal.String(), st.String())
			assertNoChildren(t)
		})
	}
}

func TestLaunchTrapsChildSignalExit(t *testing.T) {
	root := taskRoot(t)
	_, _, st := run(t, rootfs.Spec{Root: root, Mode: rootfs.ModeChroot}, "kill -USR1 $$; sleep 5")
	assert.Equal(t, rootfs.ExitStatus{Code: -1, Signal: syscall.SIGUSR1}, st)
}

// assertNoChildren checks that this process has no child left: a failed or
// stopped launch must not leave a helper behind.
func assertNoChildren(t *testing.T) {
	t.Helper()
	self := strconv.Itoa(os.Getpid())
	procs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range procs {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		s := string(data)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		if len(fields) > 1 && fields[1] == self {
			t.Errorf("child process left behind: %s", s)
		}
	}
}

func TestLaunchBadInput(t *testing.T) {
	root := taskRoot(t)
	for _, m := range modes {
		t.Run(m.String()+" command not found names the command", func(t *testing.T) {
			requireMode(t, m)
			_, err := rootfs.Start(context.Background(), rootfs.Spec{Root: root, Mode: m, Args: []string{"no-such-tool", "x"}, Env: []string{"PATH=/bin"}})
			require.ErrorIs(t, err, rootfs.ErrNotFound)
			assert.Contains(t, err.Error(), "no-such-tool")
			assert.Contains(t, err.Error(), root)
			assertNoChildren(t)
		})
		t.Run(m.String()+" missing working directory is reported", func(t *testing.T) {
			requireMode(t, m)
			_, err := rootfs.Start(context.Background(), rootfs.Spec{Root: root, Mode: m, Args: []string{"true"}, Dir: "/nowhere"})
			require.ErrorIs(t, err, rootfs.ErrNotFound)
			assert.Contains(t, err.Error(), "/nowhere")
			assertNoChildren(t)
		})
	}
	t.Run("failed launch in a cgroup leaves it empty and the host mounts unchanged", func(t *testing.T) {
		testenv.RequireCgroupV1(t, "cpu")
		requireMode(t, rootfs.ModePivotRoot)
		cg := v1Cgroup(t, "cpu", uniqueName("gleaner-test-rootfs-"))
		mounts := mountsUnder(t, root)
		_, err := rootfs.Start(context.Background(), rootfs.Spec{Root: root, Mode: rootfs.ModePivotRoot, Args: []string{"/bin/absent"},
			CgroupProcsFiles: []string{filepath.Join(cg, "cgroup.procs")}})
		require.ErrorIs(t, err, rootfs.ErrNotFound)
		assertNoChildren(t)
		procs, err := os.ReadFile(filepath.Join(cg, "cgroup.procs"))
		require.NoError(t, err)
		assert.Empty(t, string(procs), "the cgroup can be removed")
		assert.Equal(t, mounts, mountsUnder(t, root))
	})
	t.Run("unwritable cgroup leaves no process", func(t *testing.T) {
		_, err := rootfs.Start(context.Background(), rootfs.Spec{Root: root, Mode: rootfs.ModeChroot, Args: []string{"true"},
			CgroupProcsFiles: []string{"/sys/fs/cgroup/cpu/" + uniqueName("gleaner-test-rootfs-absent-") + "/cgroup.procs"}})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "gleaner-test-rootfs-absent-")
		assertNoChildren(t)
	})
	for _, c := range []struct {
		name string
		spec rootfs.Spec
		want error
	}{
		{"empty command is invalid", rootfs.Spec{Root: root}, rootfs.ErrInvalid},
		{"relative root is invalid", rootfs.Spec{Root: "rel", Args: []string{"true"}}, rootfs.ErrInvalid},
		{"missing root is not found", rootfs.Spec{Root: root + "-absent", Args: []string{"true"}}, rootfs.ErrNotFound},
		{"relative working directory is invalid", rootfs.Spec{Root: root, Args: []string{"true"}, Dir: "work"}, rootfs.ErrInvalid},
		{"cgroup path that is not cgroup.procs is invalid", rootfs.Spec{Root: root, Args: []string{"true"}, CgroupProcsFiles: []string{"/sys/fs/cgroup/cpu/tasks"}}, rootfs.ErrInvalid},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := rootfs.Start(context.Background(), c.spec)
			assert.ErrorIs(t, err, c.want)
		})
	}
}

// mountsUnder returns the lines of /proc/self/mountinfo whose mount point
// is dir or below it: what a launch into dir could leak into the host's
// namespace. (The whole table is no witness: other tests on the machine
// mount and unmount meanwhile.)
func mountsUnder(t *testing.T, dir string) []string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	require.NoError(t, err)
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			out = append(out, line)
		}
	}
	return out
}

// v1Cgroup creates a cgroup in the named v1 hierarchy and removes it when
// the test ends.
func v1Cgroup(t *testing.T, controller, name string) string {
	t.Helper()
	dir := filepath.Join("/sys/fs/cgroup", controller, name)
	require.NoError(t, os.Mkdir(dir, 0o755))
	t.Cleanup(func() {
		for i := 0; i < 50; i++ {
			if err := os.Remove(dir); err == nil || os.IsNotExist(err) {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Errorf("cgroup %s not removed", dir)
	})
	return dir
}

func TestLaunchPlacesChildInCgroupBeforeExec(t *testing.T) {
	testenv.RequireCgroupV1(t, "cpu", "memory")
	root := taskRoot(t)
	name := uniqueName("gleaner-test-rootfs-")
	cpu, mem := v1Cgroup(t, "cpu", name), v1Cgroup(t, "memory", name)
	procs := []string{filepath.Join(cpu, "cgroup.procs"), filepath.Join(mem, "cgroup.procs")}
	// The helper is placed before it is released, so the command runs in
	// them from its first instruction; the host sees it there.
	out := hostCgroups(t, rootfs.Spec{Root: root, Mode: rootfs.ModeChroot, CgroupProcsFiles: procs})
	assert.Regexp(t, `(?m)^\d+:cpu(,cpuacct)?:/`+name+`$`, out)
	assert.Regexp(t, `(?m)^\d+:memory:/`+name+`$`, out)

	t.Run("pivot_root: in a cgroup namespace rooted at the task's cgroups", func(t *testing.T) {
		requireMode(t, rootfs.ModePivotRoot)
		spec := rootfs.Spec{Root: root, Mode: rootfs.ModePivotRoot, CgroupProcsFiles: procs,
			Args: []string{"/bin/sh", "-c", "cat /proc/self/cgroup; cat /proc/1/cgroup"}}
		out, stderr, st := run(t, spec, "")
		require.True(t, st.Success(), "status %v, stderr %s", st, stderr)
		assert.Regexp(t, `(?m)^\d+:memory:/$`, out)
		assert.NotContains(t, out, name, "the host's cgroup path is visible inside")
	})
}

func TestLaunchCgroupV2UseCgroupFD(t *testing.T) {
	point := testenv.RequireCgroupV2(t)
	requireMode(t, rootfs.ModePivotRoot)
	root := taskRoot(t)
	name := uniqueName("gleaner-test-rootfs-")
	dir := filepath.Join(point, name)
	require.NoError(t, os.Mkdir(dir, 0o755))
	t.Cleanup(func() { os.Remove(dir) })
	fd, err := os.Open(dir)
	require.NoError(t, err)
	defer fd.Close()
	out := hostCgroups(t, rootfs.Spec{Root: root, Mode: rootfs.ModeChroot, CgroupDir: fd})
	assert.Contains(t, out, "0::/"+name+"\n")
}

// TestLaunchLeavesTheLaunchersGroupsBehind starts a launcher with a
// supplementary group of its own (as an agent run by a service manager with
// extra groups is): the command has only the groups its spec names, in a
// user namespace too.
func TestLaunchLeavesTheLaunchersGroupsBehind(t *testing.T) {
	root := taskRoot(t)
	self, err := os.Executable()
	require.NoError(t, err)
	for _, c := range []struct {
		mode   rootfs.LaunchMode
		userns bool
	}{{rootfs.ModeChroot, false}, {rootfs.ModePivotRoot, false}, {rootfs.ModePivotRoot, true}} {
		t.Run(fmt.Sprintf("%s/userns=%v", c.mode, c.userns), func(t *testing.T) {
			requireMode(t, c.mode)
			uid, want := uint32(0), "65534\n" // nobody's group alone
			if c.userns {
				want = "0\n" // root's group alone, inside
				testenv.RequireUserNamespaces(t)
				uid = uniqueUID()
				for _, p := range []string{filepath.Dir(helperPath), filepath.Dir(root), filepath.Dir(filepath.Dir(root))} {
					require.NoError(t, os.Chmod(p, 0o755))
				}
			}
			cmd := exec.Command(self, "-test.run=^$")
			cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d:%d:%s", groupsEnv, int(c.mode), uid, root), "GLEANER_ROOTFS_TEST_HELPER="+helperPath)
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 0, Gid: 0, Groups: []uint32{4242}}}
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "%s", out)
			assert.Equal(t, want, string(out), "the launcher's group 4242 (65534 in a user namespace) followed the command")
		})
	}
}

func TestLaunchParentDeathKillsTheCommand(t *testing.T) {
	root := taskRoot(t)
	for _, m := range modes {
		t.Run(m.String(), func(t *testing.T) {
			requireMode(t, m)
			pidfile := filepath.Join(t.TempDir(), "pid")
			self, err := os.Executable()
			require.NoError(t, err)
			cmd := exec.Command(self, "-test.run=^$")
			cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d:%s:%s", orphanEnv, int(m), root, pidfile))
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "%s", out)
			data, err := os.ReadFile(pidfile)
			require.NoError(t, err)
			pid, err := strconv.Atoi(string(data))
			require.NoError(t, err)
			// The launcher is gone; its command must follow.
			testenv.Eventually(t, 30*time.Second, func() bool {
				stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
				if err != nil {
					return true
				}
				s := string(stat)
				state := s[strings.LastIndexByte(s, ')')+2]
				return state == 'Z' || state == 'X' || !strings.Contains(s, "(sleep)")
			}, "pid %d survived its parent", pid)
		})
	}
}

func TestLaunchAndFetchLeaveNoGoroutines(t *testing.T) {
	root := taskRoot(t)
	before := runtime.NumGoroutine()
	for range 3 {
		_, _, st := run(t, rootfs.Spec{Root: root, Mode: rootfs.ModeChroot}, "true")
		require.True(t, st.Success())
	}
	p, err := rootfs.Start(context.Background(), rootfs.Spec{Root: root, Mode: rootfs.ModeChroot, Args: []string{"/bin/sleep", "100"}})
	require.NoError(t, err)
	_, err = p.Stop(context.Background(), 0)
	require.NoError(t, err)

	src := filepath.Join(t.TempDir(), "obj")
	require.NoError(t, os.WriteFile(src, []byte("object"), 0o644))
	f, err := rootfs.NewFetcher(filepath.Join(t.TempDir(), "cache"), rootfs.WithFileRoots(filepath.Dir(src)))
	require.NoError(t, err)
	for range 4 {
		_, err := f.Fetch(context.Background(), "file://"+src)
		require.NoError(t, err)
	}
	require.NoError(t, f.Close())

	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<20)
		t.Errorf("goroutines: %d before, %d after:\n%s", before, n, buf[:runtime.Stack(buf, true)])
	}
}

// hostCgroups starts sleep with spec and returns its /proc/<pid>/cgroup as
// the host sees it.
func hostCgroups(t *testing.T, spec rootfs.Spec) string {
	t.Helper()
	spec.Args = []string{"/bin/sleep", "30"}
	p, err := rootfs.Start(context.Background(), spec)
	require.NoError(t, err)
	defer p.Stop(context.Background(), 0)
	out, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", p.Pid()))
	require.NoError(t, err)
	return string(out)
}

// TestLaunchInitForwardsSignalsAndReaps: in pivot_root mode the command is
// not PID 1; the init forwards SIGTERM to it, so a shell that traps SIGTERM
// exits cleanly within the grace period, and the init reaps the orphans of
// a double fork.
func TestLaunchInitForwardsSignalsAndReaps(t *testing.T) {
	requireMode(t, rootfs.ModePivotRoot)
	root := taskRoot(t)
	t.Run("a shell that traps SIGTERM exits within the grace", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "out")
		p, err := rootfs.Start(context.Background(), rootfs.Spec{Root: root, Mode: rootfs.ModePivotRoot, Helper: helperPath,
			Args: []string{"/bin/sh", "-c", `trap 'echo got-term; exit 0' TERM; echo ready; while true; do sleep 0.05; done`},
			Env:  []string{"PATH=/bin"}, Stdout: out})
		require.NoError(t, err)
		testenv.Eventually(t, 30*time.Second, func() bool {
			data, _ := os.ReadFile(out)
			return strings.Contains(string(data), "ready")
		}, "the shell to install its trap")
		st, err := p.Stop(context.Background(), time.Minute)
		require.NoError(t, err)
		assert.Equal(t, rootfs.ExitStatus{Code: 0}, st, "the shell exited by its trap, not by SIGKILL after the grace")
		data, _ := os.ReadFile(out)
		assert.Contains(t, string(data), "got-term")
	})
	t.Run("orphans of a double fork are reaped", func(t *testing.T) {
		// The grandchild outlives its parent and is re-parented to the
		// init; the command waits until no zombie is left (the test's
		// deadline bounds that wait).
		out, stderr, st := run(t, rootfs.Spec{Root: root, Mode: rootfs.ModePivotRoot},
			`( sleep 0.2 & )
			 while cat /proc/[0-9]*/stat 2>/dev/null | grep -q '(sleep) [SR]'; do sleep 0.05; done
			 while cat /proc/[0-9]*/stat 2>/dev/null | grep -q ') Z '; do sleep 0.05; done; echo reaped`)
		require.True(t, st.Success(), "%v %s", st, stderr)
		assert.Equal(t, "reaped\n", out)
	})
	t.Run("the command's exit status is the launch's", func(t *testing.T) {
		_, _, st := run(t, rootfs.Spec{Root: root, Mode: rootfs.ModePivotRoot}, "exit 42")
		assert.Equal(t, rootfs.ExitStatus{Code: 42}, st)
		_, _, st = run(t, rootfs.Spec{Root: root, Mode: rootfs.ModePivotRoot}, "kill -USR1 $$; sleep 5")
		assert.Equal(t, rootfs.ExitStatus{Code: -1, Signal: syscall.SIGUSR1}, st)
	})
}

// uniqueUID returns a UID no other process on the host is likely to use.
func uniqueUID() uint32 {
	var b [2]byte
	rand.Read(b[:])
	return 3_000_000_000 + uint32(b[0])<<8 | uint32(b[1])
}
