package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

func TestClientFollowsTheLeader(t *testing.T) {
	var calls []string
	leader := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls = append(calls, "leader "+r.URL.Path)
		var req RegisterAgent
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.AgentID != "a1" {
			http.Error(w, "bad", http.StatusBadRequest)
			return
		}
		_ = json.NewEncoder(w).Encode(RegisterAgentResponse{AgentID: req.AgentID, ReportIntervalSeconds: 1})
	}))
	defer leader.Close()
	follower := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls = append(calls, "follower "+r.URL.Path)
		w.WriteHeader(http.StatusServiceUnavailable)
		_ = json.NewEncoder(w).Encode(ErrorResponse{Error: "this master is not the leader", Leader: leader.URL})
	}))
	defer follower.Close()
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close() // connections to it are refused

	c := NewAgentClient([]string{dead.URL, follower.URL + "/", leader.URL})
	resp, err := c.Register(context.Background(), RegisterAgent{AgentID: "a1"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.AgentID != "a1" || c.Leader() != leader.URL {
		t.Fatalf("got %+v via %s, want a1 via the leader %s", resp, c.Leader(), leader.URL)
	}
	want := []string{"follower " + PathAgentRegister, "leader " + PathAgentRegister}
	if len(calls) != 2 || calls[0] != want[0] || calls[1] != want[1] {
		t.Fatalf("calls %q, want %q", calls, want)
	}
}

func TestClientFollowsOnlyLeadersAmongItsMasters(t *testing.T) {
	var rogueCalls atomic.Int64
	rogue := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rogueCalls.Add(1)
		_ = json.NewEncoder(w).Encode(RegisterAgentResponse{AgentID: "a1"})
	}))
	defer rogue.Close()
	// A follower whose election value in etcd was overwritten names a
	// rogue master.
	follower := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		_ = json.NewEncoder(w).Encode(ErrorResponse{Error: "this master is not the leader", Leader: rogue.URL})
	}))
	defer follower.Close()
	c := NewAgentClient([]string{follower.URL})
	_, err := c.Register(context.Background(), RegisterAgent{AgentID: "a1"})
	if !errors.Is(err, ErrNotLeader) {
		t.Fatalf("error %v, want the follower's 503", err)
	}
	if n := rogueCalls.Load(); n != 0 || c.Leader() != follower.URL {
		t.Fatalf("the client called the rogue master %d times and now follows %s", n, c.Leader())
	}
}

func TestBearerTokenIsSent(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer s3cret" {
			w.WriteHeader(http.StatusUnauthorized)
			_ = json.NewEncoder(w).Encode(ErrorResponse{Error: "no valid credential"})
			return
		}
		_ = json.NewEncoder(w).Encode(State{MasterID: "m1"})
	}))
	defer srv.Close()
	if _, err := NewClient([]string{srv.URL}).State(context.Background()); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("without the token: %v, want ErrUnauthenticated", err)
	}
	if st, err := NewClient([]string{srv.URL}, WithBearerToken("s3cret")).State(context.Background()); err != nil || st.MasterID != "m1" {
		t.Fatalf("with the token: %+v %v", st, err)
	}
}

func TestStatusErrorMatchesSentinels(t *testing.T) {
	tests := []struct {
		name   string
		code   int
		target error
	}{
		{"400 is invalid", 400, ErrInvalid},
		{"413 is invalid", 413, ErrInvalid},
		{"404 is not found", 404, ErrNotFound},
		{"409 is a conflict", 409, ErrConflict},
		{"503 is not the leader", 503, ErrNotLeader},
		{"401 is unauthenticated", 401, ErrUnauthenticated},
		{"403 is forbidden", 403, ErrForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.code)
				_ = json.NewEncoder(w).Encode(ErrorResponse{Error: "offer_ids[0] \"o1\": gone"})
			}))
			defer srv.Close()
			err := NewSchedulerClient([]string{srv.URL}).Decline(context.Background(), Decline{FrameworkID: "f"})
			var se *StatusError
			if !errors.As(err, &se) || se.Code != tt.code || se.Message != "offer_ids[0] \"o1\": gone" {
				t.Fatalf("error %v, want a StatusError %d with the message", err, tt.code)
			}
			if !errors.Is(err, tt.target) {
				t.Fatalf("errors.Is(%v, %v) is false", err, tt.target)
			}
			for _, other := range []error{ErrInvalid, ErrNotFound, ErrConflict, ErrNotLeader, ErrUnauthenticated, ErrForbidden} {
				if other != tt.target && errors.Is(err, other) {
					t.Fatalf("%v also matches %v", err, other)
				}
			}
		})
	}
}

func TestEventStreamReadsOneEventALine(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", ContentTypeStream)
		_, _ = io.WriteString(w, `{"type":"SUBSCRIBED","subscribed":{"framework_id":"fw-1","heartbeat_interval_seconds":5,"tasks":[]}}`+"\n\n"+
			`{"type":"OFFERS","offers":[{"id":"o1","framework_id":"fw-1","agent_id":"a1","hostname":"h","attributes":{"rack":"r1"},"resources":"cpus:1"}]}`+"\n"+
			`{"type":"RESCIND","offer_id":"o1"}`+"\n")
	}))
	defer srv.Close()
	s, err := NewSchedulerClient([]string{srv.URL}).Subscribe(context.Background(), Subscribe{Name: "x"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var got []EventType
	for {
		ev, err := s.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ev.Type)
		if ev.Type == EventOffers && ev.Offers[0].Attributes["rack"] != "r1" {
			t.Fatalf("offer %+v", ev.Offers[0])
		}
	}
	if len(got) != 3 || got[0] != EventSubscribed || got[1] != EventOffers || got[2] != EventRescind {
		t.Fatalf("events %v", got)
	}
}

func TestTaskStateTerminal(t *testing.T) {
	for s, want := range map[TaskState]bool{TaskStaging: false, TaskStarting: false, TaskRunning: false,
		TaskFinished: true, TaskFailed: true, TaskKilled: true, TaskLost: true} {
		if s.Terminal() != want || !s.Valid() {
			t.Errorf("%s: Terminal %v Valid %v", s, s.Terminal(), s.Valid())
		}
	}
	if TaskState("TASK_DANCING").Valid() {
		t.Error("unknown state is valid")
	}
}
