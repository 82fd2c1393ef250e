package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Client calls the master's HTTP API. It is given every master's URL and
// follows the leader: a 503 naming the leader switches to it, if it is one
// of those URLs (the leader a follower names comes from etcd, which is only
// a hint), and a connection error moves on to the next master. It is safe
// for concurrent use.
type Client struct {
	http    *http.Client
	masters []string
	token   string

	mu     sync.Mutex
	leader string
}

// ClientOption configures a Client.
type ClientOption func(*Client)

// WithHTTPClient sets the HTTP client (default: one with no overall timeout,
// since subscribe streams and command polls are long; calls take their
// deadline from ctx).
func WithHTTPClient(h *http.Client) ClientOption { return func(c *Client) { c.http = h } }

// WithBearerToken authenticates every call with token ("Authorization:
// Bearer"), for a framework or operator without a client certificate.
func WithBearerToken(token string) ClientOption { return func(c *Client) { c.token = token } }

// NewClient returns a client of the masters at the given base URLs
// ("http://127.0.0.1:5050").
func NewClient(masters []string, opts ...ClientOption) *Client {
	c := &Client{http: &http.Client{}}
	for _, m := range masters {
		c.masters = append(c.masters, strings.TrimRight(m, "/"))
	}
	if len(c.masters) > 0 {
		c.leader = c.masters[0]
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Leader returns the master URL the client currently talks to.
func (c *Client) Leader() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.leader
}

// State returns the cluster state the dashboard shows.
func (c *Client) State(ctx context.Context) (State, error) {
	var s State
	err := c.call(ctx, http.MethodGet, PathState, nil, &s)
	return s, err
}

// Drain marks an agent draining (an operator's call, grant
// update_maintenance).
func (c *Client) Drain(ctx context.Context, d DrainAgent) (AgentMaintenance, error) {
	var out AgentMaintenance
	err := c.call(ctx, http.MethodPost, PathDrain, d, &out)
	return out, err
}

// Up ends an agent's drain.
func (c *Client) Up(ctx context.Context, agentID string) (AgentMaintenance, error) {
	var out AgentMaintenance
	err := c.call(ctx, http.MethodPost, PathUp, UpAgent{AgentID: agentID}, &out)
	return out, err
}

// SetSchedule replaces the maintenance schedule.
func (c *Client) SetSchedule(ctx context.Context, s MaintenanceSchedule) error {
	return c.call(ctx, http.MethodPost, PathSchedule, s, nil)
}

// Schedule returns the maintenance schedule.
func (c *Client) Schedule(ctx context.Context) (MaintenanceSchedule, error) {
	var out MaintenanceSchedule
	err := c.call(ctx, http.MethodGet, PathSchedule, nil, &out)
	return out, err
}

// call sends one request to the leader and decodes a 2xx answer into out.
// It tries each master at most twice.
func (c *Client) call(ctx context.Context, method, path string, in, out any) error {
	resp, err := c.send(ctx, method, path, in)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("master %s %s: decode answer: %w", method, path, err)
	}
	return nil
}

// send returns a 2xx response whose body the caller closes, or an error.
func (c *Client) send(ctx context.Context, method, path string, in any) (*http.Response, error) {
	if len(c.masters) == 0 {
		return nil, errors.New("api: no master URL")
	}
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return nil, fmt.Errorf("api: encode %s: %w", path, err)
		}
	}
	var lastErr error
	for attempt := 0; attempt < 2*len(c.masters); attempt++ {
		base := c.Leader()
		req, err := http.NewRequestWithContext(ctx, method, base+path, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		if in != nil {
			req.Header.Set("Content-Type", ContentTypeJSON)
		}
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		resp, err := c.http.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			lastErr = err
			c.next(base)
			continue
		}
		if resp.StatusCode/100 == 2 {
			return resp, nil
		}
		serr := decodeError(resp)
		if serr.Code != http.StatusServiceUnavailable {
			return nil, serr
		}
		lastErr = serr
		if leader, ok := c.known(serr.Leader); ok && leader != base {
			c.setLeader(leader)
		} else {
			c.next(base)
			if err := sleep(ctx, 50*time.Millisecond); err != nil {
				return nil, err
			}
		}
	}
	return nil, lastErr
}

func decodeError(resp *http.Response) *StatusError {
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	e := &StatusError{Code: resp.StatusCode}
	var er ErrorResponse
	if json.Unmarshal(data, &er) == nil && er.Error != "" {
		e.Message, e.Leader = er.Error, er.Leader
	} else {
		e.Message = strings.TrimSpace(string(data))
	}
	return e
}

// known returns u as one of the configured masters' URLs, if it is one.
func (c *Client) known(u string) (string, bool) {
	u = strings.TrimRight(u, "/")
	for _, m := range c.masters {
		if m == u {
			return m, true
		}
	}
	return "", false
}

func (c *Client) setLeader(u string) {
	c.mu.Lock()
	c.leader = strings.TrimRight(u, "/")
	c.mu.Unlock()
}

