package framework

import (
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Deployment actions, as Marathon names them.
const (
	ActionStart   = "StartApplication"
	ActionStop    = "StopApplication"
	ActionScale   = "ScaleApplication"
	ActionRestart = "RestartApplication"
)

// ErrLocked reports a change to an app that a deployment is changing
// already; Marathon answers it with 409 and takes it with ?force=true.
var ErrLocked = errors.New("locked by a deployment")

// Change is one app's part of a deployment. With App set it creates or
// replaces the app (Restart replaces every task even when the definition
// is the same); with App nil it stops and deletes the app with ID, or,
// with Restart, replaces every task of it.
type Change struct {
	ID      string
	App     *App
	Restart bool
}

// deployment is a change of one or more apps, carried out in steps: the
// apps of a step are changed together, and the next step starts when they
// all run their new definition, healthy, and nothing of the old remains
// (Marathon's deployment plan; steps follow dependencies).
type deployment struct {
	id       string
	at       time.Time
	steps    [][]*action
	current  int // index of the step in progress
	affected []string
	result   string // once ended: "finished", "cancelled", "rolled back"
	ended    time.Time
}

// action is one app's change within a deployment.
type action struct {
	kind    string
	id      string
	app     *App // the definition to run; nil to stop, or to restart as is
	restart bool
	// restore, when set, gives the app back the version it had before a
	// deployment that is rolled back, so that its old tasks count as
	// current again.
	restore *appVersion

	applied bool
	version int64       // the app's version once applied
	prev    *appVersion // what the app was before; nil if it did not exist
}

// appVersion is an app definition and its version.
type appVersion struct {
	app       App
	version   int64
	versioned time.Time
}

// Deploy carries out changes as one deployment and returns it. Apps that
// another deployment is changing are ErrLocked unless force is set; then
// that deployment is cancelled as it stands (no rollback). Stopping an
// unknown app is errNotFound. Apps must be normalized.
func (s *scheduler) Deploy(changes []Change, force bool) (DeploymentView, error) {
	locking, err := s.CheckDeploy(changes, force)
	if err != nil {
		return DeploymentView{}, err
	}
	for i := range changes {
		if changes[i].App != nil {
			changes[i].ID = changes[i].App.ID
		}
	}
	var actions []*action
	for _, c := range changes {
		actions = append(actions, s.plan(c))
	}
	steps, err := orderSteps(actions)
	if err != nil {
		return DeploymentView{}, err
	}
	for _, d := range locking {
		s.endDeployment(d, "cancelled")
	}
	return s.startDeployment(steps, actions), nil
}

// startDeployment locks the apps of actions, ordered in steps, for a new
// deployment and moves it on as far as it goes at once.
func (s *scheduler) startDeployment(steps [][]*action, actions []*action) DeploymentView {
	d := &deployment{id: newDeploymentID(), at: s.cfg.Now(), steps: steps}
	for _, a := range actions {
		d.affected = append(d.affected, a.id)
		s.locks[a.id] = d
	}
	sort.Strings(d.affected)
	s.deployments = append(s.deployments, d)
	s.progress()
	return d.view(s)
}

// CheckDeploy reports the error Deploy would return for changes, changing
// nothing, and otherwise the deployments that Deploy, forced, cancels.
func (s *scheduler) CheckDeploy(changes []Change, force bool) ([]*deployment, error) {
	if len(changes) == 0 {
		return nil, fmt.Errorf("%w: a deployment needs at least one app", errInvalid)
	}
	seen := map[string]bool{}
	var locking []*deployment
	for _, c := range changes {
		id := c.ID
		if c.App != nil {
			id = c.App.ID
		}
		if seen[id] {
			return nil, fmt.Errorf("%w: app %q changed twice in one deployment", errInvalid, id)
		}
		seen[id] = true
		if c.App == nil && !s.exists(id) {
			return nil, fmt.Errorf("app %q: %w", id, errNotFound)
		}
		if d := s.locks[id]; d != nil && !slices.Contains(locking, d) {
			locking = append(locking, d)
		}
	}
	if len(locking) > 0 && !force {
		ids := make([]string, len(locking))
		for i, d := range locking {
			ids[i] = d.id
		}
		return nil, fmt.Errorf("%w %s; override with ?force=true", ErrLocked, strings.Join(ids, ", "))
	}
	return locking, nil
}

// exists reports whether an app is defined (and not being deleted).
func (s *scheduler) exists(id string) bool {
	st, ok := s.apps[id]
	return ok && !st.deleted
}

// plan names the action that carries out c, judged against the app as it
// is now.
func (s *scheduler) plan(c Change) *action {
	a := &action{id: c.ID, app: c.App, restart: c.Restart}
	st, ok := s.apps[c.ID]
	switch {
	case c.App == nil && !c.Restart:
		a.kind = ActionStop
	case !ok || st.deleted:
		a.kind = ActionStart
	case c.Restart || c.App == nil || !sameConfig(st.app, *c.App):
		a.kind = ActionRestart
	default:
		a.kind = ActionScale
	}
	return a
}

// sameConfig reports whether two definitions differ in nothing but their
// instance count.
func sameConfig(a, b App) bool {
	a.Instances = b.Instances
	return sameDefinition(a, b)
}

// orderSteps puts actions into steps by their apps' dependencies among the
// apps of the deployment: an app starts after those it depends on, or on
// whose group it depends, run. Stops come first. A cycle is errInvalid.
func orderSteps(actions []*action) ([][]*action, error) {
	byID := map[string]*action{}
	for _, a := range actions {
		byID[a.id] = a
	}
	deps := func(a *action) []*action {
		if a.app == nil {
			return nil
		}
		var out []*action
		for _, d := range a.app.Dependencies {
			for _, b := range actions {
				if b != a && b.app != nil && (b.id == d || strings.HasPrefix(b.id, d+"/")) {
					out = append(out, b)
				}
			}
		}
		return out
	}
	depth := map[*action]int{}
	var visit func(a *action, path []string) (int, error)
	visit = func(a *action, path []string) (int, error) {
		if slices.Contains(path, a.id) {
			return 0, fmt.Errorf("%w: dependencies form a cycle: %s", errInvalid, strings.Join(append(path, a.id), " → "))
		}
		if d, ok := depth[a]; ok {
			return d, nil
		}
		d := 0
		for _, b := range deps(a) {
			bd, err := visit(b, append(path, a.id))
			if err != nil {
				return 0, err
			}
			d = max(d, bd+1)
		}
		depth[a] = d
		return d, nil
	}
	var steps [][]*action
	for _, a := range actions {
		d, err := visit(a, nil)
		if err != nil {
			return nil, err
		}
		if a.kind == ActionStop {
			d = 0
		}
		for len(steps) <= d {
			steps = append(steps, nil)
		}
		steps[d] = append(steps[d], a)
	}
	for _, st := range steps {
		sort.Slice(st, func(i, j int) bool { return st[i].id < st[j].id })
	}
	return steps, nil
}

// newDeploymentID returns a random UUID (version 4), as Marathon's
// deployment IDs are.
func newDeploymentID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// apply carries out one action on the scheduler's apps.
func (s *scheduler) apply(a *action) {
	now := s.cfg.Now()
	st, ok := s.apps[a.id]
	exists := ok && !st.deleted
	a.applied = true
	if exists {
		a.prev = &appVersion{app: st.app, version: st.version, versioned: st.versioned}
	}
	switch {
	case a.app == nil && !a.restart:
		if exists {
			s.removeApp(st)
		}
		return
	case a.app == nil: // restart as is
		if !exists {
			return
		}
		s.newVersion(st, now)
	default:
		if !exists {
			st = &appState{tasks: make(map[string]*task), scaledAt: now}
			if ok { // deleted, its tasks still being killed: they stay with the new app
				for id, t := range s.apps[a.id].tasks {
					st.tasks[id] = t
				}
			}
			s.apps[a.id] = st
		}
		old := st.app
		st.app = *a.app
		switch {
		case a.restore != nil:
			st.version, st.versioned = a.restore.version, a.restore.versioned
			st.failures, st.delayUntil = 0, time.Time{}
		case !exists || a.restart || !sameConfig(old, st.app):
			s.newVersion(st, now)
		}
		if old.Instances != st.app.Instances {
			st.scaledAt = now
		}
	}
	a.version = st.version
	s.wantRevive = true
	s.converge(st)
}

// newVersion gives an app a new version, now: its tasks of the old one are
// replaced, and its launch backoff starts over.
func (s *scheduler) newVersion(st *appState, now time.Time) {
	s.version++
	st.version, st.versioned, st.scaledAt = s.version, now, now
	st.failures, st.delayUntil = 0, time.Time{}
}

// progress moves every deployment on as far as its apps allow: a step
// whose actions are done gives way to the next, and a deployment whose
// last step is done ends.
func (s *scheduler) progress() {
	for _, d := range slices.Clone(s.deployments) {
		for d.result == "" {
			if d.current < len(d.steps) && !d.started() {
				for _, a := range d.steps[d.current] {
					s.apply(a)
				}
			}
			if d.current < len(d.steps) && !s.stepDone(d.steps[d.current]) {
				break
			}
			d.current++
			if d.current >= len(d.steps) {
				s.endDeployment(d, "finished")
			}
		}
	}
}

// started reports whether the current step has been applied.
func (d *deployment) started() bool {
	return d.current < len(d.steps) && len(d.steps[d.current]) > 0 && d.steps[d.current][0].applied
}

func (s *scheduler) stepDone(step []*action) bool {
	for _, a := range step {
		if !s.actionDone(a) {
			return false
		}
	}
	return true
}

// actionDone reports whether an app has reached what an action wanted: it
// is gone, or it runs its instances of the new version, ready, and no
// other task of it is left.
func (s *scheduler) actionDone(a *action) bool {
	st, ok := s.apps[a.id]
	if a.kind == ActionStop {
		return !ok || (st.deleted && len(st.tasks) == 0)
	}
	if !ok || st.deleted || st.version != a.version {
		return !ok || st.deleted // replaced by a later deployment's change
	}
	if len(st.tasks) != st.app.Instances {
		return false
	}
	for _, t := range st.tasks {
		if t.version != st.version || t.killReason != "" || !t.ready() {
			return false
		}
	}
	return true
}

// endDeployment removes a deployment from those in progress and keeps it
// among the recent ones.
func (s *scheduler) endDeployment(d *deployment, result string) {
	d.result, d.ended = result, s.cfg.Now()
	s.deployments = slices.DeleteFunc(s.deployments, func(x *deployment) bool { return x == d })
	for id, l := range s.locks {
		if l == d {
			delete(s.locks, id)
		}
	}
	s.recent = append(s.recent, d)
	if n := len(s.recent) - maxRecentDeployments; n > 0 {
		s.recent = slices.Delete(s.recent, 0, n)
	}
}

// maxRecentDeployments bounds the ended deployments kept for people.
const maxRecentDeployments = 20

// CancelDeployment stops a deployment in progress. With force it stops
// there, the apps left as they are; otherwise a new deployment, which it
// returns, gives the apps back what they had before (rollback): apps it
// created are stopped, apps it stopped or changed get their former
// definition and version, so that their old tasks count as current again.
// An unknown deployment is errNotFound.
func (s *scheduler) CancelDeployment(id string, force bool) (*DeploymentView, error) {
	i := slices.IndexFunc(s.deployments, func(d *deployment) bool { return d.id == id })
	if i < 0 {
		return nil, fmt.Errorf("deployment %q: %w", id, errNotFound)
	}
	d := s.deployments[i]
	if force {
		s.endDeployment(d, "cancelled")
		return nil, nil
	}
	s.endDeployment(d, "rolled back")
	var revert []*action
	for _, step := range d.steps {
		for _, a := range step {
			if !a.applied {
				continue
			}
			r := &action{id: a.id}
			switch {
			case a.prev == nil:
				if !s.exists(a.id) {
					continue
				}
				r.kind = ActionStop
			default:
				app := a.prev.app
				r.app, r.restore = &app, a.prev
				r.kind = ActionRestart
				if !s.exists(a.id) {
					r.kind = ActionStart
				} else if st := s.apps[a.id]; st.version == a.prev.version {
					r.kind = ActionScale
				}
			}
			revert = append(revert, r)
		}
	}
	for _, a := range revert {
		if l := s.locks[a.id]; l != nil {
			s.endDeployment(l, "cancelled")
		}
	}
	steps, err := orderSteps(revert)
	if err != nil { // the apps were ordered before; the same order cannot cycle
		return nil, err
	}
	v := s.startDeployment(steps, revert)
	return &v, nil
}

// DeploymentView is a deployment as GET /v2/deployments shows it, in
// Marathon's form, with Gleaner's progress per app.
type DeploymentView struct {
	ID             string             `json:"id"`
	Version        string             `json:"version"`
	AffectedApps   []string           `json:"affectedApps"`
	AffectedPods   []string           `json:"affectedPods"`
	Steps          []DeploymentStep   `json:"steps"`
	CurrentActions []DeploymentAction `json:"currentActions"`
	CurrentStep    int                `json:"currentStep"` // 1-based, as Marathon's
	TotalSteps     int                `json:"totalSteps"`
	// Result is "" while in progress, then "finished", "cancelled" or
	// "rolled back" (only in Scheduler.RecentDeployments).
	Result string    `json:"result,omitempty"`
	Ended  time.Time `json:"ended,omitzero"`
}

// DeploymentStep is a step of a deployment.
type DeploymentStep struct {
	Actions []DeploymentAction `json:"actions"`
}

// DeploymentAction is one app's change in a step. The counts say how far
// a current action has come: tasks of the new version ready (running and,
// with health checks, healthy) out of the instances wanted, and tasks of
// the old version left.
type DeploymentAction struct {
	Action                string   `json:"action"`
	App                   string   `json:"app"`
	ReadinessCheckResults []string `json:"readinessCheckResults"`
	Instances             int      `json:"instances"`
	Ready                 int      `json:"ready"`
	Old                   int      `json:"old"`
}

func (d *deployment) view(s *scheduler) DeploymentView {
	v := DeploymentView{
		ID: d.id, Version: versionString(d.at), AffectedApps: d.affected, AffectedPods: []string{},
		Steps: []DeploymentStep{}, CurrentActions: []DeploymentAction{},
		CurrentStep: min(d.current+1, len(d.steps)), TotalSteps: len(d.steps),
		Result: d.result, Ended: d.ended,
	}
	for i, step := range d.steps {
		ds := DeploymentStep{Actions: []DeploymentAction{}}
		for _, a := range step {
			da := DeploymentAction{Action: a.kind, App: a.id, ReadinessCheckResults: []string{}}
			ds.Actions = append(ds.Actions, da)
			if i == d.current && d.result == "" {
				if st, ok := s.apps[a.id]; ok && !st.deleted {
					da.Instances = st.app.Instances
					for _, t := range st.tasks {
						switch {
						case t.version != st.version:
							da.Old++
						case t.killReason == "" && t.ready():
							da.Ready++
						}
					}
				} else if ok {
					da.Old = len(st.tasks)
				}
				v.CurrentActions = append(v.CurrentActions, da)
			}
		}
		v.Steps = append(v.Steps, ds)
	}
	return v
}

// Deployments returns the deployments in progress, oldest first.
func (s *scheduler) Deployments() []DeploymentView {
	out := []DeploymentView{}
	for _, d := range s.deployments {
		out = append(out, d.view(s))
	}
	return out
}

// RecentDeployments returns the deployments that ended lately, oldest
// first, for people (the dashboard); Marathon's API shows none.
func (s *scheduler) RecentDeployments() []DeploymentView {
	out := []DeploymentView{}
	for _, d := range s.recent {
		out = append(out, d.view(s))
	}
	return out
}

// appDeployments returns the IDs of the deployments changing an app.
func (s *scheduler) appDeployments(id string) []DeploymentRef {
	out := []DeploymentRef{}
	if d := s.locks[id]; d != nil {
		out = append(out, DeploymentRef{ID: d.id})
	}
	return out
}

// DeploymentRef names a deployment in an app's status.
type DeploymentRef struct {
	ID string `json:"id"`
}
