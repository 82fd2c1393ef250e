//go:build linux

package agent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gleaner/gleaner/examples/internal/api"
	"github.com/gleaner/gleaner/isolate"
)

// A task's sandbox (Config.Dir/sandboxes/<task-id>: its stdout and stderr,
// its root while it runs, its fetched files without isolation) outlives the
// task, so that a failed task can be debugged: when the master has taken
// the task's final status the agent forgets the task but keeps its sandbox,
// marked with the time the task ended, and serves its logs. Sandboxes go as
// Mesos's do (its gc_delay and disk headroom): after
// Config.SandboxRetention, and sooner, oldest first, while the file system
// holding the agent's directory is fuller than
// Config.SandboxDiskWatermark. A sandbox of a task the agent still tracks
// is never collected. Every removal goes through an os.Root on the
// sandboxes directory.

// endedMarker is the file in a kept sandbox that says when its task ended.
const endedMarker = ".ended"

// logDrainWait bounds how long an ended task's output is waited for.
const logDrainWait = 2 * time.Second

// Defaults of the sandbox garbage collection.
const (
	defaultSandboxRetention = 24 * time.Hour
	defaultDiskWatermark    = 0.9
)

// logsFor says what openLogs does for a task.
type logsFor int

const (
	logsStart logsFor = iota // a task that starts: make the FIFOs, give t their ends, copy
	logsAdopt                // a task a previous agent started: copy again from its FIFOs
	logsEnded                // a task that ended: only read
)

// openLogs opens t's logs in its sandbox.
func (a *Agent) openLogs(t *task, what logsFor) error {
	logs, err := openTaskLogs(t.sandbox, a.cfg.LogMaxBytes)
	if err != nil {
		return err
	}
	if what == logsStart {
		if t.stdout, t.stderr, err = logs.writers(); err != nil {
			logs.close()
			return err
		}
	}
	if what != logsEnded {
		logs.start()
	}
	a.mu.Lock()
	t.logs = logs
	a.mu.Unlock()
	return nil
}

// markEnded writes the time a task ended into its kept sandbox.
func markEnded(sandboxes, id string, at time.Time) error {
	root, err := os.OpenRoot(sandboxes)
	if err != nil {
		return err
	}
	defer root.Close()
	if at.IsZero() {
		at = time.Now()
	}
	err = root.WriteFile(id+"/"+endedMarker, []byte(at.UTC().Format(time.RFC3339Nano)+"\n"), 0o640)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // the task never had a sandbox
	}
	return err
}

// endedAt reads when the task of a kept sandbox ended; false for a sandbox
// that is not kept (no marker: a task that runs, or a launch cut short).
func endedAt(sandboxes, id string) (time.Time, bool) {
	root, err := os.OpenRoot(sandboxes)
	if err != nil {
		return time.Time{}, false
	}
	defer root.Close()
	b, err := root.ReadFile(id + "/" + endedMarker)
	if err != nil {
		return time.Time{}, false
	}
	at, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(string(b)))
	return at, err == nil
}

// removeSandbox removes a task's sandbox, unmounting what its root left.
func (a *Agent) removeSandbox(id string) error {
	if err := unmountRoot(a.cfg.sandboxDir() + "/" + id); err != nil {
		return err
	}
	root, err := os.OpenRoot(a.cfg.sandboxDir())
	if err != nil {
		return err
	}
	defer root.Close()
	return root.RemoveAll(id)
}

// sandboxGC collects kept sandboxes until ctx ends.
func (a *Agent) sandboxGC(ctx context.Context) {
	every := min(max(a.cfg.SandboxRetention/10, time.Second), time.Minute)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			a.collectSandboxes(time.Now())
		}
	}
}

// keptSandbox is a sandbox whose task the agent no longer tracks.
type keptSandbox struct {
	id    string
	ended time.Time
}

