package framework

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/gleaner/gleaner/examples/internal/api"
	"github.com/gleaner/gleaner/offer"
)

// Defaults of SchedulerConfig.
const (
	DefaultRefuse      = 5 * time.Second
	DefaultStableAfter = 30 * time.Second
	DefaultKillRetry   = 10 * time.Second
)

// SchedulerConfig configures a Scheduler. The zero value is usable.
type SchedulerConfig struct {
	// Strategy ranks the offers a task fits (default offer.BinPack).
	Strategy offer.Strategy
	// StableAfter is how long a task must run before its app's launch
	// backoff resets (default DefaultStableAfter).
	StableAfter time.Duration
	// KillRetry is how long an unanswered kill waits before it is sent
	// again (default DefaultKillRetry).
	KillRetry time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// NewTaskID returns a fresh task ID for an app (default: the app's ID
	// with '/' as '_', a dot and 12 random hex digits, as Marathon does).
	NewTaskID func(appID string) string
}

// Scheduler is the framework's scheduling core, free of I/O: it holds the
// apps and their tasks, turns offers into launches with offer.Match, follows
// task status updates, delays relaunches of failing apps with exponential
// backoff, and kills tasks whose placement constraints no longer hold. The
// caller feeds it events and carries out what it asks for (launches, kills,
// revive or suppress). A Scheduler is not safe for concurrent use.
type Scheduler struct {
	cfg    SchedulerConfig
	apps   map[string]*appState
	tasks  map[string]*task // by task ID, every live task of every app
	agents map[string]agent // last known hostname and attributes

	kills      []Kill
	wantRevive bool // new pending work since the last OfferCall
	suppressed bool
	version    int64 // last app version handed out
	seq        int64 // last task sequence number handed out
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
	deleted   bool             // removed; kept until its tasks have ended

	failures    int       // consecutive unexpected task ends
	lastFailure time.Time // of the latest one
	delayUntil  time.Time // no launch before this
	failure     *TaskFailure

	pendingReason     string            // from the latest Match that left instances pending
	pendingRejections []offer.Rejection // the same, by kind and name
	pendingSince      time.Time

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
	killCause                    KillCause
	killReason                   string // non-empty once the scheduler decided to kill it
	killSent                     time.Time
}

// Kill asks to kill a task on an agent.
type Kill struct {
	TaskID, AgentID, AppID string
	Cause                  KillCause
	Reason                 string // for people: "constraint rack:IS:r1 no longer holds on agent a2"
}

// KillCause is why the scheduler kills a task.
type KillCause string

// The causes of kills.
const (
	KillScale      KillCause = "scale"      // the app has more tasks than instances
	KillUpdate     KillCause = "update"     // the app's definition changed
	KillDelete     KillCause = "delete"     // the app was deleted
	KillConstraint KillCause = "constraint" // a placement constraint no longer holds
	KillUnknown    KillCause = "unknown"    // the task belongs to no app
)

// OfferLaunches are the tasks to launch on one offer.
type OfferLaunches struct {
	OfferID string
	AgentID string
	Tasks   []api.TaskInfo
}

// Plan is what to do with a batch of offers: accept some with launches,
// decline the others.
type Plan struct {
	Accept  []OfferLaunches
	Decline []string // offer IDs with nothing launched on them
}

// TaskFailure describes an app's latest unexpected task end, like
// Marathon's lastTaskFailure.
type TaskFailure struct {
	TaskID    string        `json:"taskId"`
	AgentID   string        `json:"agentId"`
	Host      string        `json:"host"`
	State     api.TaskState `json:"state"`
	Message   string        `json:"message"`
	Timestamp time.Time     `json:"timestamp"`
	Version   string        `json:"version"`
}

