package master

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gleaner/gleaner/examples/internal/api"
	"github.com/gleaner/gleaner/examples/internal/auth"
)

// TestBadInputIsRefusedAndStateStaysIntact sends every endpoint malformed,
// unknown, oversized and stale input and checks the 4xx answer names what is
// wrong, and that the master's state is the same afterwards.
func TestBadInputIsRefusedAndStateStaysIntact(t *testing.T) {
	// The agent sends no report while the bad requests go in, which take
	// longer than the test grace on a loaded machine: it must not be
	// given up on meanwhile.
	f := newFixture(t, "cpus:2;mem:1024", func(c *Config) { c.AgentGrace = 10 * time.Minute })
	ctx, m, agent, sched, s, fw := context.Background(), f.m, f.agent, f.sched, f.s, f.fw
	launch(t, sched, agent, s, fw, "a1", "t1")
	stale := s.offerOn("a1")
	require.NoError(t, sched.Decline(ctx, api.Decline{FrameworkID: fw, OfferIDs: []string{stale.ID}, RefuseSeconds: ptr(60.0)}))
	_, err := agent.Report(ctx, api.AgentReport{AgentID: "a1", Reservation: "cpus:2;mem:1024",
		Tasks: []api.TaskStatus{{TaskID: "t1", State: api.TaskRunning}}})
	require.NoError(t, err)
	before := snapshot(t, agent)

	huge := `{"agent_id":"` + strings.Repeat("a", api.MaxBodyBytes) + `"}`
	posts := []string{api.PathAgentRegister, api.PathAgentReport, api.PathAgentCommands, api.PathSubscribe,
		api.PathAccept, api.PathDecline, api.PathRevive, api.PathSuppress, api.PathKill, api.PathPending, api.PathTeardown}
	type tc struct {
		name, path, body string
		code             int
		msg              string // substring of the error
	}
	var tests []tc
	for _, p := range posts {
		tests = append(tests,
			tc{"malformed JSON", p, `{"framework_id":`, 400, "malformed JSON"},
			tc{"unknown field", p, `{"bogus":1}`, 400, `field "bogus": unknown field`},
			tc{"oversized body", p, huge, 413, "larger than 1048576 bytes"},
			tc{"empty body", p, ``, 400, "empty body"},
			tc{"two objects", p, `{}{}`, 400, "data after the object"},
			tc{"array instead of object", p, `[1]`, 400, "want an object, got JSON array"},
		)
	}
	tests = append(tests,
		tc{"register without agent_id", api.PathAgentRegister, `{"hostname":"h","reservation":"cpus:1"}`, 400, "agent_id: missing"},
		tc{"register with a slash in the ID", api.PathAgentRegister, `{"agent_id":"a/b","hostname":"h","reservation":"cpus:1"}`, 400, `agent_id "a/b"`},
		tc{"register with negative reservation", api.PathAgentRegister, `{"agent_id":"a2","hostname":"h","reservation":"cpus:-1"}`, 400, "reservation: "},
		tc{"register with bad attribute", api.PathAgentRegister, `{"agent_id":"a2","hostname":"h","reservation":"cpus:1","attributes":{"a/b":"1"}}`, 400, `attributes: `},
		tc{"register with wrong type", api.PathAgentRegister, `{"agent_id":5}`, 400, `field "agent_id"`},
		tc{"report from unknown agent", api.PathAgentReport, `{"agent_id":"nope","reservation":"cpus:1","tasks":[]}`, 404, `agent "nope" is not registered`},
		tc{"report with bad task state", api.PathAgentReport, `{"agent_id":"a1","reservation":"cpus:2;mem:1024","tasks":[{"task_id":"t1","state":"DANCING"}]}`, 400, `tasks[0].state "DANCING"`},
		tc{"report with task twice", api.PathAgentReport, `{"agent_id":"a1","reservation":"cpus:2;mem:1024","tasks":[{"task_id":"t1","state":"TASK_RUNNING"},{"task_id":"t1","state":"TASK_RUNNING"}]}`, 400, `listed twice`},
		tc{"report with bad usage", api.PathAgentReport, `{"agent_id":"a1","reservation":"cpus:2;mem:1024","business":"cpus:x","tasks":[]}`, 400, `business: `},
		tc{"commands for unknown agent", api.PathAgentCommands, `{"agent_id":"nope"}`, 404, `agent "nope"`},
		tc{"commands with too long a wait", api.PathAgentCommands, `{"agent_id":"a1","wait_seconds":3600}`, 400, `wait_seconds 3600`},
		tc{"subscribe without name", api.PathSubscribe, `{}`, 400, "name: missing"},
		tc{"subscribe with negative weight", api.PathSubscribe, `{"name":"x","weight":-1}`, 400, "weight -1"},
		tc{"subscribe changing role", api.PathSubscribe, fmt.Sprintf(`{"framework_id":%q,"name":"x","role":"other"}`, fw), 409, "cannot change"},
		tc{"accept for unknown framework", api.PathAccept, `{"framework_id":"nope","offer_ids":["o1"],"tasks":[]}`, 404, `framework "nope" is not registered`},
		tc{"accept of a declined offer", api.PathAccept, fmt.Sprintf(`{"framework_id":%q,"offer_ids":[%q],"tasks":[]}`, fw, stale.ID), 404, "rescinded, declined, accepted or never made"},
		tc{"accept of an unknown offer", api.PathAccept, fmt.Sprintf(`{"framework_id":%q,"offer_ids":["o9-9"],"tasks":[]}`, fw), 404, `"o9-9"`},
		tc{"accept without offers", api.PathAccept, fmt.Sprintf(`{"framework_id":%q,"offer_ids":[],"tasks":[]}`, fw), 400, "offer_ids: empty"},
		tc{"decline of unknown offer", api.PathDecline, fmt.Sprintf(`{"framework_id":%q,"offer_ids":["o9-9"]}`, fw), 404, `"o9-9"`},
		tc{"decline of unknown offer with negative refuse", api.PathDecline, fmt.Sprintf(`{"framework_id":%q,"offer_ids":["o9-9"],"refuse_seconds":-1}`, fw), 404, `"o9-9"`},
		tc{"revive unknown framework", api.PathRevive, `{"framework_id":"nope"}`, 404, `framework "nope"`},
		tc{"suppress without framework", api.PathSuppress, `{}`, 400, `framework_id: missing`},
		tc{"kill unknown task", api.PathKill, fmt.Sprintf(`{"framework_id":%q,"task_id":"nope"}`, fw), 404, `task_id "nope"`},
		tc{"kill another framework's task", api.PathKill, `{"framework_id":"nope","task_id":"t1"}`, 404, `framework "nope"`},
		tc{"pending with negative count", api.PathPending, fmt.Sprintf(`{"framework_id":%q,"pending":[{"app_id":"a","waiting":-1,"reason":"x"}]}`, fw), 400, "pending[0].waiting -1"},
		tc{"pending with an unknown rejection kind", api.PathPending, fmt.Sprintf(`{"framework_id":%q,"pending":[{"app_id":"a","waiting":1,"reason":"x","rejections":[{"kind":"luck","offers":1}]}]}`, fw), 400, `pending[0].rejections[0].kind "luck"`},
		tc{"pending with a negative rejection count", api.PathPending, fmt.Sprintf(`{"framework_id":%q,"pending":[{"app_id":"a","waiting":1,"reason":"x","rejections":[{"kind":"resource","name":"cpus","offers":-2}]}]}`, fw), 400, "pending[0].rejections[0].offers -2"},
		tc{"teardown unknown framework", api.PathTeardown, `{"framework_id":"nope"}`, 404, `framework "nope"`},
	)
	for _, tt := range tests {
		t.Run(tt.path+" "+tt.name, func(t *testing.T) {
			code, msg := post(t, m.URL()+tt.path, "application/json", tt.body)
			require.Equal(t, tt.code, code, "answer: %s", msg)
			require.Contains(t, msg, tt.msg)
		})
	}

	require.Equal(t, before, snapshot(t, agent))

	// Accept is all or nothing: one bad task fails the call and the good
	// offer stays outstanding, so a corrected call succeeds.
	require.NoError(t, sched.Revive(ctx, fw))
	o := s.offerOn("a1")
	before = snapshot(t, agent)
	acceptTests := []struct {
		name  string
		tasks string
		code  int
		msg   string
	}{
		{"task larger than the offer", `[{"task_id":"t2","app_id":"a","offer_id":%q,"cmd":"x","resources":"cpus:100"}]`, 400, "more than it holds"},
		{"task ID already running", `[{"task_id":"t1","app_id":"a","offer_id":%q,"cmd":"x","resources":"cpus:1"}]`, 409, `"t1": a task with this ID is already running`},
		{"both cmd and args", `[{"task_id":"t2","app_id":"a","offer_id":%q,"cmd":"x","args":["y"],"resources":"cpus:1"}]`, 400, "exactly one of cmd and args"},
		{"bad resources", `[{"task_id":"t2","app_id":"a","offer_id":%q,"cmd":"x","resources":"cpus:1;cpus:{a}"}]`, 400, "tasks[0].resources"},
		{"missing app", `[{"task_id":"t2","offer_id":%q,"cmd":"x","resources":"cpus:1"}]`, 400, "tasks[0].app_id: missing"},
		{"too many tasks", `[{"task_id":"y","app_id":"a","offer_id":%q,"cmd":"x","resources":"cpus:0.001"}` +
			strings.Repeat(`,{"task_id":"x","app_id":"a","offer_id":"o","cmd":"x","resources":"cpus:0.001"}`, 100) + `]`,
			400, "101 tasks, at most 100"},
		{"offer not listed", `[{"task_id":"t2","app_id":"a","offer_id":"x%s","cmd":"x","resources":"cpus:1"}]`, 400, "not among offer_ids"},
	}
	for _, tt := range acceptTests {
		t.Run("accept "+tt.name, func(t *testing.T) {
			body := fmt.Sprintf(`{"framework_id":%q,"offer_ids":[%q],"tasks":`+tt.tasks+`}`, fw, o.ID, o.ID)
			code, msg := post(t, m.URL()+api.PathAccept, "application/json", body)
			require.Equal(t, tt.code, code, "answer: %s", msg)
			require.Contains(t, msg, tt.msg)
		})
	}
	for _, refuse := range []string{"-1", "1e+12"} {
		t.Run("decline with refuse_seconds "+refuse, func(t *testing.T) {
			body := fmt.Sprintf(`{"framework_id":%q,"offer_ids":[%q],"refuse_seconds":%s}`, fw, o.ID, refuse)
			code, msg := post(t, m.URL()+api.PathDecline, "application/json", body)
			require.Equal(t, http.StatusBadRequest, code, "answer: %s", msg)
			require.Contains(t, msg, "refuse_seconds "+refuse)
		})
	}
	code, msg := post(t, m.URL()+api.PathAccept, "text/plain", `{}`)
	require.Equal(t, http.StatusUnsupportedMediaType, code, msg)
	resp, err := operator(t).Get(m.URL() + api.PathAccept)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)

	// Nothing changed, the master still leads, and good calls work.
	require.True(t, m.IsLeader())
	require.Equal(t, before, snapshot(t, agent))
	require.NoError(t, sched.Accept(ctx, api.Accept{FrameworkID: fw, OfferIDs: []string{o.ID}, Tasks: []api.TaskInfo{{
		TaskID: "t2", AppID: "a", OfferID: o.ID, Cmd: "true", Resources: "cpus:1"}}}))
}

