//go:build linux

package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/gleaner/gleaner/attrs"
	"github.com/gleaner/gleaner/examples/internal/agent"
	"github.com/gleaner/gleaner/examples/internal/api"
	"github.com/gleaner/gleaner/examples/internal/auth"
	"github.com/gleaner/gleaner/examples/internal/auth/authtest"
	"github.com/gleaner/gleaner/examples/internal/master"
	"github.com/gleaner/gleaner/examples/internal/metricstest"
	"github.com/gleaner/gleaner/internal/etcdtest"
	"github.com/gleaner/gleaner/internal/testenv"
	"github.com/gleaner/gleaner/rootfs"
)

var built struct {
	once   sync.Once
	dir    string
	path   string
	helper string
	err    error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// buildAgent builds the agent once per test run and returns its path.
func buildAgent(t *testing.T) string {
	t.Helper()
	goTool := testenv.RequireBinary(t, "go")
	built.once.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "gleaner-test-agent-build-"); built.err != nil {
			return
		}
		built.path = filepath.Join(built.dir, "agent")
		out, err := exec.Command(goTool, "build", "-o", built.path, ".").CombinedOutput()
		if err != nil {
			built.err = fmt.Errorf("go build: %w\n%s", err, out)
			return
		}
		// The launch helper, beside the agent, where install takes it.
		built.helper, built.err = testenv.BuildProgram(rootfs.HelperPackage, built.dir)
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.path
}

func copyExecutable(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, data, 0o755)
}

// agentLog is the file an agent process logs to, outside its directory.
type agentLog string

func (l agentLog) String() string {
	b, _ := os.ReadFile(string(l))
	return string(b)
}

// attach sends cmd's output to the log.
func (l agentLog) attach(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	f, err := os.OpenFile(string(l), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	cmd.Stdout, cmd.Stderr = f, f
}

// cluster is a real etcd and a real master on loopback.
type cluster struct {
	etcd   *etcdtest.Server
	cli    *clientv3.Client
	master *master.Master
	prefix string
}

func startCluster(t *testing.T, name string) *cluster {
	t.Helper()
	c := &cluster{etcd: etcdtest.Start(t), prefix: "/" + name}
	c.cli = c.etcd.Client(t)
	// The master and the agent reach etcd as themselves, limited to their
	// key prefixes.
	m1, a := authtest.Principal(t, "master/m1"), authtest.Principal(t, "agent/"+name)
	mcli := authtest.Etcd(t, c.etcd, c.prefix, m1, a)
	m, err := master.New(master.Config{Etcd: mcli, Prefix: c.prefix, Listen: "127.0.0.1:0", ID: "m1",
		TLS: authtest.Master(t, "m1"), ACL: auth.AllowAll(),
		AllocationInterval: 200 * time.Millisecond, ReportInterval: 200 * time.Millisecond, SessionTTL: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	c.master = m
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); m.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	testenv.Eventually(t, 30*time.Second, m.IsLeader, "the master to lead")
	return c
}

// agentProcess runs the installed agent binary.
type agentProcess struct {
	cmd *exec.Cmd
	log agentLog
}

func startAgent(t *testing.T, bin string, env []string, log agentLog) *agentProcess {
	t.Helper()
	cmd := exec.Command(bin)
	cmd.Env = env
	log.attach(t, cmd)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return &agentProcess{cmd: cmd, log: log}
}

// signal sends sig and waits for the agent to exit with status 0.
func (p *agentProcess) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	p.cmd.Process.Signal(sig)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("agent exited with %v after %v; log:\n%s", err, sig, p.log)
		}
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		<-done // sets ProcessState, which the tests' cleanups read
		t.Fatalf("agent did not exit after %v; log:\n%s", sig, p.log)
	}
}

// operatorURL is the base URL of requests to an agent's operator socket,
// which httpJSON sends through the socket named after the prefix.
const operatorURL = "unix:"

// httpJSON sends a request as an operator: over the operator socket of
// operatorURL+socket+"|"+path, else over HTTPS with an operator's
// certificate.
func httpJSON(t *testing.T, method, url, body string, out any) int {
	t.Helper()
	client := authtest.Client(t, authtest.Principal(t, "operator/ops"))
	if rest, ok := strings.CutPrefix(url, operatorURL); ok {
		socket, path, _ := strings.Cut(rest, "|")
		client, url = agent.OperatorClient(socket), agent.OperatorURL+path
	}
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	if out != nil {
		json.NewDecoder(resp.Body).Decode(out)
	} else {
		io.Copy(io.Discard, resp.Body)
	}
	return resp.StatusCode
}