// collectSandboxes removes the kept sandboxes older than the retention,
// then, while the disk is fuller than the watermark, the oldest others. It
// returns the task IDs whose sandboxes it removed.
func (a *Agent) collectSandboxes(now time.Time) []string {
	entries, err := os.ReadDir(a.cfg.sandboxDir())
	if err != nil {
		return nil
	}
	a.mu.Lock()
	var kept []keptSandbox
	for _, e := range entries {
		if _, tracked := a.tasks[e.Name()]; tracked || !e.IsDir() {
			continue
		}
		if at, ok := endedAt(a.cfg.sandboxDir(), e.Name()); ok {
			kept = append(kept, keptSandbox{id: e.Name(), ended: at})
		}
	}
	a.mu.Unlock()
	sort.Slice(kept, func(i, j int) bool { return kept[i].ended.Before(kept[j].ended) })
	var removed []string
	remove := func(k keptSandbox, why string) {
		if err := a.removeSandbox(k.id); err != nil {
			a.log.Warn("remove sandbox", "task", k.id, "err", err)
			return
		}
		a.m.sandboxesRemoved.WithLabelValues(why).Inc()
		a.log.Info("sandbox removed", "task", k.id, "ended", k.ended, "why", why)
		removed = append(removed, k.id)
	}
	var young []keptSandbox
	for _, k := range kept {
		if now.Sub(k.ended) >= a.cfg.SandboxRetention {
			remove(k, "age")
		} else {
			young = append(young, k)
		}
	}
	for _, k := range young {
		if used, ok := diskUsed(a.cfg.Dir); !ok || used <= a.cfg.SandboxDiskWatermark {
			break
		}
		remove(k, "disk")
	}
	return removed
}

// diskUsed is the fraction of the file system holding dir that is used,
// as df counts it (blocks reserved for root count as used).
func diskUsed(dir string) (float64, bool) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil || st.Blocks == 0 {
		return 0, false
	}
	return 1 - float64(st.Bavail)/float64(st.Blocks), true
}

// serveLogs answers GET PathTaskLogs: ?stream=stdout|stderr (default
// stdout), offset=N (bytes from the stream's start; negative: from its
// end, so -4096 is the last 4 KiB), follow=true (keep the answer open and
// send what the task writes until it ends). The answer is the text, with
// api.HeaderLogOffset saying at which offset it starts: later than asked
// when that part was rotated out.
func (a *Agent) serveLogs(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	q, err := api.ParseLogQuery(r.URL.Query())
	if err == nil {
		err = isolate.ValidateName(id)
	}
	if err != nil {
		api.WriteError(w, http.StatusBadRequest, err)
		return
	}
	a.mu.Lock()
	var logs *taskLogs
	if t, ok := a.tasks[id]; ok {
		logs = t.logs
	}
	a.mu.Unlock()
	if logs == nil || !logs.acquire() {
		// A kept sandbox, or none.
		if _, kept := endedAt(a.cfg.sandboxDir(), id); !kept {
			api.WriteError(w, http.StatusNotFound, fmt.Errorf("task %q: no sandbox on agent %s", id, a.cfg.ID))
			return
		}
		if logs, err = openTaskLogs(filepath.Join(a.cfg.sandboxDir(), id), a.cfg.LogMaxBytes); err != nil {
			api.WriteError(w, http.StatusNotFound, fmt.Errorf("task %q: %w", id, err))
			return
		}
		defer logs.close()
		logs.acquire()
	}
	defer logs.release()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	err = logs.streams[q.Stream].copyTo(r.Context(), w, q.Offset, q.Follow, func(start int64) {
		w.Header().Set(api.HeaderLogOffset, strconv.FormatInt(start, 10))
		w.WriteHeader(http.StatusOK)
		if f, ok := w.(http.Flusher); ok {
			f.Flush() // a follower learns at once that the stream is there
		}
	})
	if err != nil {
		a.log.Debug("serve logs", "task", id, "err", err)
	}
}
