package framework

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"time"

	"github.com/gleaner/gleaner/examples/internal/api"
	"github.com/gleaner/gleaner/offer"
)

// callTimeout bounds each call to the master.
const callTimeout = 10 * time.Second

// session runs one subscription: it reads events, feeds them to the
// scheduler and carries out what the scheduler asks, until the stream ends
// or ctx does.
func (f *Framework) session(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	stream, err := f.client.Subscribe(ctx, api.Subscribe{
		FrameworkID: f.FrameworkID(), Name: f.cfg.Name, Role: f.cfg.Role, Weight: f.cfg.Weight,
	})
	if err != nil {
		cancel()
		return fmt.Errorf("subscribe: %w", err)
	}
	events := make(chan api.Event)
	ended := make(chan error, 1)
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			ev, err := stream.Next()
			if err != nil {
				ended <- err
				return
			}
			select {
			case events <- ev:
			case <-ctx.Done():
				return
			}
		}
	})
	defer func() {
		cancel()
		stream.Close()
		wg.Wait()
	}()

	tick := time.NewTicker(f.cfg.Tick)
	defer tick.Stop()
	// The master sends heartbeats; three missed ones end the session.
	silence := time.NewTimer(time.Hour)
	defer silence.Stop()
	var heartbeat time.Duration
	subscribed := false
	var lastPending *api.ReportPending
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-ended:
			return fmt.Errorf("event stream: %w", err)
		case <-silence.C:
			return fmt.Errorf("no event from the master for %s", 3*heartbeat)
		case <-tick.C:
			f.mu.Lock()
			f.sched.Tick()
			f.mu.Unlock()
		case <-f.wake:
		case ev := <-events:
			if !subscribed && ev.Type != api.EventSubscribed {
				return fmt.Errorf("first event is %s, want %s", ev.Type, api.EventSubscribed)
			}
			if ev.Type == api.EventSubscribed {
				subscribed = true
				lastPending = nil
				heartbeat = time.Duration(ev.Subscribed.HeartbeatIntervalSeconds * float64(time.Second))
			}
			if heartbeat > 0 {
				silence.Reset(3 * heartbeat)
			}
			f.handle(ctx, ev)
		}
		if subscribed {
			lastPending = f.flush(ctx, lastPending)
		}
	}
}

// handle applies one event.
func (f *Framework) handle(ctx context.Context, ev api.Event) {
	switch ev.Type {
	case api.EventSubscribed:
		s := ev.Subscribed
		if s == nil {
			return
		}
		agents := f.masterAgents(ctx)
		f.mu.Lock()
		f.frameworkID = s.FrameworkID
		f.connected = true
		f.sched.ResetOffers()
		f.sched.maxPriority = s.MaxPriority
		f.sched.masterURL = f.client.Leader()
		for _, a := range agents {
			f.sched.AgentChanged(a.ID, a.Hostname, a.Attributes)
			f.sched.AgentDraining(a.ID, a.Maintenance != nil && a.Maintenance.Draining)
		}
		f.sched.Reconcile(s.Tasks)
		f.mu.Unlock()
		f.metrics.subscriptions.Inc()
		f.log.Info("subscribed", "framework", s.FrameworkID, "tasks", len(s.Tasks), "agents", len(agents), "master", f.client.Leader())
	case api.EventOffers:
		f.offers(ctx, ev.Offers)
	case api.EventUpdate:
		if ev.Status == nil {
			return
		}
		u := *ev.Status
		f.metrics.updates.WithLabelValues(string(u.State)).Inc()
		f.mu.Lock()
		known := f.sched.StatusUpdate(u)
		f.mu.Unlock()
		if !known && !u.State.Terminal() {
			f.kill(ctx, killOrder{TaskID: u.TaskID, AgentID: u.AgentID, Cause: killUnknown, Reason: "task of no app this framework runs"})
		}
	case api.EventAgentChanged:
		a := ev.Agent
		if a == nil {
			return
		}
		f.mu.Lock()
		if a.Gone {
			f.sched.AgentGone(a.AgentID)
		} else {
			f.sched.AgentChanged(a.AgentID, a.Hostname, a.Attributes)
		}
		f.mu.Unlock()
	case api.EventMaintenance:
		if m := ev.Maintenance; m != nil {
			f.mu.Lock()
			f.sched.AgentDraining(m.AgentID, m.Draining)
			f.mu.Unlock()
		}
	case api.EventError:
		f.log.Error("master reports an error", "message", ev.Message)
	}
}

// masterAgents reads every agent's hostname and attributes from the
// master's state, so that tasks adopted after a restart are judged
// (constraints, GROUP_BY counts) by where they really run even before their
// agents offer anything again.
func (f *Framework) masterAgents(ctx context.Context) []api.AgentState {
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	state, err := f.client.State(cctx)
	cancel()
	if err != nil {
		f.metrics.callErrors.WithLabelValues("state").Inc()
		f.log.Warn("reading the master's agents failed; offers will tell", "err", err)
		return nil
	}
	return state.Agents
}

