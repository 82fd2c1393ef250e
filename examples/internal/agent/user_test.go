//go:build linux

package agent

import (
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
	dir := testenv.TempDirOnDisk(t)
	// A user-namespaced task's helper runs as the unprivileged user from
	// its start: the agent's tree must be traversable, as /opt is.
	for _, p := range []string{programsDir, dir, filepath.Dir(dir)} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cfg := testConfig(t, dir)
	cfg.LaunchMode = rootfs.ModePivotRoot
	cfg.RootRoles = []string{"ops"}
	a := start(t, cfg)
	// Each task prints its UID inside; the test reads the owner the host
	// sees of the file it wrote.
	run := func(id string, info api.TaskInfo) (inside, onHost uint32) {
		t.Helper()
		info.TaskID, info.Resources = id, "cpus:0.1;mem:64"
		info.Cmd = "id -u; touch /mine; sleep 30"
		if err := a.launch(info); err != nil {
			t.Fatal(err)
		}
		waitState(t, a.Agent, id, api.TaskRunning, 20*time.Second)
		mine := filepath.Join(a.cfg.sandboxDir(), id, "rootfs", "root", "mine")
		testenv.Eventually(t, 20*time.Second, func() bool {
			_, err := os.Stat(mine)
			return err == nil
		}, "task %s to write /mine", id)
		var st syscall.Stat_t
		if err := syscall.Stat(mine, &st); err != nil {
			t.Fatal(err)
		}
		uid, err := strconv.ParseUint(strings.TrimSpace(readSandbox(t, a.Agent, id, "stdout")), 10, 32)
		if err != nil {
			t.Fatalf("task %s: %v", id, err)
		}
		if err := a.kill(id, "done"); err != nil {
			t.Fatal(err)
		}
		return uint32(uid), st.Uid
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
