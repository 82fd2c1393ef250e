//go:build linux

package agent

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gleaner/gleaner/examples/internal/api"
	"github.com/gleaner/gleaner/internal/testenv"
	"github.com/gleaner/gleaner/rootfs"
)

// TestEscape is the escape suite: every attack a harvested task could try
// on the business machine it borrows, run as a real task through the
// agent's own launch path (fetch, unpack, layer, the launch helper, the
// task's cgroup), in pivot_root mode and in chroot mode, each asserting
// the host unchanged afterwards. Each verdict is logged as
// "escape | <mode> | <attack> | <result>".
func TestEscape(t *testing.T) {
	requireIsolation(t)
	testenv.RequireSeccomp(t)
	for _, mode := range []rootfs.LaunchMode{rootfs.ModePivotRoot, rootfs.ModeChroot} {
		t.Run(mode.String(), func(t *testing.T) { escapeSuite(t, mode) })
	}
}

func escapeSuite(t *testing.T, mode rootfs.LaunchMode) {
	// What the host holds: a directory the attacks aim at and a secret.
	host := t.TempDir()
	secret := filepath.Join(host, "shadow")
	if err := os.WriteFile(secret, []byte("root:$6$secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	artifacts := t.TempDir() // the one directory tasks may fetch from
	if err := os.Symlink(secret, filepath.Join(artifacts, "innocent")); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t, testenv.TempDirOnDisk(t))
	cfg.LaunchMode = mode
	cfg.FetchFileDirs = []string{programsDir, artifacts}
	cfg.DiskInterval = 100 * time.Millisecond
	// Every task runs as a user of its own, which no host process shares:
	// in chroot mode (the host's PID namespace) that is what keeps a task
	// from signalling the host's processes and the other tasks.
	cfg.TaskUIDs = testUIDs()
	idleBusiness(t, &cfg)
	a := start(t, cfg)
	hostBefore := snapshotDir(t, host)
	helperSum := fileSum(t, helperPath)
	hostname, _ := os.ReadFile("/proc/sys/kernel/hostname")

	verdict := func(attack, result string) {
		t.Helper()
		t.Logf("escape | %s | %s | %s", mode, attack, result)
	}
	n := 0
	// launch runs a task with the probe at /probe and returns its final
	// status and stdout.
	launch := func(info api.TaskInfo) (api.TaskStatus, string) {
		t.Helper()
		n++
		info.TaskID = fmt.Sprintf("attack-%d", n)
		if info.Resources == "" {
			info.Resources = "cpus:0.2;mem:64;disk:64"
		}
		info.Fetch = append([]api.FetchURI{{URI: "file://" + probePath, Executable: true}}, info.Fetch...)
		if err := a.launch(info); err != nil {
			t.Fatalf("launch %s: %v", info.TaskID, err)
		}
		var st api.TaskStatus
		testenv.Eventually(t, 30*time.Second, func() bool {
			s, ok := status(a.Agent, info.TaskID)
			st = s
			return ok && s.State.Terminal()
		}, "task %s to end", info.TaskID)
		out, _ := os.ReadFile(filepath.Join(a.cfg.sandboxDir(), info.TaskID, "stdout"))
		return st, string(out)
	}
	probe := func(args ...string) string {
		t.Helper()
		st, out := launch(api.TaskInfo{Args: append([]string{"/probe"}, args...)})
		if st.State != api.TaskFinished {
			t.Fatalf("probe %v: %+v", args, st)
		}
		return strings.TrimSpace(out)
	}
	refused := func(attack string, args ...string) {
		t.Helper()
		out := probe(args...)
		if !strings.Contains(out, ": refused: ") {
			t.Errorf("%s: %s", attack, out)
			verdict(attack, "NOT REFUSED: "+out)
			return
		}
		verdict(attack, "refused ("+strings.SplitN(out, ": refused: ", 2)[1]+")")
	}
	launchRefused := func(attack, want string, info api.TaskInfo) {
		t.Helper()
		st, _ := launch(info)
		if st.State != api.TaskFailed || !strings.Contains(st.Message, want) {
			t.Errorf("%s: %+v, want TASK_FAILED naming %q", attack, st, want)
			verdict(attack, fmt.Sprintf("NOT REFUSED: %s %s", st.State, st.Message))
			return
		}
		verdict(attack, "launch failed: "+firstLine(st.Message))
	}

	// Host-side file work on the task's tree.
	linkImage := imageWithLink(t, artifacts, "evil", host)
	launchRefused("write through an image symlink (fetch destPath)", "path escapes",
		api.TaskInfo{Args: []string{"/probe", "nnp"}, Image: linkImage,
			Fetch: []api.FetchURI{{URI: "file://" + probePath, DestPath: "evil/owned"}}})
	archive := tarFile(t, artifacts, "evil.tar", map[string]string{"evil/owned": "pwned"})
	launchRefused("write through an image symlink (fetch extract)", "refused",
		api.TaskInfo{Args: []string{"/probe", "nnp"}, Image: linkImage,
			Fetch: []api.FetchURI{{URI: "file://" + archive, Extract: true}}})
	logImage := imageWithLink(t, artifacts, "stdout", secret)
	if st, _ := launch(api.TaskInfo{Args: []string{"/probe", "nnp"}, Image: logImage}); st.State != api.TaskFinished {
		t.Errorf("task with a stdout link in its image: %+v", st)
	}
	verdict("write through an image symlink (log path)", "the agent's log files are outside the task's tree; the image's link was not followed")
	launchRefused("file:// read of a host secret", "denied by policy",
		api.TaskInfo{Args: []string{"/probe", "nnp"}, Fetch: []api.FetchURI{{URI: "file://" + secret}}})
	launchRefused("file:// read of a host secret through a link in an allowed directory", "fetch",
		api.TaskInfo{Args: []string{"/probe", "nnp"}, Fetch: []api.FetchURI{{URI: "file://" + filepath.Join(artifacts, "innocent")}}})

	// Privileges.
	if out := probe("caps"); !strings.HasPrefix(out, "caps: DONE effective=0,0 bounding-count=0 uid=") || !inRange(cfg.TaskUIDs, out) {
		t.Errorf("caps: %s, want none, as a user of %s", out, cfg.TaskUIDs)
	}
	verdict("capabilities of a task", "none: "+probe("caps"))
	// A setuid-root program in the image (Unpack strips the bit) and in the
	// base (kept: bases are trusted; no_new_privs, and nosuid in
	// pivot_root mode, hold).
	suidImage := tarFileMode(t, artifacts, "suid-image.tar", "suid-probe", probePath, 0o4755)
	st, out := launch(api.TaskInfo{Args: []string{"/suid-probe", "setuid0"}, Image: &api.Image{URI: "file://" + suidImage}})
	if st.State != api.TaskFinished || !strings.Contains(out, ": refused: ") {
		t.Errorf("setuid probe from the image: %+v %s", st, out)
	}
	verdict("setuid binary in the image", "refused: "+strings.TrimSpace(out))
	base, err := rootfs.Bases{Dir: a.cfg.basesDir()}.Path(a.cfg.BaseName, a.cfg.BaseVersion)
	if err != nil {
		t.Fatal(err)
	}
	suid := filepath.Join(base, "bin", "suid-probe")
	data, err := os.ReadFile(probePath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(suid, data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(suid, 0o4755); err != nil {
		t.Fatal(err)
	}
	st, out = launch(api.TaskInfo{Args: []string{"/bin/suid-probe", "setuid0"}})
	if st.State != api.TaskFinished || !strings.Contains(out, ": refused: ") {
		t.Errorf("setuid probe from the base: %+v %s", st, out)
	}
	verdict("setuid-root binary in the base", "refused: "+strings.TrimSpace(out))
	refused("mknod + raw disk read", "mknod-read", "/tmp/sda", rootDevice(t))
	refused("mount cgroupfs to raise limits", "mount-cgroup", "/tmp/cg")
	refused("mount procfs", "mount-proc", "/tmp/p")
	refused("new user namespace (unshare)", "unshare-user")
	refused("new user namespace (clone)", "clone-newuser")
	refused("bpf", "bpf")
	refused("perf_event_open", "perf")
	refused("keyctl", "keyctl")
	if mode == rootfs.ModePivotRoot {
		refused("write /proc/sys", "write", "/proc/sys/kernel/hostname", "escaped")
		refused("write /proc/sysrq-trigger", "write", "/proc/sysrq-trigger", "c")
		refused("/proc/self/exe overwrite of the helper (the task's init)", "write-exe", "1")
	} else {
		refused("write /proc/sys (chroot: no /proc)", "write", "/proc/sys/kernel/hostname", "escaped")
		refused("write /proc/sysrq-trigger (chroot: no /proc)", "write", "/proc/sysrq-trigger", "c")
		refused("/proc/self/exe overwrite of the helper (chroot: no /proc; the helper exec'd away)", "write-exe", "self")
	}
	self := fmt.Sprint(os.Getpid())
	refused("kill a host process", "kill", self)
	refused("ptrace a host process", "ptrace", self)
	// A business process running as the default task user (nobody), and
	// another task: neither shares a task's user.
	business := exec.Command("/bin/sleep", "60")
	business.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	if err := business.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { business.Process.Kill(); business.Wait() })
	if err := a.launch(api.TaskInfo{TaskID: "victim", Args: []string{"/bin/sleep", "60"}, Resources: "cpus:0.1;mem:32"}); err != nil {
		t.Fatal(err)
	}
	waitState(t, a.Agent, "victim", api.TaskRunning, 30*time.Second)
	a.mu.Lock()
	victim := fmt.Sprint(a.tasks["victim"].proc.pid)
	a.mu.Unlock()
	refused("kill a host process of the default task user (nobody)", "kill", fmt.Sprint(business.Process.Pid))
	refused("ptrace a host process of the default task user (nobody)", "ptrace", fmt.Sprint(business.Process.Pid))
	refused("kill another task", "kill", victim)
	refused("ptrace another task", "ptrace", victim)
	if s, _ := status(a.Agent, "victim"); s.State != api.TaskRunning {
		t.Errorf("the victim task: %+v", s)
	}
	if err := business.Process.Signal(syscall.Signal(0)); err != nil {
		t.Errorf("the business process: %v", err)
	}
	if err := a.kill("victim", "done"); err != nil {
		t.Fatal(err)
	}
	// The operator endpoint: a task on the host network reaches the
	// agent's port on loopback, where only a client certificate of the
	// cluster's CA gets an answer, and /reservation is not served there at
	// all but on a unix socket in a 0700 directory outside every task root.
	bounds := a.reservation()
	operatorRefused := func(attack string, info api.TaskInfo) {
		t.Helper()
		st, out := launch(info)
		out = strings.TrimSpace(out)
		if st.State != api.TaskFinished || !strings.Contains(out, ": refused: ") {
			t.Errorf("%s: %+v %s", attack, st, out)
			verdict(attack, "NOT REFUSED: "+out)
			return
		}
		verdict(attack, "refused ("+firstLine(strings.SplitN(out, ": refused: ", 2)[1])+")")
	}
	put := []string{"PUT", a.URL() + PathReservation, `{"cap":"cpus:1"}`}
	operatorRefused("reach the agent's operator endpoint (network none)",
		api.TaskInfo{Args: append([]string{"/probe", "http"}, put...), Network: "none"})
	operatorRefused("reach the agent's operator endpoint (host network, no client certificate)",
		api.TaskInfo{Args: append([]string{"/probe", "http"}, put...)})
	operatorRefused("reach the agent's operator socket",
		api.TaskInfo{Args: []string{"/probe", "http-unix", a.OperatorSocket(), "PUT", PathReservation, `{"cap":"cpus:1"}`}})
	if now := a.reservation(); now.Cap != bounds.Cap || now.Floor != bounds.Floor {
		t.Errorf("a task changed the operator's bounds: cap %q floor %q, were %q %q", now.Cap, now.Floor, bounds.Cap, bounds.Floor)
	}

	// Limits.
	out = probe("forks", "5000")
	if !strings.Contains(out, "refused: after") {
		t.Errorf("fork bomb: %s", out)
	}
	verdict("fork bomb (5000 processes)", out[strings.Index(out, ":")+2:])
	st, _ = launch(api.TaskInfo{Args: []string{"/probe", "fill", "big", "48"}, Resources: "cpus:0.2;mem:64;disk:16"})
	for st.State == api.TaskFinished && !strings.Contains(st.Reason, "disk limit") {
		// It wrote 48 MB before the watcher's next scan: a task that stays
		// is killed at the scan.
		st, _ = launch(api.TaskInfo{Args: []string{"/bin/sh", "-c", "/probe fill big 48; sleep 30"}, Resources: "cpus:0.2;mem:64;disk:16"})
	}
	if st.State != api.TaskFailed || !strings.HasPrefix(st.Reason, "disk limit exceeded") {
		t.Errorf("fill the disk: %+v", st)
	}
	verdict("fill the disk past the task's limit", string(st.State)+": "+st.Reason)

	// The host is as it was.
	if got := snapshotDir(t, host); got != hostBefore {
		t.Errorf("the host directory changed:\n%s\nwas\n%s", got, hostBefore)
	}
	if fileSum(t, helperPath) != helperSum {
		t.Error("the launch helper's binary changed")
	}
	if now, _ := os.ReadFile("/proc/sys/kernel/hostname"); string(now) != string(hostname) {
		t.Errorf("the host name changed to %q", now)
	}
}

// imageWithLink packs an image holding name -> target and returns it.
func imageWithLink(t *testing.T, dir, name, target string) *api.Image {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeSymlink, Linkname: target, Mode: 0o777}); err != nil {
		t.Fatal(err)
	}
	tw.Close()
	path := filepath.Join(dir, name+"-image.tar")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return &api.Image{URI: "file://" + path}
}

