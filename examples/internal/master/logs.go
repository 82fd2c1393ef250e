package master

import (
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"

	"github.com/gleaner/gleaner/examples/internal/api"
	"github.com/gleaner/gleaner/examples/internal/auth"
)

// handleTaskLogs answers GET api.PathTaskLogs by proxying the request to
// the agent that holds the task's sandbox, so that users need only the
// master's address: streaming, with follow, until either end goes. The
// task is found among the live and the recently ended ones; ?agent_id=
// names the agent of a task the master no longer lists.
func (m *Master) handleTaskLogs(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := validID("task_id", id); err != nil {
		m.writeError(w, err)
		return
	}
	lq, err := api.ParseLogQuery(r.URL.Query())
	if err != nil {
		m.writeError(w, err)
		return
	}
	c := m.lockLeading(w)
	if c == nil {
		return
	}
	if err := m.mayReadLogs(auth.PrincipalFrom(r.Context()), c, id); err != nil {
		m.mu.Unlock()
		m.writeError(w, err)
		return
	}
	agentID := lq.AgentID
	if agentID == "" {
		agentID = c.taskAgent(id)
	}
	var endpoint string
	if a, ok := c.agents[agentID]; ok {
		endpoint = a.rec.Endpoint
	}
	m.mu.Unlock()
	switch {
	case agentID == "":
		m.writeError(w, notFound("task %q: not among the live and recently ended tasks; name its agent with ?agent_id=", id))
		return
	case endpoint == "":
		m.writeError(w, notFound("task %q: agent %q is unknown or has no endpoint", id, agentID))
		return
	}
	target, err := url.Parse(endpoint)
	if err != nil {
		m.writeError(w, fmt.Errorf("agent %s endpoint %q: %w", agentID, endpoint, err))
		return
	}
	lq.AgentID = ""
	q := lq.Values()
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.URL.Path = "/tasks/" + url.PathEscape(id) + "/logs"
			pr.Out.URL.RawPath = ""
			pr.Out.URL.RawQuery = q.Encode()
			pr.Out.Header.Del("Authorization") // the caller's credential is for the master
		},
		Transport:     m.agentTransport,
		FlushInterval: -1, // a followed log goes out as it comes
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			api.WriteError(w, http.StatusBadGateway, fmt.Errorf("logs of task %s from agent %s: %w", id, agentID, err))
		},
	}
	proxy.ServeHTTP(w, r)
}

// taskAgent returns the agent of a live or recently ended task, or "".
func (c *cluster) taskAgent(taskID string) string {
	if t, ok := c.tasks[taskID]; ok {
		return t.Info.AgentID
	}
	for i := len(c.ended) - 1; i >= 0; i-- {
		if c.ended[i].TaskID == taskID {
			return c.ended[i].AgentID
		}
	}
	return ""
}
