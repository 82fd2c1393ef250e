//go:build linux

package agent

import (
	"context"
	"errors"
	"time"

	"github.com/gleaner/gleaner/examples/internal/api"
)

// callTimeout bounds one call to the master; pollWait is how long a command
// poll waits at the master.
const (
	callTimeout = 10 * time.Second
	pollWait    = 10 * time.Second
)

// masterLoop registers with the master and reports every report interval,
// or at once after a change (a task's state, the reservation, attributes).
// Commands come back in the report's answer; pollLoop fetches them sooner.
func (a *Agent) masterLoop(ctx context.Context) {
	interval := a.cfg.ReportInterval
	registered := false
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-a.kick:
		}
		if !registered {
			rctx, cancel := context.WithTimeout(ctx, callTimeout)
			resp, err := a.client.Register(rctx, a.registration())
			cancel()
			if err != nil {
				a.log.Warn("register with master", "err", err)
				timer.Reset(time.Second)
				continue
			}
			registered = true
			a.setRegistered(true)
			if resp.ReportIntervalSeconds > 0 {
				interval = min(time.Duration(resp.ReportIntervalSeconds*float64(time.Second)), a.cfg.ReportInterval)
			}
			a.log.Info("registered with master", "master", a.client.Leader())
		}
		if err := a.report(ctx); errors.Is(err, api.ErrNotFound) {
			registered = false
			a.setRegistered(false)
			timer.Reset(0)
			continue
		}
		timer.Reset(interval)
	}
}

// report sends one report and handles the commands in its answer.
func (a *Agent) report(ctx context.Context) error {
	rep := a.buildReport()
	sent := map[string]api.TaskState{}
	for _, s := range rep.Tasks {
		sent[s.TaskID] = s.State
	}
	rctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	resp, err := a.client.SendReport(rctx, rep)
	if err != nil {
		a.m.reports.WithLabelValues("error").Inc()
		if ctx.Err() == nil {
			a.log.Warn("report to master", "err", err)
		}
		return err
	}
	a.m.reports.WithLabelValues("ok").Inc()
	a.dropReported(sent)
	a.setDraining(resp.Draining)
	a.handle(resp.Commands)
	return nil
}

func (a *Agent) registration() api.RegisterAgent {
	info := a.reservation()
	return api.RegisterAgent{
		AgentID:     a.cfg.ID,
		Hostname:    a.cfg.Hostname,
		Endpoint:    a.URL(),
		Capacity:    info.Capacity,
		Reservation: info.Reservation,
		Attributes:  a.attributes(),
	}
}

func (a *Agent) buildReport() api.AgentReport {
	info := a.reservation()
	tasks := a.taskStatuses()
	holding := false
	for _, t := range tasks {
		holding = holding || !t.State.Terminal()
	}
	return api.AgentReport{
		AgentID:     a.cfg.ID,
		Reservation: info.Reservation,
		Capacity:    info.Capacity,
		Business:    info.Business,
		Harvested:   info.Harvested,
		Attributes:  a.attributes(),
		Isolation:   info.Isolation,
		Guaranteed:  info.Guaranteed,
		Tasks:       tasks,
		Drained:     info.Draining && !holding,
	}
}

// setDraining takes the master's word on whether the agent drains.
func (a *Agent) setDraining(v bool) {
	a.mu.Lock()
	changed := a.draining != v
	a.draining = v
	a.mu.Unlock()
	if changed {
		a.log.Info("draining", "draining", v)
		a.kickReport()
	}
}

// pollLoop long-polls the master for commands while registered.
func (a *Agent) pollLoop(ctx context.Context) {
	for ctx.Err() == nil {
		if !a.isRegistered() {
			if !pause(ctx, 200*time.Millisecond) {
				return
			}
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, pollWait+callTimeout)
		cmds, err := a.client.Commands(pctx, a.cfg.ID, pollWait)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				a.log.Debug("poll master for commands", "err", err)
				if errors.Is(err, api.ErrNotFound) {
					a.kickReport() // the report registers again
				}
				pause(ctx, time.Second)
			}
			continue
		}
		a.handle(cmds)
	}
}

// handle carries out the master's commands.
func (a *Agent) handle(cmds []api.AgentCommand) {
	for _, c := range cmds {
		switch c.Type {
		case api.CommandLaunch:
			if c.Task == nil {
				a.log.Warn("launch command without a task")
				continue
			}
			if err := a.launch(*c.Task); err != nil {
				a.log.Warn("launch refused", "task", c.Task.TaskID, "err", err)
				a.refuse(*c.Task, err)
			}
		case api.CommandKill:
			reason := c.Reason
			if reason == "" {
				reason = "killed by the framework"
			}
			if !a.killTaskWithin(c.TaskID, api.TaskKilled, reason, c.GraceSeconds) {
				a.log.Info("kill of a task the agent does not run", "task", c.TaskID)
			}
		default:
			a.log.Warn("unknown command", "type", c.Type)
		}
	}
}

// refuse records a launch that could not even be tried as a failed task, so
// the master and the framework learn of it.
func (a *Agent) refuse(info api.TaskInfo, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.tasks[info.TaskID]; ok || info.TaskID == "" || len(info.TaskID) > 255 {
		return
	}
	now := time.Now()
	// Not persisted: there is nothing to adopt or clean up.
	a.tasks[info.TaskID] = &task{id: info.TaskID, ended: now, rec: record{Info: info, State: api.TaskFailed,
		Reason: "launch refused", Message: err.Error(), Started: now, Updated: now}}
}

func (a *Agent) kickReport() {
	select {
	case a.kick <- struct{}{}:
	default:
	}
}

func (a *Agent) setRegistered(v bool) {
	a.mu.Lock()
	a.registered = v
	a.mu.Unlock()
}

func (a *Agent) isRegistered() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.registered
}

// pause waits d and reports whether ctx is still live afterwards.
func pause(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return ctx.Err() == nil
	}
}
