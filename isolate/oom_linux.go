package isolate

import (
	"context"
	"sync"
	"time"
)

// OOMEvent reports that the kernel killed processes of a task because it
// hit its memory limit.
type OOMEvent struct {
	Task string
	// Kills is the number of OOM kills since the previous event, Total
	// since the cgroup was created.
	Kills, Total uint64
	Time         time.Time
}

// OOMWatcher delivers a task's OOM events. Its goroutine ends when the
// context is done, Close is called, or the cgroup is removed; then the
// Events channel is closed.
type OOMWatcher struct {
	events chan OOMEvent
	quit   chan struct{}
	done   chan struct{}
	once   sync.Once
	stop   func() bool
	file   interface{ Close() error }
}

// oomSettle bounds how long a wake-up waits for the kill to be counted: on
// v1 the eventfd fires when the OOM starts, before the victim is killed.
const (
	oomSettleTries = 50
	oomSettleStep  = 2 * time.Millisecond
)

// WatchOOM starts watching the task's cgroup for OOM kills. On v1 it waits
// on an eventfd registered on memory.oom_control, which also fires when the
// cgroup is removed, so every wake-up rechecks the cgroup and the oom_kill
// counter; on v2 it watches memory.events and reports oom_kill deltas.
func (t *Task) WatchOOM(ctx context.Context) (*OOMWatcher, error) {
	base, err := t.g.oomKills()
	if err != nil {
		return nil, err
	}
	f, err := t.g.oomNotifier()
	if err != nil {
		return nil, err
	}
	w := &OOMWatcher{
		events: make(chan OOMEvent, 1),
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
		file:   f,
	}
	w.stop = context.AfterFunc(ctx, w.shutdown)
	go func() {
		defer close(w.done)
		defer close(w.events)
		buf := make([]byte, 4096)
		last := base
		for {
			if _, err := f.Read(buf); err != nil {
				return // closed by shutdown, or the cgroup is gone
			}
			n, alive := last, true
			for range oomSettleTries {
				if alive = t.g.exists(); !alive {
					break
				}
				if k, err := t.g.oomKills(); err == nil && k > last {
					n = k
					break
				}
				time.Sleep(oomSettleStep)
			}
			if n > last {
				select {
				case w.events <- OOMEvent{Task: t.name, Kills: n - last, Total: n, Time: time.Now()}:
				case <-w.quit:
					return
				}
				last = n
			}
			if !alive {
				return
			}
		}
	}()
	return w, nil
}

// Events returns the channel of OOM events; it is closed when the watcher
// stops.
func (w *OOMWatcher) Events() <-chan OOMEvent { return w.events }

func (w *OOMWatcher) shutdown() {
	w.once.Do(func() {
		close(w.quit)
		w.file.Close()
	})
}

// Close stops the watcher and waits for its goroutine to end.
func (w *OOMWatcher) Close() error {
	w.stop()
	w.shutdown()
	<-w.done
	return nil
}