// offers answers a batch of offers: accepts with launches, declines the rest.
func (f *Framework) offers(ctx context.Context, in []api.Offer) {
	f.metrics.offers.Add(float64(len(in)))
	offers := make([]offer.Offer, 0, len(in))
	var bad []string
	for _, o := range in {
		res, err := offer.ParseResources(o.Resources)
		if err != nil {
			f.log.Warn("declining an offer with unreadable resources", "offer", o.ID, "err", err)
			bad = append(bad, o.ID)
			continue
		}
		offers = append(offers, offer.Offer{
			ID: o.ID, AgentID: o.AgentID, Hostname: o.Hostname, Attributes: o.Attributes,
			FrameworkID: o.FrameworkID, Resources: res,
		})
	}
	start := time.Now()
	f.mu.Lock()
	plan := f.sched.ResourceOffers(offers)
	id := f.frameworkID
	f.mu.Unlock()
	f.metrics.matchSeconds.Observe(time.Since(start).Seconds())

	refuse := f.cfg.Refuse.Seconds()
	for _, acc := range plan.Accept {
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		err := f.client.Accept(cctx, api.Accept{FrameworkID: id, OfferIDs: []string{acc.OfferID}, Tasks: acc.Tasks, RefuseSeconds: &refuse})
		cancel()
		if err != nil {
			// Most likely rescinded meanwhile: nothing was launched.
			f.log.Info("accept refused; the instances stay pending", "offer", acc.OfferID, "err", err)
			f.metrics.callErrors.WithLabelValues("accept").Inc()
			ids := make([]string, len(acc.Tasks))
			for i, t := range acc.Tasks {
				ids[i] = t.TaskID
			}
			f.mu.Lock()
			f.sched.LaunchFailed(ids...)
			f.mu.Unlock()
			continue
		}
		f.metrics.launched.Add(float64(len(acc.Tasks)))
		for _, t := range acc.Tasks {
			f.log.Info("launching", "task", t.TaskID, "app", t.AppID, "agent", acc.AgentID, "replaces", t.Replaces)
		}
	}
	if decline := append(plan.Decline, bad...); len(decline) > 0 {
		f.metrics.declined.Add(float64(len(decline)))
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		err := f.client.Decline(cctx, api.Decline{FrameworkID: id, OfferIDs: decline, RefuseSeconds: &refuse})
		cancel()
		if err != nil && !errors.Is(err, api.ErrNotFound) {
			f.metrics.callErrors.WithLabelValues("decline").Inc()
			f.log.Warn("decline failed", "err", err)
		}
	}
}

// flush carries out the kills and the offer call the scheduler asks for,
// and reports pending apps to the master when they changed since last.
func (f *Framework) flush(ctx context.Context, last *api.ReportPending) *api.ReportPending {
	f.mu.Lock()
	kills := f.sched.TakeKills()
	call := f.sched.OfferCall()
	id := f.frameworkID
	report := &api.ReportPending{FrameworkID: id, Pending: pendingApps(f.sched.Apps()),
		Deployments: deploymentReport(f.sched.Deployments(), f.sched.RecentDeployments())}
	f.mu.Unlock()

	for _, k := range kills {
		f.kill(ctx, k)
	}
	if call != offerNone {
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		var err error
		if call == offerRevive {
			err = f.client.Revive(cctx, id)
		} else {
			err = f.client.Suppress(cctx, id)
		}
		cancel()
		if err != nil {
			f.metrics.callErrors.WithLabelValues(call.String()).Inc()
			f.log.Warn("offer call failed", "call", call, "err", err)
			f.mu.Lock()
			f.sched.ResetOffers()
			f.mu.Unlock()
		}
	}
	if last != nil && reflect.DeepEqual(report, last) {
		return last
	}
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	err := f.client.ReportPending(cctx, *report)
	cancel()
	if err != nil {
		f.metrics.callErrors.WithLabelValues("pending").Inc()
		f.log.Warn("reporting pending apps failed", "err", err)
		return nil
	}
	return report
}

// deploymentReport is what the dashboard shows of deployments: those in
// progress and those that ended lately.
func deploymentReport(active, recent []DeploymentView) []api.Deployment {
	out := []api.Deployment{}
	for _, d := range append(recent, active...) {
		started, _ := time.Parse(time.RFC3339Nano, d.Version)
		r := api.Deployment{ID: d.ID, Started: started, Step: d.CurrentStep, Steps: d.TotalSteps, Result: d.Result, Actions: []api.DeploymentAction{}}
		for _, a := range d.CurrentActions {
			r.Actions = append(r.Actions, api.DeploymentAction{Action: a.Action, AppID: WireAppID(a.App), Instances: a.Instances, Ready: a.Ready, Old: a.Old})
		}
		if d.Result != "" {
			for _, step := range d.Steps {
				for _, a := range step.Actions {
					r.Actions = append(r.Actions, api.DeploymentAction{Action: a.Action, AppID: WireAppID(a.App)})
				}
			}
		}
		out = append(out, r)
	}
	return out
}

// pendingApps lists the apps with instances waiting, and why.
func pendingApps(apps []AppStatus) []api.PendingApp {
	out := []api.PendingApp{}
	for _, a := range apps {
		if a.Pending != nil {
			out = append(out, api.PendingApp{AppID: WireAppID(a.ID), Waiting: a.Pending.Instances, Reason: a.Pending.Reason,
				Rejections: a.Pending.Rejections})
		}
	}
	return out
}

// kill asks the master to kill a task. A task the master does not know has
// ended already.
func (f *Framework) kill(ctx context.Context, k killOrder) {
	f.metrics.kills.WithLabelValues(string(k.Cause)).Inc()
	f.log.Info("killing", "task", k.TaskID, "app", k.AppID, "agent", k.AgentID, "reason", k.Reason)
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	err := f.client.Kill(cctx, api.Kill{FrameworkID: f.FrameworkID(), TaskID: k.TaskID, Reason: k.Reason, GraceSeconds: k.GraceSeconds})
	cancel()
	switch {
	case errors.Is(err, api.ErrNotFound):
		f.mu.Lock()
		f.sched.StatusUpdate(api.TaskStatus{TaskID: k.TaskID, State: api.TaskKilled, Reason: "unknown to the master"})
		f.mu.Unlock()
	case err != nil:
		f.metrics.callErrors.WithLabelValues("kill").Inc()
		f.log.Warn("kill failed; it will be repeated", "task", k.TaskID, "err", err)
	}
}
