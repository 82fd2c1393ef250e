//go:build linux

package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gleaner/gleaner/examples/internal/api"
)

// A task's stdout and stderr reach its sandbox through a FIFO each, as
// Nomad's logmon and Mesos's logrotate container logger do: the task writes
// into the FIFO, the agent copies what comes into the stream's file and
// rotates it, so that a task's logs never take more than Config.LogMaxBytes
// per stream however much it writes, and readers can follow them while the
// task runs.
//
// The task gets the FIFO opened read-write, so that it counts as a reader
// too: when the agent exits leaving its tasks running (ErrRestart), their
// writes do not fail with SIGPIPE but wait, once the pipe's 64 KiB are
// full, for the next agent, which opens the FIFO again and carries on. The
// FIFO's end (all of the task's processes gone) is the end of the stream.
//
// Offsets are positions in the whole stream since the task started: the
// current file begins at the offset kept in .<stream>.offset, the file
// rotated out before it (<stream>.1) ends there. What was rotated out
// before that is gone, and a read from an older offset starts at the
// oldest byte kept.
//
// Every file operation goes through an os.Root on the task's sandbox.

// defaultLogMaxBytes is Config.LogMaxBytes's default: per stream and task.
const defaultLogMaxBytes = 8 << 20

// logStream is one output stream of a task: its files in the sandbox and,
// while the task runs, the copy from its FIFO.
type logStream struct {
	root *os.Root // the task's sandbox; owned by the taskLogs
	name string   // api.StreamStdout or api.StreamStderr
	max  int64    // bytes kept: the current file and the one before, each at most max/2

	mu      sync.Mutex
	base    int64         // stream offset of the current file's first byte
	size    int64         // bytes in the current file
	prev    int64         // bytes in <name>.1
	done    bool          // nothing more comes: the FIFO ended, or there never was one
	changed chan struct{} // closed and replaced at every write, rotation and the end
	file    *os.File      // the current file, for appending; nil once done
}

func (s *logStream) fifo() string    { return "." + s.name + ".fifo" }
func (s *logStream) rotated() string { return s.name + ".1" }
func (s *logStream) offsetFile() string {
	return "." + s.name + ".offset"
}

// openLogStream reads the state of a stream's files in root: those of a
// task that runs (the next step opens the FIFO) or ended.
func openLogStream(root *os.Root, name string, max int64) *logStream {
	s := &logStream{root: root, name: name, max: max, changed: make(chan struct{}), done: true}
	if fi, err := root.Stat(name); err == nil {
		s.size = fi.Size()
	}
	if fi, err := root.Stat(s.rotated()); err == nil {
		s.prev = fi.Size()
		s.base = s.prev // unless the offset file says more rotations happened
	}
	if b, err := root.ReadFile(s.offsetFile()); err == nil {
		if v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && v >= s.prev {
			s.base = v
		}
	}
	return s
}

// writer makes the stream's FIFO, unless it exists, and returns its end for
// the task: opened read-write (see above).
func (s *logStream) writer() (*os.File, error) {
	dir, err := s.root.Open(".")
	if err != nil {
		return nil, err
	}
	err = unix.Mkfifoat(int(dir.Fd()), s.fifo(), 0o600)
	dir.Close()
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return nil, fmt.Errorf("%s FIFO: %w", s.name, err)
	}
	w, err := s.root.OpenFile(s.fifo(), os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("%s FIFO: %w", s.name, err)
	}
	if fi, err := w.Stat(); err != nil || fi.Mode()&fs.ModeNamedPipe == 0 {
		w.Close()
		return nil, fmt.Errorf("%s FIFO: %s is not a FIFO", s.name, s.fifo())
	}
	return w, nil
}

// openFIFO opens the FIFO's reading end and the stream's current file, and
// marks the stream live. It must be called before the agent lets go of the
// FIFO's writing end: a FIFO nobody holds open loses what it held. It
// returns nil (the stream stays done) without a FIFO: the task ended while
// no agent ran.
func (s *logStream) openFIFO() *os.File {
	// Non-blocking, so that the open does not wait for a writer (there is
	// none if the task ended) and reads go through the runtime's poller,
	// which Close interrupts.
	r, err := s.root.OpenFile(s.fifo(), os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil
	}
	if fi, err := r.Stat(); err != nil || fi.Mode()&fs.ModeNamedPipe == 0 {
		r.Close()
		return nil
	}
	f, err := s.root.OpenFile(s.name, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		r.Close()
		return nil
	}
	s.mu.Lock()
	s.file, s.done = f, false
	s.mu.Unlock()
	return r
}

// pump copies what comes through the FIFO (r, from openFIFO) into the
// stream's files until the FIFO ends (every writer closed) or ctx does;
// then the stream is done.
func (s *logStream) pump(ctx context.Context, r *os.File) {
	defer s.finish()
	stop := context.AfterFunc(ctx, func() { r.Close() })
	defer stop()
	defer r.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			s.append(buf[:n])
		}
		if err != nil {
			// EOF: no writer is left. A FIFO opened non-blocking reads
			// EOF before its first writer too, but the task holds its end
			// from before its start, so that cannot be.
			return
		}
	}
}

// append writes data to the current file, rotating it first when it would
// grow past half the stream's budget. The rotation falls between two reads
// of the FIFO, not between two lines: the oldest line kept may have lost
// its start.
func (s *logStream) append(data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.file == nil {
		return
	}
	half := max(s.max/2, 1)
	for len(data) > 0 {
		if s.size > 0 && s.size+int64(len(data)) > half {
			if err := s.rotateLocked(); err != nil {
				return
			}
		}
		n := min(int64(len(data)), half)
		w, err := s.file.Write(data[:n])
		s.size += int64(w)
		data = data[w:]
		if err != nil {
			break
		}
	}
	s.notifyLocked()
}

