package framework

import (
	"crypto/rand"
	"encoding/hex"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/gleaner/gleaner/examples/internal/api"
	"github.com/gleaner/gleaner/offer"
)

// defaultKillRetry is schedulerConfig.KillRetry's default.
const defaultKillRetry = 10 * time.Second

// schedulerConfig configures a scheduler. The zero value is usable.
type schedulerConfig struct {
	// Strategy ranks the offers a task fits (default offer.BinPack).
	Strategy offer.Strategy
	// StableAfter is how long a task must run before its app's launch
	// backoff resets (default DefaultStableAfter).
	StableAfter time.Duration
	// KillRetry is how long an unanswered kill waits before it is sent
	// again (default defaultKillRetry).
	KillRetry time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// NewTaskID returns a fresh task ID for an app (default: the app's ID
	// with '/' as '_', a dot and 12 random hex digits, as Marathon does).
	NewTaskID func(appID string) string
}

// scheduler is the framework's scheduling core, free of I/O: it holds the
// apps and their tasks, turns offers into launches with offer.Match, follows
// task status updates, delays relaunches of failing apps with exponential
// backoff, and kills tasks whose placement constraints no longer hold. The
// caller feeds it events and carries out what it asks for (launches, kills,
// revive or suppress). A scheduler is not safe for concurrent use.
type scheduler struct {
	cfg    schedulerConfig
	apps   map[string]*appState
	tasks  map[string]*task // by task ID, every live task of every app
	agents map[string]agent // last known hostname and attributes
	// draining are the agents being drained (the master's MAINTENANCE
	// events): their tasks are moved elsewhere.
	draining map[string]bool

	kills      []killOrder
	wantRevive bool // new pending work since the last OfferCall
	// maxPriority is the highest task priority the framework's role may
	// use, from the master's SUBSCRIBED; apps above it stay pending.
	maxPriority int
	// masterURL is the master the framework subscribed to, for links to
	// task logs.
	masterURL  string
	suppressed bool

	deployments []*deployment          // in progress, oldest first
	locks       map[string]*deployment // app ID → the deployment changing it
	recent      []*deployment          // ended lately, for people
	version     int64                  // last app version handed out
	seq         int64                  // last task sequence number handed out
}

type agent struct {
	hostname string
	attrs    map[string]string
}

type appState struct {
	app       App
	tasks     map[string]*task // by ID, those being killed included
	version   int64            // bumped when the definition changes (not on scale)
	versioned time.Time        // when the definition last changed
	scaledAt  time.Time        // when the instance count last changed
	deleted   bool             // removed; kept until its tasks have ended

	failures    int       // consecutive unexpected task ends
	lastFailure time.Time // of the latest one
	delayUntil  time.Time // no launch before this
	failure     *TaskFailure

	pendingReason     string            // from the latest Match that left instances pending
	pendingRejections []offer.Rejection // the same, by kind and name
	pendingSince      time.Time
	offerStats        offerStats // offers processed while instances waited

	// replaces are tasks that ended or were killed and whose instances
	// are not yet placed again, oldest first: a launch names the one it
	// re-places (api.TaskInfo.Replaces).
	replaces []string
}

type task struct {
	seq                          int64 // order of creation
	id, appID, agentID, hostname string
	attrs                        map[string]string
	resources                    offer.Resources
	state                        api.TaskState
	version                      int64     // of the app definition it runs
	versionAt                    time.Time // when that definition was made
	stagedAt, runningSince       time.Time
	killCause                    killCause
	killReason                   string // non-empty once the scheduler decided to kill it
	killSent                     time.Time
	killGrace                    float64 // seconds between SIGTERM and SIGKILL; 0: the agent's default

	ports   []uint64 // host ports, in the order of the app's port definitions
	checked bool     // launched with health checks: ready only once healthy
	healthy *bool    // the agent's latest verdict; nil before the first
}

// newScheduler returns an empty scheduler.
func newScheduler(cfg schedulerConfig) *scheduler {
	if cfg.StableAfter <= 0 {
		cfg.StableAfter = DefaultStableAfter
	}
	if cfg.KillRetry <= 0 {
		cfg.KillRetry = defaultKillRetry
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.NewTaskID == nil {
		cfg.NewTaskID = randomTaskID
	}
	return &scheduler{
		cfg:      cfg,
		apps:     make(map[string]*appState),
		tasks:    make(map[string]*task),
		agents:   make(map[string]agent),
		draining: make(map[string]bool),
		locks:    make(map[string]*deployment),
	}
}

func randomTaskID(appID string) string {
	var b [6]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return taskIDPrefix(appID) + hex.EncodeToString(b[:])
}

// taskIDPrefix returns the prefix of every task ID of an app: the app ID
// without the leading '/', '/' replaced by '_', and a dot ("/a/web" →
// "a_web.").
func taskIDPrefix(appID string) string {
	return strings.ReplaceAll(strings.TrimPrefix(appID, "/"), "/", "_") + "."
}

func (s *scheduler) appIDs() []string {
	ids := make([]string, 0, len(s.apps))
	for id := range s.apps {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// appTasks returns an app's tasks, including those being killed, in launch
// order.
func (s *scheduler) appTasks(appID string) []*task {
	st, ok := s.apps[appID]
	if !ok {
		return nil
	}
	ts := slices.Collect(maps.Values(st.tasks))
	sort.Slice(ts, func(i, j int) bool { return ts[i].seq < ts[j].seq })
	return ts
}

func (s *scheduler) addTask(st *appState, t *task) {
	s.tasks[t.id] = t
	st.tasks[t.id] = t
}

func (s *scheduler) removeTask(st *appState, t *task) {
	delete(s.tasks, t.id)
	delete(st.tasks, t.id)
}

// liveTasks returns the app's tasks that count as instances: not being
// killed.
func (s *scheduler) liveTasks(appID string) []*task {
	return slices.DeleteFunc(s.appTasks(appID), func(t *task) bool { return t.killReason != "" })
}

// launchable reports whether an app may launch now, outside its backoff.
func (st *appState) launchable(now time.Time) bool {
	return !st.deleted && !now.Before(st.delayUntil)
}

// versionString formats an app version as Marathon does: the time the
// definition was made.
func versionString(at time.Time) string {
	return at.UTC().Format(time.RFC3339Nano)
}

// Tick does the scheduler's timed work: it resets the backoff of apps that
// have run stably, asks for offers again when a backoff has expired, and
// repeats kills that were not answered. Call it every second or so.
func (s *scheduler) Tick() {
	now := s.cfg.Now()
	for _, id := range s.appIDs() {
		st := s.apps[id]
		s.resetBackoffIfStable(st, now, nil)
		if !st.delayUntil.IsZero() && !now.Before(st.delayUntil) {
			st.delayUntil = time.Time{}
			if s.pendingCount(st) > 0 {
				s.wantRevive = true
			}
		}
	}
	for _, id := range s.appIDs() {
		for _, t := range s.appTasks(id) {
			if t.killReason != "" && now.Sub(t.killSent) >= s.cfg.KillRetry {
				s.kill(t, t.killCause, t.killReason)
			}
		}
	}
	for _, st := range s.apps {
		s.converge(st)
	}
	s.progress()
}
