package api

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Task logs: the agent serves a task's stdout and stderr from its sandbox,
// while the task runs and after (until the sandbox is collected), and the
// master proxies them at PathTaskLogs so that users need only the master's
// address:
//
//	GET /api/v1/tasks/web.1/logs?stream=stderr&offset=-4096&follow=true
//
// stream is stdout (default) or stderr; offset is a byte offset from the
// stream's start, or negative from its end; follow keeps the answer open
// and sends what the task writes until it ends. The answer is text/plain;
// HeaderLogOffset says at which offset it starts, later than asked when
// that part of the stream was rotated out.

// HeaderLogOffset is the answer header that holds the offset the text
// starts at.
const HeaderLogOffset = "X-Gleaner-Log-Offset"

// Log streams.
const (
	StreamStdout = "stdout"
	StreamStderr = "stderr"
)

// LogQuery is what a logs request asks.
type LogQuery struct {
	Stream string // StreamStdout or StreamStderr
	Offset int64  // from the start; negative: from the end
	Follow bool
	// AgentID names the agent holding the sandbox, for the master, of a
	// task it no longer lists; agents ignore it.
	AgentID string
}

// Values encodes q as a query string's values.
func (q LogQuery) Values() url.Values {
	v := url.Values{}
	if q.Stream != "" {
		v.Set("stream", q.Stream)
	}
	if q.Offset != 0 {
		v.Set("offset", strconv.FormatInt(q.Offset, 10))
	}
	if q.Follow {
		v.Set("follow", "true")
	}
	if q.AgentID != "" {
		v.Set("agent_id", q.AgentID)
	}
	return v
}

// TaskLogsURL is the path and query of a task's logs on the master
// (PathTaskLogs).
func TaskLogsURL(taskID string, q LogQuery) string {
	u := strings.Replace(PathTaskLogs, "{id}", url.PathEscape(taskID), 1)
	if v := q.Values().Encode(); v != "" {
		u += "?" + v
	}
	return u
}

// Logs opens a task's logs through the master. The caller reads the text
// from the returned body, which ends when the stream does (with
// q.Follow, when the task ends) or ctx ends, and closes it; start is the
// offset the text begins at.
func (c *Client) Logs(ctx context.Context, taskID string, q LogQuery) (body io.ReadCloser, start int64, err error) {
	resp, err := c.send(ctx, http.MethodGet, TaskLogsURL(taskID, q), nil)
	if err != nil {
		return nil, 0, err
	}
	start, _ = strconv.ParseInt(resp.Header.Get(HeaderLogOffset), 10, 64)
	return resp.Body, start, nil
}

// ParseLogQuery reads a logs request's query. Its error is a *RequestError
// naming the parameter and the value.
func ParseLogQuery(v url.Values) (LogQuery, error) {
	q := LogQuery{Stream: StreamStdout, AgentID: v.Get("agent_id")}
	bad := func(name, value, why string) error {
		return &RequestError{Code: http.StatusBadRequest, Field: name, Reason: fmt.Sprintf("%q: %s", value, why)}
	}
	if s := v.Get("stream"); s != "" {
		if s != StreamStdout && s != StreamStderr {
			return q, bad("stream", s, "want stdout or stderr")
		}
		q.Stream = s
	}
	if s := v.Get("offset"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return q, bad("offset", s, "want a whole number of bytes")
		}
		q.Offset = n
	}
	if s := v.Get("follow"); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return q, bad("follow", s, "want true or false")
		}
		q.Follow = b
	}
	return q, nil
}
