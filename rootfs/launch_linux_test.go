package rootfs_test

import (
	"os"
	"os/exec"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gleaner/gleaner/internal/testenv"
)

func TestLaunchChrootFromAProcessThatIsPID1(t *testing.T) {
	testenv.RequireRoot(t)
	root := taskRoot(t)
	self, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command(self, "-test.run=^$")
	cmd.Env = append(os.Environ(), pid1Env+"="+root)
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID, Pdeathsig: syscall.SIGKILL}
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "a launcher that is PID 1 (an agent in a container) can launch in chroot mode: %s", out)
}