// rotateLocked moves the current file to <name>.1 and starts a new one. The
// offset file is written first: a crash between the two leaves an offset
// that a restarted agent corrects from the files (openLogStream).
func (s *logStream) rotateLocked() error {
	next := s.base + s.size
	if err := s.root.WriteFile(s.offsetFile(), []byte(strconv.FormatInt(next, 10)+"\n"), 0o640); err != nil {
		return err
	}
	if err := s.root.Rename(s.name, s.rotated()); err != nil {
		return err
	}
	f, err := s.root.OpenFile(s.name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o640)
	if err != nil {
		return err
	}
	s.file.Close()
	s.file = f
	s.base, s.prev, s.size = next, s.size, 0
	return nil
}

func (s *logStream) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// finish marks the stream done and closes its file.
func (s *logStream) finish() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.file != nil {
		s.file.Close()
		s.file = nil
	}
	s.done = true
	s.notifyLocked()
}

// span returns the offsets of the oldest byte kept and of the end.
func (s *logStream) span() (first, end int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.base - s.prev, s.base + s.size
}

// readAt reads the stream from offset pos into buf. It returns what it
// read, the offset after it (beyond pos when what pos names was rotated
// out), and whether the stream is done and holds nothing after it.
func (s *logStream) readAt(pos int64, buf []byte) (n int, next int64, done bool, changed <-chan struct{}, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	first, end := s.base-s.prev, s.base+s.size
	pos = max(pos, first)
	if pos >= end {
		return 0, end, s.done, s.changed, nil
	}
	name, at := s.name, pos-s.base
	if pos < s.base {
		name, at = s.rotated(), pos-first
	}
	f, err := s.root.Open(name)
	if err != nil {
		return 0, pos, false, s.changed, err
	}
	defer f.Close()
	limit := end - pos
	if pos < s.base {
		limit = s.base - pos
	}
	n, err = f.ReadAt(buf[:min(int64(len(buf)), limit)], at)
	if errors.Is(err, io.EOF) {
		err = nil
	}
	return n, pos + int64(n), false, s.changed, err
}

// copyTo writes the stream from offset from (negative: that many bytes
// before the end) to w, flushing after each piece, and with follow waits
// for more until the stream is done or ctx ends. start is called once
// with the offset the copy really begins at, before any byte.
func (s *logStream) copyTo(ctx context.Context, w io.Writer, from int64, follow bool, start func(int64)) error {
	first, end := s.span()
	pos := from
	if from < 0 {
		pos = end + from
	}
	pos = max(pos, first)
	start(pos)
	buf := make([]byte, 64<<10)
	for {
		n, next, done, changed, err := s.readAt(pos, buf)
		if err != nil {
			return err
		}
		if n > 0 {
			if _, err := w.Write(buf[:n]); err != nil {
				return err
			}
			if f, ok := w.(interface{ Flush() }); ok {
				f.Flush()
			}
		}
		pos = next
		if n > 0 {
			continue
		}
		if !follow || done {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil
		}
	}
}

// taskLogs are a task's two streams.
type taskLogs struct {
	root    *os.Root
	streams map[string]*logStream
	wg      sync.WaitGroup // the pumps
	cancel  context.CancelFunc

	mu      sync.Mutex
	readers int  // acquired and not released
	closed  bool // close was called: the root goes with the last reader
}

// acquire keeps the logs open for a reader until release; false once
// they are closed.
func (l *taskLogs) acquire() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	l.readers++
	return true
}

func (l *taskLogs) release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.readers--
	if l.closed && l.readers == 0 {
		l.root.Close()
	}
}

// openTaskLogs opens the logs in a task's sandbox directory.
func openTaskLogs(sandbox string, maxBytes int64) (*taskLogs, error) {
	root, err := os.OpenRoot(sandbox)
	if err != nil {
		return nil, err
	}
	l := &taskLogs{root: root, streams: map[string]*logStream{}}
	for _, name := range []string{api.StreamStdout, api.StreamStderr} {
		l.streams[name] = openLogStream(root, name, maxBytes)
	}
	return l, nil
}

// writers returns the FIFOs' ends for a task that starts; the caller closes
// them once the task holds them.
func (l *taskLogs) writers() (stdout, stderr *os.File, err error) {
	if stdout, err = l.streams[api.StreamStdout].writer(); err != nil {
		return nil, nil, err
	}
	if stderr, err = l.streams[api.StreamStderr].writer(); err != nil {
		stdout.Close()
		return nil, nil, err
	}
	return stdout, stderr, nil
}

// start copies both streams from their FIFOs until they end.
func (l *taskLogs) start() {
	ctx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	for _, s := range l.streams {
		if r := s.openFIFO(); r != nil {
			l.wg.Go(func() { s.pump(ctx, r) })
		}
	}
}

// drain waits for the pumps to copy what the task wrote (the FIFOs end
// when its last process is gone) for up to wait, then stops them: a
// process the task left behind outside its cgroup (without isolation) may
// hold a FIFO open for ever.
func (l *taskLogs) drain(wait time.Duration) {
	if l.cancel == nil {
		return
	}
	done := make(chan struct{})
	go func() { l.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(wait):
		l.cancel()
		<-done
	}
}

// close stops the pumps and closes the sandbox once no reader reads. The
// FIFOs stay for the next agent when the task keeps running.
func (l *taskLogs) close() {
	if l.cancel != nil {
		l.cancel()
		l.wg.Wait()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	l.closed = true
	if l.readers == 0 {
		l.root.Close()
	}
}
