package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
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

	c := NewAgentClient([]string{dead.URL, follower.URL + "/"})
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
			for _, other := range []error{ErrInvalid, ErrNotFound, ErrConflict, ErrNotLeader} {
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
