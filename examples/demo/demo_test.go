//go:build linux

package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gleaner/gleaner/internal/testenv"
	"github.com/gleaner/gleaner/isolate"
)

// demoMainEnv makes the test binary, re-executed, run the demo's main: the
// tests below drive the real command, signals included.
const demoMainEnv = "GLEANER_DEMO_MAIN"

func init() {
	if os.Getenv(demoMainEnv) == "1" {
		os.Args = append([]string{"demo"}, strings.Fields(os.Getenv("GLEANER_DEMO_ARGS"))...)
		main()
		os.Exit(0)
	}
}

// demoProcess is the demo command running in a child process.
type demoProcess struct {
	cmd    *exec.Cmd
	lines  chan string
	output strings.Builder
}

func startDemoProcess(t *testing.T, binary string, cred *syscall.Credential, args ...string) *demoProcess {
	t.Helper()
	cmd := exec.Command(binary)
	cmd.Env = append(os.Environ(), demoMainEnv+"=1", "GLEANER_DEMO_ARGS="+strings.Join(args, " "))
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &demoProcess{cmd: cmd, lines: make(chan string, 1000)}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			d.lines <- sc.Text()
		}
		close(d.lines)
	}()
	// A test that fails before its Ctrl-C still stops the demo with one,
	// so that the demo removes what it made; SIGKILL only if that hangs.
	t.Cleanup(func() {
		if cmd.ProcessState != nil {
			return
		}
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() {
			for range d.lines {
			}
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(time.Minute):
			_ = cmd.Process.Kill()
		}
		_ = cmd.Wait()
	})
	return d
}

// waitLine returns the first output line matching re, and the submatches.
func (d *demoProcess) waitLine(t *testing.T, re *regexp.Regexp, timeout time.Duration) []string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case l, ok := <-d.lines:
			if !ok {
				t.Fatalf("demo exited without printing a line matching %s; output:\n%s", re, d.output.String())
			}
			d.output.WriteString(l + "\n")
			if m := re.FindStringSubmatch(l); m != nil {
				return m
			}
		case <-deadline:
			t.Fatalf("no line matching %s after %v; output:\n%s", re, timeout, d.output.String())
		}
	}
}

// interrupt sends SIGINT, as Ctrl-C does, and waits for a clean exit.
func (d *demoProcess) interrupt(t *testing.T) {
	t.Helper()
	if err := d.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	for l := range d.lines {
		d.output.WriteString(l + "\n")
	}
	if err := d.cmd.Wait(); err != nil {
		t.Fatalf("demo after Ctrl-C: %v; output:\n%s", err, d.output.String())
	}
}

var (
	startedLine = regexp.MustCompile(`cgroups under (\S+), files in (\S+)$`)
	runningLine = regexp.MustCompile(`^\s+agent-3 .*tasks [1-9]`)
)

// TestCtrlCRemovesEverythingTheDemoMade runs the demo command until its
// agents run tasks, presses Ctrl-C (SIGINT) and checks that it exits cleanly
// and leaves no cgroup, mount, directory or task process behind.
func TestCtrlCRemovesEverythingTheDemoMade(t *testing.T) {
	testenv.RequireCgroupV1(t, "cpu", "memory")
	features, err := isolate.Detect()
	if err != nil {
		t.Fatal(err)
	}
	d := startDemoProcess(t, os.Args[0], nil, "-listen", "127.0.0.1:0", "-summary", "250ms")
	m := d.waitLine(t, startedLine, 60*time.Second)
	cgroupRoot, dir := m[1], m[2]
	d.waitLine(t, runningLine, 60*time.Second)

	var cgroupDirs []string
	for _, mount := range features.Mounts {
		p := filepath.Join(mount, cgroupRoot)
		if _, err := os.Stat(p); err == nil {
			cgroupDirs = append(cgroupDirs, p)
		}
	}
	if len(cgroupDirs) == 0 {
		t.Fatalf("no cgroup %s on any hierarchy while the demo runs", cgroupRoot)
	}
	taskPIDs := processesIn(t, filepath.Join(features.Mounts["memory"], cgroupRoot))
	if len(taskPIDs) == 0 {
		t.Fatalf("no process in the demo's cgroups under %s while it runs", cgroupRoot)
	}

	d.interrupt(t)
	for _, p := range cgroupDirs {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("cgroup %s left behind (%v)", p, err)
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("directory %s left behind (%v)", dir, err)
	}
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mounts), dir) {
		t.Errorf("mounts under %s left behind", dir)
	}
	for _, pid := range taskPIDs {
		if err := syscall.Kill(pid, 0); err == nil {
			t.Errorf("task process %d still runs", pid)
		}
	}
}

// processesIn returns the PIDs in the cgroups under dir (a cgroup
// directory on one hierarchy): the demo's tasks and simulated business.
func processesIn(t *testing.T, dir string) []int {
	t.Helper()
	var pids []int
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.Name() != "cgroup.procs" {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, f := range strings.Fields(string(b)) {
			var pid int
			if _, err := fmt.Sscan(f, &pid); err == nil {
				pids = append(pids, pid)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return pids
}

// TestDemoRunsWithoutRoot runs the demo as an unprivileged user and checks
// that it starts, reports the agents' isolation as unavailable, and stops
// cleanly on Ctrl-C.
func TestDemoRunsWithoutRoot(t *testing.T) {
	testenv.RequireRoot(t) // to switch to another user
	// The test binary sits in a directory only root may enter: copy it.
	dir, err := os.MkdirTemp("", "gleaner-test-demo-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	binary := filepath.Join(dir, "demo")
	copyFile(t, os.Args[0], binary)
	home := filepath.Join(dir, "home")
	if err := os.Mkdir(home, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(home, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	d := startDemoProcess(t, binary, &syscall.Credential{Uid: 65534, Gid: 65534},
		"-listen", "127.0.0.1:0", "-summary", "250ms", "-dir", filepath.Join(home, "demo"))
	d.waitLine(t, regexp.MustCompile(`dashboard at https://127\.0\.0\.1:\d+/#token=`), 60*time.Second)
	d.waitLine(t, regexp.MustCompile(`^\s+agent-1 .*isolation: unavailable`), 60*time.Second)
	d.interrupt(t)
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