// next moves from the failed master to the following one.
func (c *Client) next(failed string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.leader != failed {
		return
	}
	for i, m := range c.masters {
		if m == failed {
			c.leader = c.masters[(i+1)%len(c.masters)]
			return
		}
	}
	c.leader = c.masters[0]
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// AgentClient is the agent's side of the API.
type AgentClient struct{ *Client }

// NewAgentClient returns an agent client of the given masters.
func NewAgentClient(masters []string, opts ...ClientOption) *AgentClient {
	return &AgentClient{NewClient(masters, opts...)}
}

// Register registers (or re-registers) the agent.
func (c *AgentClient) Register(ctx context.Context, r RegisterAgent) (RegisterAgentResponse, error) {
	var out RegisterAgentResponse
	err := c.call(ctx, http.MethodPost, PathAgentRegister, r, &out)
	return out, err
}

// Report sends a report and returns the commands queued for the agent.
// An error matching ErrNotFound means the master does not know the agent:
// register again.
func (c *AgentClient) Report(ctx context.Context, r AgentReport) ([]AgentCommand, error) {
	out, err := c.SendReport(ctx, r)
	return out.Commands, err
}

// SendReport is Report returning the whole answer: the commands, and
// whether the agent is draining.
func (c *AgentClient) SendReport(ctx context.Context, r AgentReport) (ReportResponse, error) {
	var out ReportResponse
	err := c.call(ctx, http.MethodPost, PathAgentReport, r, &out)
	return out, err
}

// Commands waits up to wait (at most 30 s) for commands for the agent.
func (c *AgentClient) Commands(ctx context.Context, agentID string, wait time.Duration) ([]AgentCommand, error) {
	var out CommandsResponse
	err := c.call(ctx, http.MethodPost, PathAgentCommands,
		PollCommands{AgentID: agentID, WaitSeconds: wait.Seconds()}, &out)
	return out.Commands, err
}

// SchedulerClient is a framework's side of the API.
type SchedulerClient struct{ *Client }

// NewSchedulerClient returns a scheduler client of the given masters.
func NewSchedulerClient(masters []string, opts ...ClientOption) *SchedulerClient {
	return &SchedulerClient{NewClient(masters, opts...)}
}

// Subscribe opens the event stream. The first event is SUBSCRIBED with the
// framework's ID. The stream ends (Next returns an error) when ctx ends, the
// stream is closed or the master stops leading; subscribe again with the
// same FrameworkID to resume.
func (c *SchedulerClient) Subscribe(ctx context.Context, s Subscribe) (*EventStream, error) {
	resp, err := c.send(ctx, http.MethodPost, PathSubscribe, s)
	if err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	return &EventStream{body: resp.Body, sc: sc}, nil
}

// Accept launches tasks on offers; see Accept.
func (c *SchedulerClient) Accept(ctx context.Context, a Accept) error {
	return c.call(ctx, http.MethodPost, PathAccept, a, nil)
}

// Decline returns offers; see Decline.
func (c *SchedulerClient) Decline(ctx context.Context, d Decline) error {
	return c.call(ctx, http.MethodPost, PathDecline, d, nil)
}

// Revive resumes offers and clears the framework's filters.
func (c *SchedulerClient) Revive(ctx context.Context, frameworkID string) error {
	return c.call(ctx, http.MethodPost, PathRevive, Revive{FrameworkID: frameworkID}, nil)
}

// Suppress stops offers to the framework until Revive.
func (c *SchedulerClient) Suppress(ctx context.Context, frameworkID string) error {
	return c.call(ctx, http.MethodPost, PathSuppress, Suppress{FrameworkID: frameworkID}, nil)
}

// Kill asks the task's agent to kill it.
func (c *SchedulerClient) Kill(ctx context.Context, k Kill) error {
	return c.call(ctx, http.MethodPost, PathKill, k, nil)
}

// ReportPending replaces the framework's list of pending apps and reasons.
func (c *SchedulerClient) ReportPending(ctx context.Context, p ReportPending) error {
	return c.call(ctx, http.MethodPost, PathPending, p, nil)
}

// Teardown kills the framework's tasks and forgets it.
func (c *SchedulerClient) Teardown(ctx context.Context, frameworkID string) error {
	return c.call(ctx, http.MethodPost, PathTeardown, Teardown{FrameworkID: frameworkID}, nil)
}

// EventStream reads a subscription's events. It is not safe for concurrent
// use; one goroutine calls Next.
type EventStream struct {
	body io.ReadCloser
	sc   *bufio.Scanner
}

// Next returns the next event. It returns io.EOF when the master ended the
// stream.
func (s *EventStream) Next() (Event, error) {
	for s.sc.Scan() {
		line := bytes.TrimSpace(s.sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var ev Event
		if err := json.Unmarshal(line, &ev); err != nil {
			return Event{}, fmt.Errorf("api: event stream: %w", err)
		}
		return ev, nil
	}
	if err := s.sc.Err(); err != nil {
		return Event{}, err
	}
	return Event{}, io.EOF
}

// Close ends the stream.
func (s *EventStream) Close() error { return s.body.Close() }
