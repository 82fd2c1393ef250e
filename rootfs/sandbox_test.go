package rootfs_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gleaner/gleaner/internal/testenv"
	"github.com/gleaner/gleaner/rootfs"
)

// probeRoot is a busybox root with the probe program at /probe.
func probeRoot(t *testing.T) string {
	t.Helper()
	root := taskRoot(t)
	data, err := os.ReadFile(probePath)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(root, "probe"), data, 0o755))
	return root
}

// TestSandboxRefusesPrivilegedOperations runs the probe in each mode, as
// an unprivileged user and as root, and checks that every privileged
// operation is refused and the sandbox is what the docs say.
func TestSandboxRefusesPrivilegedOperations(t *testing.T) {
	testenv.RequireSeccomp(t)
	root := probeRoot(t)
	nobody := &rootfs.Credential{UID: 65534, GID: 65534}
	self := fmt.Sprint(os.Getpid())
	for _, m := range modes {
		for _, user := range []struct {
			name string
			cred *rootfs.Credential
		}{{"nobody", nobody}, {"root", nil}} {
			t.Run(m.String()+"/"+user.name, func(t *testing.T) {
				requireMode(t, m)
				probe := func(args ...string) string {
					t.Helper()
					out, stderr, st := run(t, rootfs.Spec{Root: root, Mode: m, Credential: user.cred, Args: append([]string{"/probe"}, args...)}, "")
					require.True(t, st.Success(), "probe %v: %v, stderr %s", args, st, stderr)
					return strings.TrimSpace(out)
				}
				refused := func(args ...string) {
					t.Helper()
					assert.Contains(t, probe(args...), ": refused:", "probe %v", args)
				}
				assert.Equal(t, "nnp: DONE no_new_privs=1", probe("nnp"))
				assert.Equal(t, "seccomp: DONE seccomp=2", probe("seccomp"), "a seccomp filter is installed")
				caps := probe("caps")
				if user.cred != nil {
					assert.Equal(t, "caps: DONE effective=0,0 bounding-count=0 uid=65534", caps)
					refused("setuid0")
				} else {
					assert.Equal(t, fmt.Sprintf("caps: DONE effective=0,%x bounding-count=%d uid=0", defaultCapMask(), len(rootfs.DefaultCapabilities)), caps)
				}
				refused("mount-cgroup", "/tmp/cg")
				refused("mount-proc", "/tmp/p")
				refused("unshare-user")
				refused("clone-newuser")
				refused("mknod-read", "/tmp/sda", "8:0")
				refused("ptrace", self)
				if m == rootfs.ModePivotRoot || user.cred != nil {
					// In chroot mode a command running as the host's root
					// shares the host's PID namespace and user: it can
					// signal root's processes (the package docs say so).
					refused("kill", self)
				}
				refused("bpf")
				refused("perf")
				refused("keyctl")
				t.Run("32-bit system calls", func(t *testing.T) {
					testenv.RequireExec32(t)
					assert.Equal(t, "syscall32: refused: function not implemented", probe("syscall32"),
						"a filter written for x86-64 numbers refuses the 32-bit entry point")
				})
				if m == rootfs.ModePivotRoot {
					refused("write", "/proc/sys/kernel/hostname", "owned")
					refused("write", "/proc/sysrq-trigger", "h")
					refused("write-exe", "1")
					assert.Equal(t, "read: DONE read 0 bytes of /proc/keys", probe("read", "/proc/keys"), "masked")
					assert.Equal(t, "read: DONE read 0 bytes of /proc/timer_list", probe("read", "/proc/timer_list"), "masked")
				}
			})
		}
	}
}

// defaultCapMask is DefaultCapabilities as a bit mask (all below 32).
func defaultCapMask() uint32 {
	numbers := map[string]uint{"CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_FOWNER": 3, "CAP_FSETID": 4, "CAP_KILL": 5,
		"CAP_SETGID": 6, "CAP_SETUID": 7, "CAP_NET_BIND_SERVICE": 10}
	var m uint32
	for _, c := range rootfs.DefaultCapabilities {
		m |= 1 << numbers[c]
	}
	return m
}

func TestSandboxNetworkNone(t *testing.T) {
	testenv.RequireNetworkNamespace(t)
	root := probeRoot(t)
	l, err := (&net0{}).listen()
	require.NoError(t, err)
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	for _, m := range modes {
		t.Run(m.String(), func(t *testing.T) {
			requireMode(t, m)
			probe := func(network rootfs.Network) string {
				out, stderr, st := run(t, rootfs.Spec{Root: root, Mode: m, Network: network,
					Args: []string{"/probe", "connect", l.Addr().String()}}, "")
				require.True(t, st.Success(), "%v %s", st, stderr)
				return out
			}
			assert.Contains(t, probe(rootfs.NetworkHost), "DONE", "the host network is the default")
			assert.Contains(t, probe(rootfs.NetworkNone), "refused", "the host's loopback is reachable from network none")
		})
	}
}

// TestSandboxUserNamespaceRoot: root inside a user namespace of its own is
// an unprivileged host user outside: what it writes belongs to that user,
// and the sandbox's refusals hold as for any task.
func TestSandboxUserNamespaceRoot(t *testing.T) {
	requireMode(t, rootfs.ModePivotRoot)
	testenv.RequireUserNamespaces(t)
	root := probeRoot(t)
	uid := uniqueUID()
	require.NoError(t, os.Chown(root, int(uid), int(uid)))
	// The helper runs as the host user from its first instruction: it must
	// reach its own program and the root, as from an agent's 0755 tree.
	for _, p := range []string{filepath.Dir(helperPath), filepath.Dir(root), filepath.Dir(filepath.Dir(root))} {
		require.NoError(t, os.Chmod(p, 0o755))
	}
	spec := rootfs.Spec{Root: root, Mode: rootfs.ModePivotRoot, UserNamespace: &rootfs.IDMap{HostUID: uid, HostGID: uid}}
	out, stderr, st := run(t, spec, "id -u; touch /made-by-root; echo x > /dev/null && echo null-ok; cat /proc/self/uid_map")
	require.True(t, st.Success(), "%v %s", st, stderr)
	assert.Contains(t, out, "0\nnull-ok\n", "root inside, with a working /dev")
	assert.Regexp(t, fmt.Sprintf(`\s+0\s+%d\s+1`, uid), out)
	fi, err := os.Stat(filepath.Join(root, "made-by-root"))
	require.NoError(t, err)
	assert.Equal(t, uid, fi.Sys().(*syscall.Stat_t).Uid, "the host sees the unprivileged user as the owner")
	for _, attack := range [][]string{{"mount-proc", "/tmp/p"}, {"unshare-user"}, {"mknod-read", "/tmp/sda", "8:0"}, {"ptrace", fmt.Sprint(os.Getpid())}} {
		spec.Args = append([]string{"/probe"}, attack...)
		out, _, _ := run(t, spec, "")
		assert.Contains(t, out, ": refused:", "root in a user namespace: %v", attack)
	}
	_, err = rootfs.Start(context.Background(), rootfs.Spec{Root: root, Mode: rootfs.ModePivotRoot, Args: []string{"true"},
		Credential: &rootfs.Credential{UID: 5}, UserNamespace: &rootfs.IDMap{HostUID: uid, HostGID: uid}})
	assert.ErrorIs(t, err, rootfs.ErrInvalid, "only root is mapped")
}