func agentTask(t *testing.T, url, id string) api.TaskStatus {
	var tasks []api.TaskStatus
	httpJSON(t, http.MethodGet, url+agent.PathTasks, "", &tasks)
	for _, s := range tasks {
		if s.TaskID == id {
			return s
		}
	}
	return api.TaskStatus{}
}

func masterTask(t *testing.T, c *cluster, id string) api.TaskView {
	var st api.State
	httpJSON(t, http.MethodGet, c.master.URL()+api.PathState, "", &st)
	for _, v := range st.Tasks {
		if v.TaskID == id {
			return v
		}
	}
	return api.TaskView{}
}

// TestInstallRunRestartUninstall installs the agent into a directory with
// its own install command, runs a task on it through a real master, restarts
// the agent (the task keeps running and is adopted), stops it, deletes the
// directory, and checks that no process, cgroup, mount or file is left.
func TestInstallRunRestartUninstall(t *testing.T) {
	testenv.RequireCgroupV1(t, "cpu", "cpuacct", "memory")
	testenv.RequireMountNamespace(t)

	b := make([]byte, 4)
	rand.Read(b)
	name := "gleaner-test-agent-install-" + hex.EncodeToString(b)
	base := testenv.TempDirOnDisk(t)
	dir := filepath.Join(base, "opt", "gleaner-agent")
	home, tmp := filepath.Join(base, "home"), filepath.Join(base, "tmp")
	for _, d := range []string{home, tmp} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// Build the agent, then let it install itself.
	build := filepath.Join(base, "build", "agent")
	if err := os.MkdirAll(filepath.Dir(build), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := copyExecutable(buildAgent(t), build); err != nil {
		t.Fatal(err)
	}
	if err := copyExecutable(built.helper, filepath.Join(filepath.Dir(build), rootfs.HelperName)); err != nil {
		t.Fatal(err)
	}
	c := startCluster(t, name)
	port := testenv.FreePort(t)
	agentURL := fmt.Sprintf("https://127.0.0.1:%d", port)
	opURL := operatorURL + agent.DefaultOperatorSocket(dir) + "|"
	tf := authtest.Files(t, authtest.Principal(t, "agent/"+name))
	install := exec.Command(build, "install", "-dir", dir, "-id", name, "-listen", fmt.Sprintf("127.0.0.1:%d", port),
		"-ca", tf.CA, "-cert", tf.Cert, "-key", tf.Key, "-masters", c.master.URL(), "-etcd", c.etcd.Endpoint(), "-prefix", c.prefix, "-attributes", "rack:r1",
		"-interval", "200ms", "-cgroup-parent", "/"+name)
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("agent install: %v\n%s", err, out)
	} else {
		t.Logf("%s", out)
	}
	if err := os.RemoveAll(filepath.Dir(build)); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "bin", "agent")
	for _, p := range []string{bin, filepath.Join(dir, "bin", rootfs.HelperName), filepath.Join(dir, "lib"), filepath.Join(dir, configName), filepath.Join(dir, "tls", "agent-key.pem")} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("install did not make %s: %v", p, err)
		}
	}
	// Nothing the agent does may land in HOME or TMPDIR.
	env := []string{"PATH=/usr/bin:/bin", "HOME=" + home, "TMPDIR=" + tmp}
	log := agentLog(filepath.Join(base, "agent.log"))
	proc := startAgent(t, bin, env, log)
	t.Cleanup(func() {
		if proc.cmd.ProcessState == nil {
			proc.cmd.Process.Kill()
			proc.cmd.Wait()
		}
		// An agent that exited on its own but failed the test may have
		// left tasks; after a passing test dir is gone and this is a no-op.
		sweep(dir, name)
		if t.Failed() {
			t.Logf("agent log:\n%s", log)
		}
	})
	testenv.Eventually(t, 30*time.Second, func() bool {
		var info agent.ReservationInfo
		return httpJSON(t, http.MethodGet, opURL+agent.PathReservation, "", &info) == http.StatusOK && info.Ready
	}, "the agent's endpoint")
	// The other tests on this machine are business too; a floor makes sure
	// the agent lends something to offer.
	if code := httpJSON(t, http.MethodPut, opURL+agent.PathReservation, `{"floor":"cpus:1;mem:256;disk:64"}`, nil); code != http.StatusOK {
		t.Fatalf("PUT /reservation = %d", code)
	}

	// The agent is alive in etcd and follows its attributes there.
	store, err := attrs.NewEtcdStore(c.cli, attrs.WithPrefix(c.prefix))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Set(context.Background(), name, "zone", attrs.Text("east")); err != nil {
		t.Fatal(err)
	}
	alive := c.prefix + "/agents/" + name + "/alive"
	testenv.Eventually(t, 30*time.Second, func() bool {
		r, err := c.cli.Get(context.Background(), alive)
		return err == nil && len(r.Kvs) == 1
	}, "the agent's liveness key")

	// A framework takes an offer from the agent and launches a task.
	fw := subscribe(t, c)
	fw.launch("an offer from the agent with its etcd attributes", func(o api.Offer) bool {
		return o.AgentID == name && o.Attributes["zone"] == "east" && o.Attributes["rack"] == "r1"
	}, api.TaskInfo{TaskID: "t1", AppID: "app", Cmd: "echo started > /started; sleep 1000", Resources: "cpus:0.1;mem:32;disk:16"})
	procs := filepath.Join("/sys/fs/cgroup/cpu", name, "t1", "cgroup.procs")
	pids, err := os.ReadFile(procs)
	if err != nil || len(bytes.TrimSpace(pids)) == 0 {
		t.Fatalf("task cgroup %s: %q %v", procs, pids, err)
	}

	// Restart: SIGUSR1 leaves the task running; the next agent adopts it.
	proc.signal(t, syscall.SIGUSR1)
	if now, _ := os.ReadFile(procs); !bytes.Equal(now, pids) {
		t.Fatalf("task processes changed over the agent's exit: %q, then %q", pids, now)
	}
	reports := func() float64 {
		return metricstest.Value(t, c.master.URL()+api.PathMetrics, "gleaner_master_http_requests_total", "route", api.PathAgentReport, "code", "200")
	}
	reportsBefore := reports()
	proc = startAgent(t, bin, env, log)
	testenv.Eventually(t, 30*time.Second, func() bool {
		return agentTask(t, agentURL, "t1").State == api.TaskRunning
	}, "the restarted agent to hold t1")
	testenv.Eventually(t, 30*time.Second, func() bool { return reports() >= reportsBefore+3 }, "three reports from the restarted agent")
	if v := masterTask(t, c, "t1"); v.State != api.TaskRunning {
		t.Fatalf("master after the agent's restart: %+v, want t1 RUNNING", v)
	}
	if !strings.Contains(log.String(), "adopted running task") {
		t.Error("the restarted agent did not log the adoption")
	}

	// Stop: the task is killed and reported.
	proc.signal(t, syscall.SIGTERM)
	if st := fw.ended("t1"); st.State != api.TaskKilled || st.Reason != "agent stopped" {
		t.Errorf("final status %+v, want KILLED by the agent's stop", st)
	}
	testenv.Eventually(t, 30*time.Second, func() bool {
		r, err := c.cli.Get(context.Background(), alive)
		return err == nil && len(r.Kvs) == 0
	}, "the liveness key to go")

	// Uninstall: delete the directory; nothing may be left.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatalf("uninstall: %v", err)
	}
	checkNothingLeft(t, dir, name)
	for _, d := range []string{home, tmp} {
		if entries, _ := os.ReadDir(d); len(entries) > 0 {
			t.Errorf("the agent wrote outside its directory, in %s: %v", d, entries)
		}
	}
}

