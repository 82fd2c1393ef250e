package master

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gleaner/gleaner/examples/internal/api"
)

// TestTaskLogsAreProxiedFromTheAgent: the master forwards a logs request
// to the agent of the task (live or recently ended) with its parameters,
// streams a followed answer as it comes, and answers 404 for a task it
// does not know.
func TestTaskLogsAreProxiedFromTheAgent(t *testing.T) {
	next := make(chan string)
	agentSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/tasks/job.1/logs" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set(api.HeaderLogOffset, "42")
		fmt.Fprintf(w, "query %s\n", r.URL.RawQuery)
		w.(http.Flusher).Flush()
		for line := range next {
			fmt.Fprintln(w, line)
			w.(http.Flusher).Flush()
		}
	}))
	defer agentSrv.Close()

	f := newFixture(t, "cpus:2;mem:1024")
	ctx := context.Background()
	_, err := f.agent.Register(ctx, api.RegisterAgent{AgentID: "a1", Hostname: "h1", Endpoint: agentSrv.URL, Reservation: "cpus:2;mem:1024"})
	require.NoError(t, err)
	launch(t, f.sched, f.agent, f.s, f.fw, "a1", "job.1")

	_, _, err = f.sched.Logs(ctx, "nobody", api.LogQuery{})
	require.ErrorIs(t, err, api.ErrNotFound)
	_, _, err = f.sched.Logs(ctx, "job.1", api.LogQuery{Stream: "stdin"})
	require.ErrorIs(t, err, api.ErrInvalid)

	body, start, err := f.sched.Logs(ctx, "job.1", api.LogQuery{Stream: api.StreamStderr, Offset: -100, Follow: true})
	require.NoError(t, err)
	defer body.Close()
	require.Equal(t, int64(42), start)
	lines := bufio.NewReader(body)
	line, err := lines.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "query follow=true&offset=-100&stream=stderr\n", line)
	// Each line comes through before the agent's answer ends.
	for _, want := range []string{"one", "two"} {
		select {
		case next <- want:
		case <-time.After(10 * time.Second):
			t.Fatal("the proxy does not read on")
		}
		line, err := lines.ReadString('\n')
		require.NoError(t, err)
		require.Equal(t, want+"\n", line)
	}
	close(next)
	rest, err := io.ReadAll(lines)
	require.NoError(t, err)
	require.Empty(t, rest)
}
