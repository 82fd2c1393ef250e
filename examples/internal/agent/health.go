//go:build linux

package agent

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/gleaner/gleaner/examples/internal/api"
)

// errIgnored is a check result that says nothing: an HTTP 1xx answer of a
// check with IgnoreHTTP1xx.
var errIgnored = errors.New("ignored")

// checkState is what the agent knows of one health check of a task.
type checkState struct {
	check    api.HealthCheck
	next     time.Time
	passed   bool // ever: failures in the grace period count only after
	failures int  // consecutive, counted ones
	verdict  *bool
	lastErr  error
}

// watchHealth runs t's health checks, as Mesos's executor runs a task's,
// from when it runs until it ends or the agent stops: HTTP(S) and TCP
// against the task's port on this host, COMMAND inside the task's root and
// cgroup (runtime.exec). The verdict goes into the task's status; a check
// failing MaxConsecutiveFailures times in a row kills the task.
func (a *Agent) watchHealth(t *task) {
	if len(t.rec.Info.HealthChecks) == 0 {
		return
	}
	a.taskWG.Add(1)
	go func() {
		defer a.taskWG.Done()
		ctx, cancel := context.WithCancel(a.bg)
		defer cancel()
		start := time.Now()
		checks := make([]*checkState, len(t.rec.Info.HealthChecks))
		for i, c := range t.rec.Info.HealthChecks {
			checks[i] = &checkState{check: c, next: start.Add(seconds(c.DelaySeconds))}
		}
		// Keep-alives off: each check is a fresh connection, and nothing
		// idles after the task ends.
		client := &http.Client{Transport: &http.Transport{
			DisableKeepAlives: true,
			// A task's HTTPS endpoint has its own certificate, which the
			// agent cannot know: as Mesos and Marathon do, the check
			// asks whether it answers, not who it is.
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
		}}
		timer := time.NewTimer(0)
		defer timer.Stop()
		for {
			next := checks[0].next
			for _, c := range checks[1:] {
				if c.next.Before(next) {
					next = c.next
				}
			}
			timer.Reset(time.Until(next))
			select {
			case <-t.proc.done:
				return
			case <-a.stopping:
				return
			case <-timer.C:
			}
			now := time.Now()
			for _, c := range checks {
				if now.Before(c.next) {
					continue
				}
				err := a.check(ctx, client, t, c.check)
				c.next = time.Now().Add(seconds(c.check.IntervalSeconds))
				if killed := a.judge(t, checks, c, err, start); killed {
					return
				}
			}
		}
	}()
}

// judge records one check's result, updates the task's health, and kills
// the task when the check has failed too often. It reports the kill.
func (a *Agent) judge(t *task, checks []*checkState, c *checkState, err error, start time.Time) bool {
	switch {
	case errors.Is(err, errIgnored):
		return false
	case err == nil:
		c.passed, c.failures, c.lastErr = true, 0, nil
		c.verdict = ptrBool(true)
	case !c.passed && time.Since(start) < seconds(c.check.GraceSeconds):
		return false // still starting: failures do not count yet
	default:
		c.failures++
		c.lastErr = err
		c.verdict = ptrBool(false)
	}
	healthy := verdict(checks)
	a.setHealth(t, healthy)
	if m := c.check.MaxConsecutiveFailures; m > 0 && c.failures >= m {
		a.m.healthKills.Inc()
		a.killTask(t.id, api.TaskFailed, fmt.Sprintf("%s: %s health check failed %d times in a row: %v",
			api.ReasonUnhealthy, c.check.Protocol, c.failures, c.lastErr))
		return true
	}
	return false
}

// verdict is a task's health: unhealthy when a check failed last, healthy
// when every check passed last, unknown otherwise.
func verdict(checks []*checkState) *bool {
	unknown := false
	for _, s := range checks {
		switch {
		case s.verdict == nil:
			unknown = true
		case !*s.verdict:
			return ptrBool(false)
		}
	}
	if unknown {
		return nil
	}
	return ptrBool(true)
}

func ptrBool(b bool) *bool { return &b }

// setHealth records t's health and reports it when it changed.
func (a *Agent) setHealth(t *task, healthy *bool) {
	a.mu.Lock()
	old := t.rec.Healthy
	if (old == nil) == (healthy == nil) && (old == nil || *old == *healthy) {
		a.mu.Unlock()
		return
	}
	t.rec.Healthy = healthy
	a.persistLocked(t)
	a.mu.Unlock()
	a.kickReport()
}

// check runs one health check once; nil means healthy.
func (a *Agent) check(ctx context.Context, client *http.Client, t *task, c api.HealthCheck) error {
	ctx, cancel := context.WithTimeout(ctx, seconds(c.TimeoutSeconds))
	defer cancel()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(c.Port))
	switch c.Protocol {
	case api.CheckHTTP, api.CheckHTTPS:
		scheme := "http"
		if c.Protocol == api.CheckHTTPS {
			scheme = "https"
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+addr+c.Path, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		switch {
		case resp.StatusCode < 200 && c.IgnoreHTTP1xx:
			return errIgnored
		case resp.StatusCode >= 200 && resp.StatusCode < 400:
			return nil
		}
		return fmt.Errorf("GET %s: %s", c.Path, resp.Status)
	case api.CheckTCP:
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return conn.Close()
	case api.CheckCommand:
		ok, err := a.rt.exec(ctx, t, []string{"/bin/sh", "-c", c.Command})
		switch {
		case err != nil:
			return err
		case !ok:
			return errors.New("command exited non-zero")
		}
		return nil
	}
	return fmt.Errorf("unknown protocol %q", c.Protocol)
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// validChecks refuses health checks the agent cannot run.
func validChecks(checks []api.HealthCheck) error {
	for i, c := range checks {
		switch {
		case c.Protocol != api.CheckHTTP && c.Protocol != api.CheckHTTPS && c.Protocol != api.CheckTCP && c.Protocol != api.CheckCommand:
			return fmt.Errorf("health_checks[%d].protocol %q: want HTTP, HTTPS, TCP or COMMAND", i, c.Protocol)
		case c.Protocol == api.CheckCommand && c.Command == "":
			return fmt.Errorf("health_checks[%d].command: empty", i)
		case c.Protocol != api.CheckCommand && (c.Port < 1 || c.Port > 65535):
			return fmt.Errorf("health_checks[%d].port %d: want 1 to 65535", i, c.Port)
		case !(c.IntervalSeconds >= 0.01) || !(c.TimeoutSeconds > 0):
			return fmt.Errorf("health_checks[%d]: interval_seconds %v and timeout_seconds %v must be positive", i, c.IntervalSeconds, c.TimeoutSeconds)
		}
	}
	return nil
}