// tarFileMode packs the host file src as entry name with mode (owner
// root) into dir/archive.
func tarFileMode(t *testing.T, dir, archive, name, src string, mode int64) string {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: mode, Size: int64(len(data))})
	tw.Write(data)
	tw.Close()
	path := filepath.Join(dir, archive)
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func tarFile(t *testing.T, dir, name string, files map[string]string) string {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for n, body := range files {
		tw.WriteHeader(&tar.Header{Name: n, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body))})
		tw.Write([]byte(body))
	}
	tw.Close()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// snapshotDir lists a directory's entries with their contents.
func snapshotDir(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %v", p, d.Type())
		if d.Type().IsRegular() {
			data, _ := os.ReadFile(p)
			fmt.Fprintf(&b, " %q", data)
		}
		b.WriteString("\n")
		return nil
	})
	return b.String()
}

func fileSum(t *testing.T, path string) [32]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(data)
}

// rootDevice is the major:minor of the disk holding /.
func rootDevice(t *testing.T) string {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat("/", &st); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%d:%d", unix.Major(st.Dev), unix.Minor(st.Dev))
}

// inRange reports whether the probe's "uid=N" is an ID of r.
func inRange(r UIDRange, out string) bool {
	_, after, _ := strings.Cut(out, "uid=")
	uid, err := strconv.ParseUint(strings.Fields(after + " ")[0], 10, 32)
	return err == nil && uint32(uid) >= r.First && uint32(uid) <= r.Last
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 120 {
		s = s[:120] + "..."
	}
	return s
}