// sweep removes what a killed agent left in dir: an agent started there
// and stopped at once kills its tasks and removes their cgroups and mounts.
func sweep(dir, name string) {
	if _, err := os.Stat(dir); err != nil {
		return
	}
	a, err := agent.New(agent.Config{Dir: dir, ID: name, CgroupParent: "/" + name})
	if err != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	a.Run(ctx)
}

// checkNothingLeft looks for processes, cgroups and mounts of an agent
// installed in dir with cgroup parent /name.
func checkNothingLeft(t *testing.T, dir, name string) {
	t.Helper()
	hierarchies, _ := filepath.Glob("/sys/fs/cgroup/*")
	for _, h := range hierarchies {
		if _, err := os.Stat(filepath.Join(h, name)); err == nil {
			t.Errorf("cgroup %s left behind", filepath.Join(h, name))
		}
	}
	mountinfo, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(mountinfo), dir) {
		t.Errorf("mounts under %s left behind", dir)
	}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		for _, link := range []string{"exe", "cwd", "root"} {
			target, err := os.Readlink(filepath.Join("/proc", e.Name(), link))
			if err == nil && strings.HasPrefix(target, dir) {
				t.Errorf("process %s has its %s in %s", e.Name(), link, target)
			}
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s still exists: %v", dir, err)
	}
}