// NewScheduler returns an empty scheduler.
func NewScheduler(cfg SchedulerConfig) *Scheduler {
	if cfg.StableAfter <= 0 {
		cfg.StableAfter = DefaultStableAfter
	}
	if cfg.KillRetry <= 0 {
		cfg.KillRetry = DefaultKillRetry
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.NewTaskID == nil {
		cfg.NewTaskID = randomTaskID
	}
	return &Scheduler{
		cfg:    cfg,
		apps:   make(map[string]*appState),
		tasks:  make(map[string]*task),
		agents: make(map[string]agent),
	}
}

func randomTaskID(appID string) string {
	var b [6]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return TaskIDPrefix(appID) + hex.EncodeToString(b[:])
}

// TaskIDPrefix returns the prefix of every task ID of an app: the app ID
// without the leading '/', '/' replaced by '_', and a dot ("/a/web" →
// "a_web.").
func TaskIDPrefix(appID string) string {
	return strings.ReplaceAll(strings.TrimPrefix(appID, "/"), "/", "_") + "."
}

// PutApp creates an app or replaces its definition; a must be normalized
// (DecodeApp or App.Normalize). It reports whether the app is new. When
// only the instance count changes the app scales: extra instances launch,
// surplus tasks (staging first, then the youngest) are killed. Any other
// change is a new version: every task of the old version is killed and
// replaced, and the launch backoff resets.
func (s *Scheduler) PutApp(a App) (created bool) {
	now := s.cfg.Now()
	st, ok := s.apps[a.ID]
	if !ok || st.deleted {
		s.version++
		st = &appState{version: s.version, versioned: now, tasks: make(map[string]*task)}
		if ok { // deleted, its tasks still being killed: they stay with the new app
			maps.Copy(st.tasks, s.apps[a.ID].tasks)
		}
		s.apps[a.ID] = st
		created = true
	} else {
		old := st.app
		old.Instances = a.Instances
		if !sameDefinition(old, a) {
			s.version++
			st.version, st.versioned = s.version, now
			st.failures, st.delayUntil = 0, time.Time{}
			for _, t := range s.appTasks(a.ID) {
				s.kill(t, KillUpdate, "app definition changed")
			}
		}
	}
	st.app = a
	s.scaleDown(st)
	s.wantRevive = true
	return created
}

// RemoveApp deletes an app and kills its tasks. It returns ErrNotFound
// for an unknown app.
func (s *Scheduler) RemoveApp(id string) error {
	st, ok := s.apps[id]
	if !ok || st.deleted {
		return fmt.Errorf("app %q: %w", id, ErrNotFound)
	}
	st.deleted = true
	tasks := s.appTasks(id)
	for _, t := range tasks {
		s.kill(t, KillDelete, "app deleted")
	}
	if len(tasks) == 0 {
		delete(s.apps, id)
	}
	return nil
}

// scaleDown kills the tasks beyond the app's instance count: those not yet
// running first, then the youngest, as Marathon's YOUNGEST_FIRST.
func (s *Scheduler) scaleDown(st *appState) {
	live := s.liveTasks(st.app.ID)
	extra := len(live) - st.app.Instances
	if extra <= 0 {
		return
	}
	sort.Slice(live, func(i, j int) bool {
		ri, rj := live[i].state == api.TaskRunning, live[j].state == api.TaskRunning
		if ri != rj {
			return !ri
		}
		return live[i].seq > live[j].seq
	})
	for _, t := range live[:extra] {
		s.kill(t, KillScale, "scaled down")
	}
}

// appTasks returns an app's tasks, including those being killed, in launch
// order.
func (s *Scheduler) appTasks(appID string) []*task {
	st, ok := s.apps[appID]
	if !ok {
		return nil
	}
	ts := slices.Collect(maps.Values(st.tasks))
	sort.Slice(ts, func(i, j int) bool { return ts[i].seq < ts[j].seq })
	return ts
}

func (s *Scheduler) addTask(st *appState, t *task) {
	s.tasks[t.id] = t
	st.tasks[t.id] = t
}

func (s *Scheduler) removeTask(st *appState, t *task) {
	delete(s.tasks, t.id)
	delete(st.tasks, t.id)
}

// liveTasks returns the app's tasks that count as instances: not being
// killed.
func (s *Scheduler) liveTasks(appID string) []*task {
	return slices.DeleteFunc(s.appTasks(appID), func(t *task) bool { return t.killReason != "" })
}

func (s *Scheduler) kill(t *task, cause KillCause, reason string) {
	if t.killReason == "" {
		t.killCause, t.killReason = cause, reason
		s.wantRevive = true // its instance is pending again
		if cause == KillConstraint || cause == KillUpdate {
			st := s.apps[t.appID]
			st.replaces = append(st.replaces, t.id)
		}
	}
	t.killSent = s.cfg.Now()
	s.kills = append(s.kills, Kill{TaskID: t.id, AgentID: t.agentID, AppID: t.appID, Cause: t.killCause, Reason: t.killReason})
}

// TakeKills returns the kills decided since the last call.
func (s *Scheduler) TakeKills() []Kill {
	k := s.kills
	s.kills = nil
	return k
}

// pendingCount is how many instances of an app wait for a launch.
func (s *Scheduler) pendingCount(st *appState) int {
	if st.deleted {
		return 0
	}
	return max(0, st.app.Instances-len(s.liveTasks(st.app.ID)))
}

// launchable reports whether an app may launch now, outside its backoff.
func (st *appState) launchable(now time.Time) bool {
	return !st.deleted && !now.Before(st.delayUntil)
}

// OfferCall says which call the caller should make to the master about
// offers: OfferRevive when there is new work (it also clears decline
// filters), OfferSuppress when nothing is pending, OfferNone otherwise.
// The scheduler assumes the call is made; after a failed call or a new
// subscription, call ResetOffers.
func (s *Scheduler) OfferCall() OfferCall {
	want := s.wantsOffers()
	switch {
	case want && (s.wantRevive || s.suppressed):
		s.wantRevive, s.suppressed = false, false
		return OfferRevive
	case !want && !s.suppressed:
		s.wantRevive, s.suppressed = false, true
		return OfferSuppress
	}
	s.wantRevive = false
	return OfferNone
}

// ResetOffers forgets what the master was last told, so that the next
// OfferCall revives or suppresses again.
func (s *Scheduler) ResetOffers() {
	s.suppressed = false
	s.wantRevive = true
}

// OfferCall is a call about offers to make to the master.
type OfferCall uint8

// The offer calls.
const (
	OfferNone OfferCall = iota
	OfferRevive
	OfferSuppress
)

func (c OfferCall) String() string {
	return [...]string{"none", "revive", "suppress"}[c]
}

// wantsOffers reports whether some app has instances it may launch now.
func (s *Scheduler) wantsOffers() bool {
	now := s.cfg.Now()
	for _, st := range s.apps {
		if st.launchable(now) && s.pendingCount(st) > 0 {
			return true
		}
	}
	return false
}

// ResourceOffers matches the pending instances of every app outside its
// backoff to offers and returns what to accept and decline. Launched tasks
// are STAGING from now on. Apps left with pending instances remember why,
// from offer.Match's rejection counts. Attributes carried by the offers
// update the scheduler's view of the agents, and tasks whose constraints no
// longer hold there are killed (see TakeKills).
func (s *Scheduler) ResourceOffers(offers []offer.Offer) Plan {
	now := s.cfg.Now()
	var changed []string
	for _, o := range offers {
		if s.learnAgent(o.AgentID, o.Hostname, o.Attributes) {
			changed = append(changed, o.AgentID)
		}
	}
	if len(changed) > 0 {
		s.recheck(changed)
	}

	ids := s.appIDs()
	var pending []offer.Task
	var running []offer.Placement
	for _, id := range ids {
		st := s.apps[id]
		for _, t := range s.liveTasks(id) {
			running = append(running, t.placement())
		}
		n := s.pendingCount(st)
		if len(st.replaces) > n { // scaled down since: the oldest need no successor
			st.replaces = st.replaces[len(st.replaces)-n:]
		}
		if n == 0 {
			st.pendingReason, st.pendingRejections, st.pendingSince = "", nil, time.Time{}
			continue
		}
		if !st.launchable(now) {
			continue
		}
		res, err := st.app.Resources()
		if err != nil { // PutApp takes normalized apps only
			st.pendingReason, st.pendingRejections = err.Error(), nil
			continue
		}
		for i := range n {
			pending = append(pending, offer.Task{ID: fmt.Sprintf("%s#%d", id, i), AppID: id, Resources: res, Constraints: st.app.Constraints})
		}
	}
	if len(pending) == 0 {
		return Plan{Decline: offerIDs(offers)}
	}

	result := offer.Match(offers, pending, running, offer.WithStrategy(s.cfg.Strategy))
	byOffer := make(map[string]int)
	var plan Plan
	for _, l := range result.Launches {
		if i, ok := byOffer[l.OfferID]; ok && len(plan.Accept[i].Tasks) >= api.MaxTasksPerAccept {
			// One accept consumes the offer and may launch only so many
			// tasks; the rest wait for the next offers.
			continue
		}
		st := s.apps[l.AppID]
		o := offerByID(offers, l.OfferID)
		s.seq++
		t := &task{
			seq: s.seq, id: s.cfg.NewTaskID(l.AppID), appID: l.AppID, agentID: l.AgentID, hostname: l.Hostname,
			attrs: o.Attributes, resources: l.Resources, state: api.TaskStaging, version: st.version, versionAt: st.versioned, stagedAt: now,
		}
		s.addTask(st, t)
		i, ok := byOffer[l.OfferID]
		if !ok {
			i = len(plan.Accept)
			byOffer[l.OfferID] = i
			plan.Accept = append(plan.Accept, OfferLaunches{OfferID: l.OfferID, AgentID: l.AgentID})
		}
		var replaces string
		if len(st.replaces) > 0 {
			replaces, st.replaces = st.replaces[0], st.replaces[1:]
		}
		plan.Accept[i].Tasks = append(plan.Accept[i].Tasks, taskInfo(&st.app, t, l.OfferID, replaces))
	}
	for _, o := range offers {
		if _, ok := byOffer[o.ID]; !ok {
			plan.Decline = append(plan.Decline, o.ID)
		}
	}
	reported := make(map[string]bool)
	for _, p := range result.Pending {
		st := s.apps[p.AppID]
		if reported[p.AppID] {
			continue
		}
		reported[p.AppID] = true
		reason := p.String()
		if reason == "" {
			reason = "no offers"
		}
		if st.pendingReason == "" {
			st.pendingSince = now
		}
		st.pendingReason, st.pendingRejections = reason, p.Rejections
	}
	for _, id := range ids {
		if st := s.apps[id]; !reported[id] && s.pendingCount(st) == 0 {
			st.pendingReason, st.pendingRejections, st.pendingSince = "", nil, time.Time{}
		}
	}
	return plan
}

// versionString formats an app version as Marathon does: the time the
// definition was made.
func versionString(at time.Time) string {
	return at.UTC().Format(time.RFC3339Nano)
}

func offerIDs(offers []offer.Offer) []string {
	ids := make([]string, len(offers))
	for i, o := range offers {
		ids[i] = o.ID
	}
	return ids
}

func offerByID(offers []offer.Offer, id string) offer.Offer {
	for _, o := range offers {
		if o.ID == id {
			return o
		}
	}
	return offer.Offer{}
}

func (s *Scheduler) appIDs() []string {
	ids := make([]string, 0, len(s.apps))
	for id := range s.apps {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// StatusUpdate applies a task status. A task that ends without the
// scheduler having killed it is a failure: the app records it as its last
// task failure and, unless the reason puts the blame elsewhere (agent gone,
// evicted for the business), waits an exponentially growing delay before
// its next launch. Updates for unknown tasks are ignored and reported false, so the
// caller may kill the task.
func (s *Scheduler) StatusUpdate(u api.TaskStatus) (known bool) {
	t, ok := s.tasks[u.TaskID]
	if !ok {
		return false
	}
	now := s.cfg.Now()
	if !u.State.Terminal() {
		if u.State == api.TaskRunning && t.state != api.TaskRunning {
			t.runningSince = now
		}
		t.state = u.State
		return true
	}
	st := s.apps[t.appID]
	s.removeTask(st, t)
	if st.deleted {
		if len(st.tasks) == 0 {
			delete(s.apps, t.appID)
		}
		return true
	}
	s.wantRevive = true
	if t.killReason != "" {
		return true
	}
	// An unexpected end: remember it, and back off unless the app is not
	// to blame (its agent went away, or gave way to business load).
	if !notTheAppsFault(u.Reason) {
		s.resetBackoffIfStable(st, now, t)
		st.failures++
		st.lastFailure = now
		st.delayUntil = now.Add(st.delay())
	}
	msg := u.Reason
	if u.Message != "" {
		msg = strings.TrimPrefix(msg+": "+u.Message, ": ")
	}
	s.recordEnd(st, t, u.State, msg)
	return true
}

// notTheAppsFault reports whether a task's end reason says that the task
// did nothing wrong: its agent is gone, or it was evicted for the business.
func notTheAppsFault(reason string) bool {
	for _, r := range []string{api.ReasonAgentGone, api.ReasonEvicted, api.ReasonUnknownToAgent} {
		if strings.HasPrefix(reason, r) {
			return true
		}
	}
	return false
}

// recordEnd remembers a task's unexpected end as its app's last failure,
// and its instance as one to re-place.
func (s *Scheduler) recordEnd(st *appState, t *task, state api.TaskState, msg string) {
	st.failure = &TaskFailure{
		TaskID: t.id, AgentID: t.agentID, Host: t.hostname, State: state,
		Message: msg, Timestamp: s.cfg.Now(), Version: versionString(t.versionAt),
	}
	st.replaces = append(st.replaces, t.id)
}

// LaunchFailed forgets tasks whose launch the master refused (their offer
// was rescinded meanwhile); their instances are pending again, with no
// backoff.
func (s *Scheduler) LaunchFailed(taskIDs ...string) {
	for _, id := range taskIDs {
		if t, ok := s.tasks[id]; ok {
			st := s.apps[t.appID]
			s.removeTask(st, t)
			s.wantRevive = true
			if st.deleted && len(st.tasks) == 0 {
				delete(s.apps, t.appID)
			}
		}
	}
}

// Reconcile brings the scheduler in line with the tasks the master knows,
// as listed when the framework (re)subscribes (app IDs in their wire form,
// see WireAppID): known tasks take the
// master's state, tasks of known apps that the scheduler lost track of (it
// restarted) are adopted, tasks of unknown apps are killed, and tasks the
// master no longer knows are dropped as lost, with no backoff. Adopted
// tasks on agents whose attributes are known (AgentChanged before
// Reconcile) are checked against their constraints like after a change.
func (s *Scheduler) Reconcile(tasks []api.TaskStatus) {
	now := s.cfg.Now()
	seen := make(map[string]bool, len(tasks))
	var adopted []string // agents with adopted tasks
	for _, u := range tasks {
		if u.State.Terminal() {
			continue
		}
		seen[u.TaskID] = true
		if t, ok := s.tasks[u.TaskID]; ok {
			if u.State == api.TaskRunning && t.state != api.TaskRunning {
				t.runningSince = now
			}
			t.state = u.State
			continue
		}
		appID := AppIDFromWire(u.AppID)
		st, ok := s.apps[appID]
		ag := s.agents[u.AgentID]
		s.seq++
		t := &task{
			seq: s.seq, id: u.TaskID, appID: appID, agentID: u.AgentID, hostname: ag.hostname, attrs: ag.attrs,
			state: u.State, stagedAt: now,
		}
		if u.State == api.TaskRunning {
			t.runningSince = now
		}
		if ok {
			t.version, t.versionAt = st.version, st.versioned
		} else {
			st = &appState{app: App{ID: appID}, deleted: true, tasks: make(map[string]*task)}
			s.apps[appID] = st
		}
		s.addTask(st, t)
		if st.deleted {
			s.kill(t, KillUnknown, "task of an unknown app")
		} else if _, known := s.agents[t.agentID]; known && !slices.Contains(adopted, t.agentID) {
			adopted = append(adopted, t.agentID)
		}
	}
	// Adopted tasks may run where their constraints no longer hold: the
	// attributes could have changed while nobody watched.
	s.recheck(adopted)
	for _, id := range s.appIDs() {
		st := s.apps[id]
		for _, t := range s.appTasks(id) {
			if !seen[t.id] {
				s.removeTask(st, t)
				s.wantRevive = true
				if t.killReason == "" {
					s.recordEnd(st, t, api.TaskLost, "unknown to the master")
				}
			}
		}
		if st.deleted && len(st.tasks) == 0 {
			delete(s.apps, id)
			continue
		}
		s.scaleDown(st)
	}
}

// Tick does the scheduler's timed work: it resets the backoff of apps that
// have run stably, asks for offers again when a backoff has expired, and
// repeats kills that were not answered. Call it every second or so.
func (s *Scheduler) Tick() {
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
}
