//go:build linux

package agent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gleaner/gleaner/examples/internal/api"
	"github.com/gleaner/gleaner/examples/internal/auth/authtest"
	"github.com/gleaner/gleaner/internal/testenv"
	"github.com/gleaner/gleaner/isolate"
	"github.com/gleaner/gleaner/reserve"
	"github.com/gleaner/gleaner/rootfs"
)

func TestMain(m *testing.M) {
	rootfs.Init() // Start re-executes the test binary as the launch helper.
	if mbs := os.Getenv(memoryHogEnv); mbs != "" {
		memoryHog(mbs)
	}
	// The launch helper the agent installs beside itself, and the escape
	// suite's probe.
	dir, err := os.MkdirTemp("", "gleaner-test-agent-programs-")
	if err == nil {
		programsDir = dir
		if helperPath, err = testenv.BuildProgram(rootfs.HelperPackage, dir); err == nil {
			probePath, err = testenv.BuildProgram("github.com/gleaner/gleaner/rootfs/internal/probe", dir)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// programsDir holds the programs TestMain built: helperPath, the launch
// helper every test agent uses, and probePath, the escape suite's probe.
var programsDir, helperPath, probePath string

// memoryHogEnv makes the test binary a business process that holds the
// given number of MiB of memory until it is killed.
const memoryHogEnv = "GLEANER_AGENT_TEST_MEMORY_HOG_MB"

func memoryHog(mbs string) {
	n, err := strconv.Atoi(mbs)
	if err != nil {
		os.Exit(2)
	}
	// Wait for "go": the parent may first move this process into a cgroup,
	// which must be charged for the memory.
	var line [3]byte
	if _, err := io.ReadFull(os.Stdin, line[:]); err != nil {
		os.Exit(4)
	}
	// MAP_POPULATE makes the kernel fault every page in, without Go code
	// touching (and the race detector shadowing) them.
	if _, err := unix.Mmap(-1, 0, n<<20, unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_POPULATE); err != nil {
		os.Exit(3)
	}
	os.Stdout.WriteString("ready\n")
	for {
		time.Sleep(time.Hour) // until killed
	}
}

// uniqueName is a per-test name for agents and cgroups, so that tests of
// other packages running on the same machine never meet ours.
// idleBusiness gives cfg a business cgroup of its own with nothing in it:
// the machine runs other work (other tests, other checkouts' suites) that
// the agent must not take for its business, or it would lend nothing and
// evict what it runs. A test that wants business load puts it there.
func idleBusiness(t testing.TB, cfg *Config) {
	t.Helper()
	iso, err := isolate.New(isolate.WithParent("/" + uniqueName(t) + "-business"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { iso.Destroy(context.Background()) })
	if _, err := iso.Create("business", isolate.Limits{CPUs: 1, MemoryBytes: 64 << 20}); err != nil {
		t.Fatal(err)
	}
	cfg.BusinessCgroup = iso.Parent() + "/business"
}

func uniqueName(t testing.TB) string {
	b := make([]byte, 4)
	rand.Read(b)
	return "gleaner-test-agent-" + hex.EncodeToString(b)
}

// testConfig is a fast configuration: 200 ms samples, headroom policy, no
// damping, quick disk scans and kills.
func testConfig(t testing.TB, dir string) Config {
	name := uniqueName(t)
	h := reserve.Hysteresis{}
	return Config{
		Dir:          dir,
		ID:           name,
		TLS:          authtest.Agent(t, name),
		CgroupParent: "/" + name,
		Interval:     200 * time.Millisecond,
		Policy:       reserve.Headroom{},
		Hysteresis:   &h,
		DiskInterval: 200 * time.Millisecond,
		KillGrace:    300 * time.Millisecond,
		InitHelper:   helperPath,
		Logger:       slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// testFloor is the operator floor start sets.
const testFloor = "cpus:1;mem:1024"

// running is an agent running in a goroutine.
type running struct {
	*Agent
	cancel context.CancelCauseFunc
	done   chan error
	kept   bool // stopped with ErrRestart: tasks may still run
}

// opURL is the base URL of the agent's operator socket, for do.
func (r *running) opURL() string {
	socketsMu.Lock()
	defer socketsMu.Unlock()
	sockets[r.cfg.ID] = r.OperatorSocket()
	return "http://" + r.cfg.ID
}

// sockets are the operator sockets of opURL's hosts; clients the
// operator's HTTPS clients of each test.
var (
	socketsMu sync.Mutex
	sockets   = map[string]string{}
	clients   = map[string]*http.Client{}
)

// clientFor returns the client for u: the operator socket of an opURL,
// else an operator's HTTPS client, one per test.
func clientFor(t testing.TB, u *url.URL) *http.Client {
	t.Helper()
	socketsMu.Lock()
	defer socketsMu.Unlock()
	if path, ok := sockets[u.Host]; ok {
		return OperatorClient(path)
	}
	c, ok := clients[t.Name()]
	if !ok {
		c = authtest.Client(t, authtest.Principal(t, "operator/ops"))
		clients[t.Name()] = c
	}
	return c
}

// operatorHTTP is the operator's HTTPS client of the test.
func operatorHTTP(t testing.TB) *http.Client {
	t.Helper()
	return clientFor(t, &url.URL{})
}

// closeIdleClients closes the idle connections of clientFor's clients.
func closeIdleClients() {
	socketsMu.Lock()
	defer socketsMu.Unlock()
	for _, c := range clients {
		c.CloseIdleConnections()
	}
}

// start runs an agent with cfg until the test ends (or stop is called).
func start(t *testing.T, cfg Config) *running {
	t.Helper()
	a, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	r := &running{Agent: a, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- a.Run(ctx) }()
	t.Cleanup(func() {
		r.stop(t, nil)
		if r.kept {
			// Stopped with ErrRestart: an agent on the same directory,
			// stopped at once, kills what was left and removes it.
			if b, err := New(cfg); err == nil {
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				b.Run(ctx)
			}
		}
	})
	testenv.Eventually(t, 30*time.Second, func() bool { return a.reservation().Ready }, "first reservation")
	// Business is everything outside Gleaner, here the other tests running
	// on this machine, which can take every CPU: a floor keeps them from
	// evicting the tasks of tests that are not about eviction.
	if a.reservation().Floor == "" {
		if _, err := a.setReservation(ReservationOverride{Floor: testFloor}); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// stop ends the agent with cause (nil: a normal stop) and returns Run's
// error. Stopping twice is harmless.
func (r *running) stop(t *testing.T, cause error) error {
	t.Helper()
	if cause == nil {
		cause = errors.New("test stops the agent")
	}
	r.kept = r.kept || errors.Is(cause, ErrRestart)
	r.cancel(cause)
	select {
	case err, ok := <-r.done:
		if ok {
			close(r.done)
		}
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("agent did not stop within 30 s")
		return nil
	}
}

// requireIsolation skips (or fails under GLEANER_REQUIRE_PRIVILEGED=1) unless
// tasks can run in cgroups and roots.
func requireIsolation(t *testing.T) {
	t.Helper()
	testenv.RequireCgroupV1(t, "cpu", "cpuacct", "memory")
	testenv.RequireMountNamespace(t)
}

// status returns the status of one task, or false.
func status(a *Agent, id string) (api.TaskStatus, bool) {
	for _, s := range a.taskStatuses() {
		if s.TaskID == id {
			return s, true
		}
	}
	return api.TaskStatus{}, false
}

// waitState waits until task id is in state and returns its status; a task
// that ends in another state fails the test at once.
func waitState(t testing.TB, a *Agent, id string, state api.TaskState, timeout time.Duration) api.TaskStatus {
	t.Helper()
	var got api.TaskStatus
	testenv.Eventually(t, timeout, func() bool {
		s, ok := status(a, id)
		if ok && s.State != state && s.State.Terminal() {
			stderr, _ := os.ReadFile(filepath.Join(a.cfg.sandboxDir(), id, "stderr"))
			t.Fatalf("task %s: want %s, have %+v (stderr %q)", id, state, s, stderr)
		}
		got = s
		return ok && s.State == state
	}, "task %s %s (last seen %+v)", id, state, &got)
	return got
}

func readSandbox(t testing.TB, a *Agent, id, file string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(a.cfg.sandboxDir(), id, file))
	if err != nil {
		t.Fatalf("read %s of task %s: %v", file, id, err)
	}
	return string(b)
}

// cgroupExists reports whether the cgroup path exists in the v1 cpu hierarchy.
func cgroupExists(path string) bool {
	_, err := os.Stat(filepath.Join("/sys/fs/cgroup/cpu", path))
	return err == nil
}