func TestFlagsOverrideTheConfigFile(t *testing.T) {
	f := newFlags("agent", io.Discard)
	if err := f.parse([]string{"-id", "a2", "-masters", "http://m1,http://m2", "-cgroup-parent", "/x", "-attributes", ""}); err != nil {
		t.Fatal(err)
	}
	file := fileConfig{ID: "a1", Etcd: []string{"e1"}, Attributes: "rack:r1", Capacity: "cpus:2", Interval: "2s"}
	got := f.merged(file)
	want := fileConfig{ID: "a2", Listen: "127.0.0.1:5051", Masters: []string{"http://m1", "http://m2"}, Etcd: []string{"e1"},
		Capacity: "cpus:2", Interval: "2s", CgroupParent: "/x"}
	gotJSON, _ := json.Marshal(got)
	wantJSON, _ := json.Marshal(want)
	if !bytes.Equal(gotJSON, wantJSON) {
		t.Errorf("merged = %s, want %s", gotJSON, wantJSON)
	}
}

func TestRunRefusesBadInput(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name string
		args []string
		file string
		want string
	}{
		{"unknown flag", []string{"-dir", dir, "-nope"}, "", "flag provided but not defined"},
		{"extra argument", []string{"-dir", dir, "extra"}, "", `unexpected argument "extra"`},
		{"bad capacity", []string{"-dir", dir, "-capacity", "cpus:x", "-insecure"}, "", "Config.Capacity"},
		{"bad isolation", []string{"-dir", dir, "-isolation", "maybe", "-insecure"}, "", `Config.Isolation "maybe"`},
		{"unknown field in the file", []string{"-dir", dir}, `{"id":"a","colour":"red"}`, `unknown field "colour"`},
		{"malformed file", []string{"-dir", dir}, `{"id":`, "agent.json"},
		{"bad interval in the file", []string{"-dir", dir}, `{"interval":"soon","insecure":true}`, `interval "soon"`},
		{"neither TLS files nor insecure", []string{"-dir", dir}, "", "-insecure"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			os.Remove(filepath.Join(dir, configName))
			if c.file != "" {
				if err := os.WriteFile(filepath.Join(dir, configName), []byte(c.file), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			var stderr bytes.Buffer
			if code := run(context.Background(), c.args, &stderr); code != 2 || !strings.Contains(stderr.String(), c.want) {
				t.Errorf("run = %d, stderr %q; want 2 and %q", code, stderr.String(), c.want)
			}
		})
	}
}

