package cgroupstat_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gleaner/gleaner/internal/cgroupstat"
	"github.com/gleaner/gleaner/internal/testenv"
	"github.com/gleaner/gleaner/isolate"
	"github.com/gleaner/gleaner/monitor"
)

// TestTaskAndBusinessMemoryAgree writes a file from inside a real cgroup,
// so that its page cache is charged there, and reads the cgroup both as
// the agent reads a task (isolate) and as it reads the business (monitor):
// the two must report the same working set, without the page cache, or
// QoS would compare task memory with cache against business memory without.
func TestTaskAndBusinessMemoryAgree(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireCgroupV1(t, "cpu", "cpuacct", "memory")
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	iso, err := isolate.New(isolate.WithParent("/gleaner-test-cgroupstat-" + hex.EncodeToString(b)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := iso.Destroy(ctx); err != nil {
			t.Errorf("Destroy: %v", err)
		}
	})
	task, err := iso.Create("writer", isolate.Limits{CPUs: 1, MemoryBytes: 512 << 20})
	if err != nil {
		t.Fatal(err)
	}

	// The shell joins the cgroup, then dd writes 64 MiB: page cache
	// charged to the cgroup, which stays charged after dd exits.
	const cacheBytes = 64 << 20
	file := filepath.Join(testenv.TempDirOnDisk(t), "cache")
	var join strings.Builder
	for _, f := range task.ProcsFiles() {
		fmt.Fprintf(&join, "echo $$ > %s && ", f)
	}
	script := join.String() + fmt.Sprintf("exec dd if=/dev/zero of=%s bs=1M count=%d conv=fsync status=none", file, cacheBytes>>20)
	if out, err := exec.Command("/bin/sh", "-c", script).CombinedOutput(); err != nil {
		t.Fatalf("write the file in the cgroup: %v\n%s", err, out)
	}

	cgPath := path.Join(iso.Parent(), task.Name())
	feat := iso.Features()
	root, memDir, usageFile := filepath.Dir(feat.Mounts["memory"]), filepath.Join(feat.Mounts["memory"], cgPath), cgroupstat.V1.Memory
	if feat.Mode.Version() == 2 {
		root, memDir, usageFile = feat.Mounts["unified"], filepath.Join(feat.Mounts["unified"], cgPath), cgroupstat.V2.Memory
	}
	business, err := monitor.NewCgroup(root, cgPath)
	if err != nil {
		t.Fatal(err)
	}

	raw := readUint(t, filepath.Join(memDir, usageFile))
	st, err := task.Stats()
	if err != nil {
		t.Fatal(err)
	}
	u, err := business.Usage(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("usage with page cache %d MiB; working set: isolate %d KiB, monitor %d KiB", raw>>20, st.MemoryBytes>>10, u.MemoryBytes>>10)

	if raw < cacheBytes {
		t.Fatalf("usage %d bytes: the %d bytes written were not charged to the cgroup", raw, cacheBytes)
	}
	// Nothing runs in the cgroup any more, so the two reads, a few
	// microseconds apart, see the same pages; allow one MiB for the
	// kernel's own bookkeeping between them.
	if diff := max(st.MemoryBytes, u.MemoryBytes) - min(st.MemoryBytes, u.MemoryBytes); diff > 1<<20 {
		t.Errorf("task memory (isolate) %d and business memory (monitor) %d differ by %d bytes", st.MemoryBytes, u.MemoryBytes, diff)
	}
	for name, v := range map[string]uint64{"isolate": st.MemoryBytes, "monitor": u.MemoryBytes} {
		if v > raw-cacheBytes/2 {
			t.Errorf("%s reports %d bytes of %d: the page cache was counted", name, v, raw)
		}
	}
}

func readUint(t *testing.T, path string) uint64 {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(data)), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
