package master

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gleaner/gleaner/examples/internal/api"
	"github.com/gleaner/gleaner/examples/internal/auth"
	"github.com/gleaner/gleaner/examples/internal/auth/authtest"
	"github.com/gleaner/gleaner/internal/etcdtest"
)

// TestFrameworkStaysBoundToItsPrincipalOverARestart: the principal that
// subscribed a framework is kept with it in etcd, so a master that loads
// the state after a restart still refuses the framework to another
// principal and gives it back to its own.
func TestFrameworkStaysBoundToItsPrincipalOverARestart(t *testing.T) {
	srv := etcdtest.Start(t)
	cfg := testConfig(srv.Client(t), newPrefix(t))
	m1 := startMaster(t, cfg)
	waitLeader(t, m1.Master)
	_, fw := subscribe(t, api.NewSchedulerClient([]string{m1.URL()}, as(t, "framework/batch")), api.Subscribe{Name: "batch"})
	m1.stop(t)

	m2 := startMaster(t, cfg)
	waitLeader(t, m2.Master)
	ctx := context.Background()
	_, err := api.NewSchedulerClient([]string{m2.URL()}, as(t, "framework/other")).Subscribe(ctx, api.Subscribe{FrameworkID: fw, Name: "batch"})
	var se *api.StatusError
	if !errors.As(err, &se) || !errors.Is(err, api.ErrForbidden) || !strings.Contains(se.Message, "belongs to principal framework/batch") {
		t.Fatalf("another principal resubscribing after the restart: %v, want 403 naming the owner", err)
	}
	_, again := subscribe2(t, api.NewSchedulerClient([]string{m2.URL()}, as(t, "framework/batch")), api.Subscribe{FrameworkID: fw, Name: "batch"})
	require.Equal(t, fw, again.FrameworkID)
}

// TestInsecureMasterSaysSoAndAuthorizesNobody: a master started insecure
// serves plaintext, says so in its state (the dashboard shows it in red)
// and lets anyone act as any agent; a secure one says nothing.
func TestInsecureMasterSaysSoAndAuthorizesNobody(t *testing.T) {
	srv := etcdtest.Start(t)
	cfg := testConfig(srv.Client(t), newPrefix(t))
	cfg.Insecure = true
	m := startMaster(t, cfg)
	waitLeader(t, m.Master)
	require.True(t, strings.HasPrefix(m.URL(), "http://"), m.URL())
	ctx := context.Background()
	c := api.NewAgentClient([]string{m.URL()})
	_, err := c.Register(ctx, api.RegisterAgent{AgentID: "anyone", Hostname: "h", Reservation: "cpus:1"})
	require.NoError(t, err)
	st, err := c.State(ctx)
	require.NoError(t, err)
	require.True(t, st.Insecure)
	body, _ := get(t, m.URL()+"/")
	require.Contains(t, body, `id="insecure"`)

	secure := newFixture(t, "cpus:1;mem:256")
	st, err = secure.agent.State(ctx)
	require.NoError(t, err)
	require.False(t, st.Insecure)
}

// TestMasterRefusesBadSecurityConfig: neither TLS nor Insecure, both, or a
// certificate that is not a master's.
func TestMasterRefusesBadSecurityConfig(t *testing.T) {
	srv := etcdtest.Start(t)
	base := testConfig(srv.Client(t), newPrefix(t))
	base.Listen = "127.0.0.1:0"
	tests := []struct {
		name string
		cfg  func(Config) Config
		says string
	}{
		{"neither", func(c Config) Config { return c }, "Config.TLS is required"},
		{"both", func(c Config) Config { c.TLS, c.Insecure = agentIdentity(t), true; return c }, "choose one"},
		{"an agent's certificate", func(c Config) Config { c.TLS = agentIdentity(t); return c }, "not a master"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := New(tt.cfg(base))
			if err == nil {
				m.ln.Close()
				t.Fatal("accepted")
			}
			require.Contains(t, err.Error(), tt.says)
		})
	}
}

func agentIdentity(t *testing.T) *auth.TLS {
	t.Helper()
	return authtest.Agent(t, "a1")
}
