//go:build linux

package agent

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gleaner/gleaner/examples/internal/api"
	"github.com/gleaner/gleaner/examples/internal/auth/authtest"
	"github.com/gleaner/gleaner/internal/testenv"
	"github.com/gleaner/gleaner/rootfs"
)

// TestTaskUserPolicy: tasks run as the agent's unprivileged user unless
// they name one; root is the host's root only for the operator's roles,
// and otherwise root inside a user namespace that is that unprivileged user
// on the host (pivot_root mode), or refused (chroot mode).
func TestTaskUserPolicy(t *testing.T) {
	requireIsolation(t)
	testenv.RequireUserNamespaces(t)
	cfg := testConfig(t, traversableDir(t))
	cfg.LaunchMode = rootfs.ModePivotRoot
	cfg.RootRoles = []string{"ops"}
	a := start(t, cfg)
	run := func(id string, info api.TaskInfo) (inside, onHost uint32) {
		t.Helper()
		inside, onHost = runPrintingUID(t, a.Agent, id, info)
		if err := a.kill(id, "done"); err != nil {
			t.Fatal(err)
		}
		return inside, onHost
	}
	for _, c := range []struct {
		id             string
		info           api.TaskInfo
		inside, onHost uint32
	}{
		{"default", api.TaskInfo{}, 65534, 65534},
		{"mapped-root", api.TaskInfo{User: "root", Role: "batch"}, 0, 65534},
		{"host-root", api.TaskInfo{User: "root", Role: "ops"}, 0, 0},
	} {
		if inside, onHost := run(c.id, c.info); inside != c.inside || onHost != c.onHost {
			t.Errorf("task %s: uid %d inside, %d on the host; want %d and %d", c.id, inside, onHost, c.inside, c.onHost)
		}
	}

	chroot := cfg
	chroot.Dir = testenv.TempDirOnDisk(t)
	chroot.ID += "-chroot"
	chroot.TLS = authtest.Agent(t, chroot.ID)
	chroot.CgroupParent += "-chroot"
	chroot.LaunchMode = rootfs.ModeChroot
	b := start(t, chroot)
	err := b.launch(api.TaskInfo{TaskID: "root", Cmd: "true", Resources: "cpus:0.1;mem:32", User: "root", Role: "batch"})
	if err == nil || !strings.Contains(err.Error(), `not for role "batch"`) {
		t.Errorf("root task of a role without host root in chroot mode: %v, want refused naming the role", err)
	}
}

// TestTaskUIDs: with Config.TaskUIDs each task that names no user runs as
// an ID of the range of its own, which no other task shares, a root task
// mapped into a user namespace too; a task naming a user keeps it. A
// restarted agent keeps the IDs of the tasks it adopts taken, and each ID
// comes back once its task is gone.
func TestTaskUIDs(t *testing.T) {
	requireIsolation(t)
	testenv.RequireUserNamespaces(t)
	cfg := testConfig(t, traversableDir(t))
	cfg.LaunchMode = rootfs.ModePivotRoot
	cfg.TaskUIDs = testUIDs()
	first := start(t, cfg)
	inRange := func(uid uint32) bool { return uid >= cfg.TaskUIDs.First && uid <= cfg.TaskUIDs.Last }
	aIn, aHost := runPrintingUID(t, first.Agent, "a", api.TaskInfo{})
	bIn, bHost := runPrintingUID(t, first.Agent, "b", api.TaskInfo{})
	if !inRange(aIn) || aHost != aIn || !inRange(bIn) || bHost != bIn || aIn == bIn {
		t.Errorf("tasks a and b run as %d (host %d) and %d (host %d); want two IDs of %s of their own", aIn, aHost, bIn, bHost, cfg.TaskUIDs)
	}
	if in, host := runPrintingUID(t, first.Agent, "named", api.TaskInfo{User: "nobody"}); in != 65534 || host != 65534 {
		t.Errorf("a task naming nobody runs as %d (host %d)", in, host)
	}
	rootIn, rootHost := runPrintingUID(t, first.Agent, "mapped-root", api.TaskInfo{User: "root", Role: "batch"})
	if rootIn != 0 || !inRange(rootHost) || rootHost == aIn || rootHost == bIn {
		t.Errorf("mapped root: %d inside, %d on the host; want 0 and an ID of %s of its own", rootIn, rootHost, cfg.TaskUIDs)
	}
	if n := first.uids.inUse(); n != 3 {
		t.Errorf("%d IDs taken, want 3 (a, b, mapped-root)", n)
	}

	if err := first.stop(t, ErrRestart); err != nil {
		t.Fatal(err)
	}
	second := start(t, cfg)
	if n := second.uids.inUse(); n != 3 {
		t.Errorf("after a restart %d IDs are taken, want the 3 of the adopted tasks", n)
	}
	if cIn, _ := runPrintingUID(t, second.Agent, "c", api.TaskInfo{}); !inRange(cIn) || cIn == aIn || cIn == bIn || cIn == rootHost {
		t.Errorf("task c after the restart runs as %d; want an ID of %s no adopted task holds", cIn, cfg.TaskUIDs)
	}
	for _, id := range []string{"a", "b", "named", "mapped-root", "c"} {
		if err := second.kill(id, "done"); err != nil {
			t.Fatal(err)
		}
	}
	testenv.Eventually(t, 30*time.Second, func() bool { return second.uids.inUse() == 0 }, "every task UID to come back")
}

// testUIDs is a small range of high user IDs of this test's own, so that
// tests running at once do not share task users.
func testUIDs() UIDRange {
	var b [2]byte
	rand.Read(b[:])
	first := 3_100_000_000 + uint32(b[0])<<8 | uint32(b[1])<<4
	return UIDRange{First: first, Last: first + 7}
}

// traversableDir is an agent directory a user-namespaced task's helper,
// which runs as the unprivileged user from its start, can traverse, as
// /opt is.
func traversableDir(t *testing.T) string {
	t.Helper()
	dir := testenv.TempDirOnDisk(t)
	for _, p := range []string{programsDir, dir, filepath.Dir(dir)} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// runPrintingUID runs a task that prints its UID inside, writes /mine and
// stays; it returns that UID and the owner the host sees of the file.
func runPrintingUID(t *testing.T, a *Agent, id string, info api.TaskInfo) (inside, onHost uint32) {
	t.Helper()
	info.TaskID, info.Resources, info.Cmd = id, "cpus:0.1;mem:64", "id -u; touch /mine; sleep 60"
	if err := a.launch(info); err != nil {
		t.Fatal(err)
	}
	waitState(t, a, id, api.TaskRunning, 20*time.Second)
	mine := filepath.Join(a.cfg.sandboxDir(), id, "rootfs", "root", "mine")
	testenv.Eventually(t, 20*time.Second, func() bool {
		_, err := os.Stat(mine)
		return err == nil
	}, "task %s to write /mine", id)
	var st syscall.Stat_t
	if err := syscall.Stat(mine, &st); err != nil {
		t.Fatal(err)
	}
	uid, err := strconv.ParseUint(strings.TrimSpace(readSandbox(t, a, id, "stdout")), 10, 32)
	if err != nil {
		t.Fatalf("task %s: %v", id, err)
	}
	return uint32(uid), st.Uid
}
