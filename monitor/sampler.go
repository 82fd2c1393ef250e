package monitor

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gleaner/gleaner/internal/pkgerr"
)

// A Sampler reads the host, and Gleaner's own usage if a target is set,
// every interval. It keeps the last samples in a ring buffer and hands each
// new one to subscribers without waiting for them: a subscriber whose
// channel is full misses that sample, and the miss is counted.
//
// Run owns the sampling goroutine; Latest, History, Subscribe and Stats may
// be called from any goroutine.
type Sampler struct {
	host     *Host
	own      ownSource
	source   string
	interval time.Duration
	logger   *slog.Logger

	// Owned by the goroutine running take.
	ownRate CPURate

	running atomic.Bool

	mu      sync.Mutex
	ring    ring
	subs    map[*Subscription]struct{}
	stopped bool
	stats   Stats
}

// ownSource is what Gleaner's own usage is read from: a *ProcessTree or a
// *Cgroup.
type ownSource interface {
	Usage(ctx context.Context) (ResourceUsage, error)
}

// Stats counts what a Sampler has done.
type Stats struct {
	// Samples taken and kept.
	Samples uint64
	// Errors counts readings that failed and were skipped (the error is
	// logged).
	Errors uint64
	// Dropped counts deliveries skipped because a subscriber's channel
	// was full, over all subscribers.
	Dropped uint64
}

// NewSampler returns a Sampler configured by opts. It checks that the roots
// exist and, when one is set, that the watched process or cgroup exists. A
// bad option value gives an error wrapping ErrInvalid that names the
// option.
func NewSampler(opts ...SamplerOption) (*Sampler, error) {
	c := defaultConfig()
	for _, o := range opts {
		o.applySampler(c)
	}
	if err := c.err(); err != nil {
		return nil, err
	}
	h, err := newHost(c)
	if err != nil {
		return nil, err
	}
	s := &Sampler{
		host:     h,
		interval: c.interval,
		logger:   c.logger,
		ring:     newRing(c.history),
		subs:     map[*Subscription]struct{}{},
	}
	switch {
	case c.treePID != 0 && c.cgroupPath != "":
		return nil, fmt.Errorf("%w: WithProcessTree(%d) and WithCgroup(%q): choose one", ErrInvalid, c.treePID, c.cgroupPath)
	case c.treePID != 0:
		t, err := NewProcessTree(c.procRoot, c.treePID)
		if err != nil {
			return nil, err
		}
		s.own, s.source = t, fmt.Sprintf("tree:%d", c.treePID)
	case c.cgroupPath != "":
		root := c.cgroupRoot
		if root == "" {
			root = filepath.Join(c.sysRoot, "fs/cgroup")
		}
		cg, err := NewCgroup(root, c.cgroupPath)
		if err != nil {
			return nil, err
		}
		s.own, s.source = cg, "cgroup:"+c.cgroupPath
	}
	return s, nil
}

// Run samples at once and then every interval until ctx is done, and
// returns ctx's error. When it returns, no goroutine of the Sampler is
// left and every subscription's channel is closed. A Sampler runs once; a
// second Run returns an error wrapping ErrClosed.
func (s *Sampler) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return fmt.Errorf("%w: Sampler.Run called twice", ErrClosed)
	}
	defer s.stop()
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		s.takeAndKeep(ctx)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

func (s *Sampler) takeAndKeep(ctx context.Context) {
	sample, err := s.take(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		s.mu.Lock()
		s.stats.Errors++
		s.mu.Unlock()
		s.logger.LogAttrs(ctx, slog.LevelWarn, "monitor: sample failed", slog.Any("error", err))
		return
	}
	if sample.OwnErr != nil {
		s.logger.LogAttrs(ctx, slog.LevelWarn, "monitor: own usage unavailable", slog.Any("error", sample.OwnErr))
	}
	s.keep(sample)
}

// take reads the host and the own-usage target once.
func (s *Sampler) take(ctx context.Context) (Sample, error) {
	host, err := s.host.Sample(ctx)
	if err != nil {
		s.ownRate.Reset()
		return Sample{}, err
	}
	sample := Sample{Host: host}
	if s.own == nil {
		return sample, nil
	}
	u, err := s.own.Usage(ctx)
	if err != nil {
		sample.OwnErr = pkgerr.Wrap("monitor", err, "own usage (%s)", s.source)
		s.ownRate.Reset()
		return sample, nil
	}
	own := &OwnUsage{Source: s.source, MemoryBytes: u.MemoryBytes, Processes: u.Processes}
	if cores, ok := s.ownRate.Observe(u.CPUSeconds, host.Time); ok {
		own.CPUCores = &cores
	}
	b := businessUsage(host, *own)
	sample.Own, sample.Business = own, &b
	return sample, nil
}

// keep stores a sample and offers it to every subscriber.
func (s *Sampler) keep(sample Sample) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ring.push(sample)
	s.stats.Samples++
	for sub := range s.subs {
		select {
		case sub.ch <- sample:
		default:
			sub.dropped.Add(1)
			s.stats.Dropped++
		}
	}
}

func (s *Sampler) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopped = true
	for sub := range s.subs {
		delete(s.subs, sub)
		close(sub.ch)
	}
}

// Latest returns the newest sample, and false before the first one.
func (s *Sampler) Latest() (Sample, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ring.last()
}

// History returns the kept samples, oldest first.
func (s *Sampler) History() []Sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ring.all()
}

// Stats returns the counters.
func (s *Sampler) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// A Subscription receives samples until it is closed or the Sampler stops.
//
// Delivery: every sample, in order, while the channel's buffer has room; a
// sample that finds the buffer full is dropped for this subscriber (never
// waited for: sampling does not slow down for a slow reader) and counted by
// Dropped. Subscribe before Run so as not to miss the first sample.
type Subscription struct {
	ch      chan Sample
	s       *Sampler
	dropped atomic.Uint64
}

// Subscribe returns a subscription whose channel holds up to buffer samples
// (at least 1).
func (s *Sampler) Subscribe(buffer int) *Subscription {
	ch := make(chan Sample, max(buffer, 1))
	sub := &Subscription{ch: ch, s: s}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		close(ch)
		return sub
	}
	s.subs[sub] = struct{}{}
	return sub
}

// C returns the channel samples arrive on. It is closed after the last
// delivery: when Close is called or Run returns.
func (sub *Subscription) C() <-chan Sample { return sub.ch }

// Dropped returns how many samples this subscription missed because its
// buffer was full.
func (sub *Subscription) Dropped() uint64 { return sub.dropped.Load() }

// Close ends the subscription and closes C. It is idempotent and safe from
// any goroutine, also after the Sampler stopped.
func (sub *Subscription) Close() {
	s := sub.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.subs[sub]; ok {
		delete(s.subs, sub)
		close(sub.ch)
	}
}