// post sends body and returns the status and the error message. It posts
// as the principal that may: the agent the body names on the agents' paths
// (an agent acts only as itself), the framework principal elsewhere.
func post(t *testing.T, url, contentType, body string) (int, string) {
	t.Helper()
	principal := "framework/batch"
	if strings.Contains(url, "/api/v1/agents/") {
		principal = "agent/a1"
		var named struct {
			AgentID string `json:"agent_id"`
		}
		if len(body) < 4096 && json.Unmarshal([]byte(body), &named) == nil && named.AgentID != "" {
			if _, err := auth.ParsePrincipal("agent/" + named.AgentID); err == nil {
				principal = "agent/" + named.AgentID
			}
		}
	}
	resp, err := client(t, principal).Post(url, contentType, strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var er api.ErrorResponse
	if resp.StatusCode >= 400 {
		require.NoError(t, json.Unmarshal(data, &er), "error body %q is not an ErrorResponse", data)
		require.NotEmpty(t, er.Error)
	}
	return resp.StatusCode, er.Error
}

// snapshot is the state without what changes by itself (times, history,
// what the latest allocation cycle withheld).
func snapshot(t *testing.T, c *api.AgentClient) string {
	t.Helper()
	st, err := c.State(context.Background())
	require.NoError(t, err)
	for i := range st.Agents {
		st.Agents[i].History = nil
	}
	for i := range st.Frameworks {
		st.Frameworks[i].Withheld = nil
	}
	data, err := json.MarshalIndent(struct {
		Agents     []api.AgentState
		Frameworks []api.FrameworkState
		Tasks      []api.TaskView
		Pending    []api.PendingApp
	}{st.Agents, st.Frameworks, st.Tasks, st.Pending}, "", " ")
	require.NoError(t, err)
	return string(data)
}
