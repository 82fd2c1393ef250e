package isolate_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/gleaner/gleaner/isolate"
)

// A task under a parent that follows the reservation; the child is placed
// in the cgroup by PID. (Not run: it needs root and cgroups.)
func Example() {
	ctx := context.Background()
	iso, err := isolate.New(isolate.WithParent("/gleaner"))
	if err != nil {
		log.Fatal(err)
	}
	if err := iso.Resize(1.5, 2<<30); err != nil {
		log.Fatal(err)
	}
	task, err := iso.Create("task-1", isolate.Limits{CPUs: 0.5, CPUMode: isolate.Hard, MemoryBytes: 256 << 20, PidsMax: 128})
	if errors.Is(err, isolate.ErrNotSupported) {
		log.Fatal("this kernel cannot enforce a hard CPU limit; use isolate.WithSoftCPUFallback")
	}
	if err != nil {
		log.Fatal(err)
	}
	oom, err := task.WatchOOM(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer oom.Close()
	cmd := exec.Command("/bin/sleep", "10")
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	if err := task.AddPID(cmd.Process.Pid); err != nil {
		log.Fatal(err)
	}
	s, _ := task.Stats()
	fmt.Println(s.PIDs)
	if err := task.Destroy(ctx); err != nil {
		log.Fatal(err)
	}
	_ = cmd.Wait()
}

// Starting a child directly inside the task's cgroup on cgroup v2.
func ExampleTask_OpenDir() {
	var task *isolate.Task // from Isolator.Create
	dir, err := task.OpenDir()
	if errors.Is(err, isolate.ErrNotSupported) {
		// cgroup v1: have a re-executed helper write its PID into each of
		// task.ProcsFiles() before it execs the user's program.
		return
	}
	defer dir.Close()
	cmd := exec.Command("/usr/bin/task")
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(dir.Fd())}
	_ = cmd.Start()
}

// Watching sandboxes every 15 s and killing a task over its disk limit.
func ExampleDiskWatcher() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w, err := isolate.NewDiskWatcher(isolate.WithDiskInterval(isolate.DefaultDiskInterval), isolate.WithLogger(slog.Default()))
	if err != nil {
		log.Fatal(err)
	}
	err = w.Watch("task-1", "/var/lib/gleaner/sandboxes/task-1", 10<<30, func(u isolate.DiskUsage) {
		fmt.Fprintf(os.Stderr, "%s uses %d bytes of disk, limit %d: killing\n", u.Task, u.Bytes, u.LimitBytes)
	})
	if err != nil {
		log.Fatal(err)
	}
	_ = w.Run(ctx)
}
