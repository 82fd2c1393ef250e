package isolate

import (
	"context"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/gleaner/gleaner/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// On a hybrid host the cgroup v2 hierarchy has no controllers, but its
// cgroups still hold processes and have cgroup.procs, cgroup.kill and
// cgroup.freeze: enough to run the v2 code paths that do not limit
// anything: create, start a child directly inside (CLONE_INTO_CGROUP
// through OpenDir), list, kill and remove.
func TestV2GroupWithoutControllers(t *testing.T) {
	mnt := testenv.RequireCgroupV2(t)
	feat := Features{Mode: Unified, Freezer: true, Mounts: map[string]string{"unified": mnt}}
	parent := uniqueParent()
	pg, err := newV2Group(feat, parent, nil, Hard, true)
	require.NoError(t, err)
	t.Cleanup(func() { _ = pg.kill(context.Background()); _ = pg.remove() })
	g, err := newV2Group(feat, path.Join(parent, "t"), nil, Hard, true)
	require.NoError(t, err)
	names, err := pg.children()
	require.NoError(t, err)
	assert.Equal(t, []string{"t"}, names)
	assert.Equal(t, []string{filepath.Join(mnt, parent, "t", "cgroup.procs")}, g.procsFiles())

	// The launcher's v2 path: the child starts inside the cgroup.
	dir, err := g.openDir()
	require.NoError(t, err)
	cmd := exec.Command("/bin/sh", "-c", "cat /proc/self/cgroup; exec sleep 60")
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(dir.Fd())}
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	dir.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	buf := make([]byte, 4096)
	n, _ := out.Read(buf)
	assert.Contains(t, string(buf[:n]), "0::"+parent+"/t\n", "the child ran its first instruction in the cgroup")

	testenv.Eventually(t, 30*time.Second, func() bool { p, _ := g.procs(); return len(p) == 1 })
	pids, err := g.procs()
	require.NoError(t, err)
	assert.Equal(t, []int{cmd.Process.Pid}, pids)

	other := exec.Command("/bin/sleep", "60")
	require.NoError(t, other.Start())
	go func() { _ = other.Wait() }()
	require.NoError(t, g.addProc(other.Process.Pid))

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, g.kill(ctx), "cgroup.kill")
	err = <-done
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	assert.Equal(t, syscall.SIGKILL, exit.Sys().(syscall.WaitStatus).Signal())
	require.NoError(t, g.remove())
	require.NoError(t, g.remove(), "idempotent")
	assert.NoDirExists(t, filepath.Join(mnt, parent, "t"))
	require.NoError(t, pg.remove())
	_, err = os.Stat(filepath.Join(mnt, parent))
	assert.True(t, os.IsNotExist(err))
}
