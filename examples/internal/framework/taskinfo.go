package framework

import (
	"maps"
	"strings"

	"github.com/gleaner/gleaner/examples/internal/api"
)

// taskInfo is the launch of task t of app a on an offer. Besides the app's
// env the task gets Marathon's variables: MARATHON_APP_ID,
// MARATHON_APP_VERSION, MESOS_TASK_ID, HOST and its ports (PORT0..N,
// PORTS; see portEnv). Its health checks go with it, for the agent to run,
// with their ports resolved to the task's host ports.
func taskInfo(a *App, t *task, offerID, replaces string) api.TaskInfo {
	env := make(map[string]string, len(a.Env)+4)
	maps.Copy(env, a.Env)
	env["MARATHON_APP_ID"] = a.ID
	env["MARATHON_APP_VERSION"] = versionString(t.versionAt)
	env["MESOS_TASK_ID"] = t.id
	env["HOST"] = t.hostname
	portEnv(env, a, t.ports)
	ti := api.TaskInfo{
		TaskID:    t.id,
		AppID:     WireAppID(a.ID),
		AgentID:   t.agentID,
		OfferID:   offerID,
		Cmd:       a.Cmd,
		Args:      a.Args,
		Env:       env,
		Resources: t.resources.String(),
		Labels:    a.Labels,
		Priority:  a.Priority,
		Replaces:  replaces,
		User:      a.User,

		KillGraceSeconds: a.TaskKillGracePeriodSeconds,
		HealthChecks:     healthChecks(a, t.ports),
	}
	if len(a.Networks) > 0 {
		ti.Network = a.Networks[0].Mode
	}
	for _, f := range a.Fetch {
		ti.Fetch = append(ti.Fetch, api.FetchURI{URI: f.URI, Executable: f.Executable, Extract: f.Extract, Cache: f.Cache, DestPath: f.DestPath})
	}
	if c := a.Container; c != nil && c.Rootfs != nil {
		r := c.Rootfs
		ti.Image = &api.Image{URI: r.Image, SHA256: r.SHA256, Base: r.Base, Version: r.BaseVersion}
	}
	return ti
}

// WireAppID is how an app ID travels to the master: the master refuses '/'
// in IDs, so "/team/web" becomes "team_web". Marathon IDs never hold '_',
// so appIDFromWire undoes it exactly.
func WireAppID(id string) string {
	return strings.TrimSuffix(taskIDPrefix(id), ".")
}

// appIDFromWire is the inverse of WireAppID.
func appIDFromWire(s string) string {
	return "/" + strings.ReplaceAll(s, "_", "/")
}

// healthChecks is what the agent runs of an app's health checks, with
// portIndex resolved to the task's host port.
func healthChecks(a *App, ports []uint64) []api.HealthCheck {
	var out []api.HealthCheck
	for _, h := range a.HealthChecks {
		c := api.HealthCheck{
			Protocol: h.Protocol, Path: h.Path,
			GraceSeconds: *h.GracePeriodSeconds, IntervalSeconds: *h.IntervalSeconds,
			TimeoutSeconds: *h.TimeoutSeconds, MaxConsecutiveFailures: *h.MaxConsecutiveFailures,
			IgnoreHTTP1xx: h.IgnoreHTTP1xx,
		}
		switch {
		case h.Command != nil:
			c.Command = h.Command.Value
		case h.Port != nil:
			c.Port = *h.Port
		case h.PortIndex != nil && *h.PortIndex < len(ports):
			c.Port = int(ports[*h.PortIndex])
		}
		out = append(out, c)
	}
	return out
}