// TestWithoutRootTasksRunAsPlainProcesses runs the agent binary as an
// unprivileged user: it reports isolation unavailable and still runs the
// master's tasks, as plain processes, and still evicts them when the
// reservation drops below what they hold.
// TestWithoutRootTheAgentFailsClosed: an agent that cannot isolate (here,
// not root) lends nothing and says why; with -isolation=none, the
// operator's choice, it runs tasks as plain processes and reports that.
func TestWithoutRootTheAgentFailsClosed(t *testing.T) {
	testenv.RequireRoot(t) // to become nobody
	b := make([]byte, 4)
	rand.Read(b)
	name := "gleaner-test-agent-nonroot-" + hex.EncodeToString(b)
	base := t.TempDir()
	dir := filepath.Join(base, "agent")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{filepath.Dir(base), base} {
		os.Chmod(d, 0o755)
	}
	bin := filepath.Join(dir, "agent")
	if err := copyExecutable(buildAgent(t), bin); err != nil {
		t.Fatal(err)
	}
	const nobody = 65534
	if err := os.Chown(dir, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	c := startCluster(t, name)
	port := testenv.FreePort(t)
	agentURL := operatorURL + agent.DefaultOperatorSocket(dir) + "|"
	// The agent's TLS files, readable by the agent's user.
	tf := authtest.Files(t, authtest.Principal(t, "agent/"+name))
	for _, f := range []string{tf.CA, tf.Cert, tf.Key} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(filepath.Join(dir, filepath.Base(f)), nobody, nobody); err != nil {
			t.Fatal(err)
		}
	}
	log := agentLog(filepath.Join(base, "agent.log"))
	startAs := func(extra ...string) *agentProcess {
		cmd := exec.Command(bin, append([]string{"-id", name, "-listen", fmt.Sprintf("127.0.0.1:%d", port), "-masters", c.master.URL(),
			"-interval", "200ms", "-ca", filepath.Base(tf.CA), "-cert", filepath.Base(tf.Cert), "-key", filepath.Base(tf.Key)}, extra...)...)
		cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + dir}
		log.attach(t, cmd)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if cmd.ProcessState == nil {
				cmd.Process.Kill()
				cmd.Wait()
			}
		})
		return &agentProcess{cmd: cmd, log: log}
	}
	t.Cleanup(func() {
		sweep(dir, name)
		if t.Failed() {
			t.Logf("agent log:\n%s", log)
		}
	})
	ready := func() agent.ReservationInfo {
		var info agent.ReservationInfo
		testenv.Eventually(t, 30*time.Second, func() bool {
			return httpJSON(t, http.MethodGet, agentURL+agent.PathReservation, "", &info) == http.StatusOK && info.Ready
		}, "the agent's endpoint")
		return info
	}

	// Fail closed: a floor asks it to lend, it still lends nothing.
	proc := startAs()
	ready()
	if code := httpJSON(t, http.MethodPut, agentURL+agent.PathReservation, `{"floor":"cpus:1;mem:256"}`, nil); code != http.StatusOK {
		t.Fatalf("PUT /reservation = %d", code)
	}
	var info agent.ReservationInfo
	testenv.Eventually(t, 30*time.Second, func() bool {
		httpJSON(t, http.MethodGet, agentURL+agent.PathReservation, "", &info)
		return info.Floor == "cpus:1;mem:256"
	}, "the floor to apply")
	if !strings.HasPrefix(info.Isolation, "unavailable: not root") {
		t.Errorf("isolation = %q, want unavailable: not root", info.Isolation)
	}
	if !strings.HasPrefix(info.Reservation, "cpus:0;mem:0;") {
		t.Errorf("reservation = %q without isolation, want nothing lent", info.Reservation)
	}
	proc.signal(t, syscall.SIGTERM)

	// The operator's explicit choice: plain processes, reported.
	proc = startAs("-isolation", "none")
	if info := ready(); !strings.HasPrefix(info.Isolation, "none: ") {
		t.Errorf("isolation = %q, want none: the operator's choice", info.Isolation)
	}
	fw := subscribe(t, c)
	fw.launch("an offer from the agent", func(o api.Offer) bool { return o.AgentID == name },
		api.TaskInfo{TaskID: "plain", AppID: "app", Cmd: "id -u > uid; sleep 1000", Resources: "cpus:0.1;mem:32"})
	testenv.Eventually(t, 30*time.Second, func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, "sandboxes", "plain", "uid"))
		return string(b) == "65534\n"
	}, "the task's output")
	// An operator's cap below what the task holds evicts it, and the
	// master and the framework learn why.
	if code := httpJSON(t, http.MethodPut, agentURL+agent.PathReservation, `{"cap":"cpus:1;mem:0"}`, nil); code != http.StatusOK {
		t.Fatalf("PUT /reservation = %d", code)
	}
	if st := fw.ended("plain"); st.State != api.TaskKilled || !strings.HasPrefix(st.Reason, api.ReasonEvicted+": ") {
		t.Errorf("final status %+v, want KILLED with an eviction reason", st)
	}
	proc.signal(t, syscall.SIGTERM)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	checkNothingLeft(t, dir, name)
}
