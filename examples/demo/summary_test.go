//go:build linux

package main

import (
	"strings"
	"testing"
	"time"

	"github.com/gleaner/gleaner/examples/internal/api"
)

func TestSummaryShowsAgentsTasksPendingAndEvents(t *testing.T) {
	at := time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC)
	st := api.State{
		Time: at,
		Agents: []api.AgentState{
			{ID: "agent-1", Up: true, Attributes: map[string]string{"zone": "east", "rack": "r1"}, Isolation: "cgroup v1, pivot_root",
				Reservation: api.Scalars{"cpus": 0.75, "mem": 480}, Business: api.Scalars{"cpus": 0.2}, Harvested: api.Scalars{"cpus": 0.1}, Tasks: 2},
			{ID: "agent-2", Isolation: "unavailable: not root"},
		},
		Tasks: []api.TaskView{
			{TaskStatus: api.TaskStatus{TaskID: "a.1", State: api.TaskRunning}},
			{TaskStatus: api.TaskStatus{TaskID: "a.2", State: api.TaskRunning}},
			{TaskStatus: api.TaskStatus{TaskID: "a.3", State: api.TaskKilled, Reason: "evicted: business memory rose"}},
		},
		Pending: []api.PendingApp{{AppID: "demo_indexer", Waiting: 2, Reason: "ssd IS true: 3"}},
		Events: []api.ClusterEvent{
			{Time: at, Kind: api.KindAgentRegistered, Message: "agent-1 registered"},
			{Time: at, Kind: api.KindEvicted, Message: "a.3 evicted"},
		},
	}
	got := summarize(st, 1)
	for _, want := range []string{
		"14:00:00  agents 1/2 up  tasks: KILLED 1 RUNNING 2\n",
		"agent-1  up    reserve cpus 0.75 mem 480  business cpus 0.20  harvested cpus 0.10  tasks 2  [rack:r1 zone:east]  isolation: cgroup v1, pivot_root\n",
		"agent-2  down ",
		"isolation: unavailable: not root\n",
		"pending demo_indexer: 2 waiting (ssd IS true: 3)\n",
		"event 14:00:00 EVICTED: a.3 evicted\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("summary lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "agent-1 registered") {
		t.Errorf("summary shows more than the last event:\n%s", got)
	}
}

func TestSummaryChangesIgnoreMovingFigures(t *testing.T) {
	a := api.State{Agents: []api.AgentState{{ID: "agent-1", Up: true, Reservation: api.Scalars{"cpus": 0.5}}}}
	b := api.State{Agents: []api.AgentState{{ID: "agent-1", Up: true, Reservation: api.Scalars{"cpus": 0.7}}}}
	if changes(a) != changes(b) {
		t.Error("a new reservation figure counts as a change")
	}
	b.Tasks = []api.TaskView{{TaskStatus: api.TaskStatus{TaskID: "a.1", State: api.TaskRunning}}}
	if changes(a) == changes(b) {
		t.Error("a new task does not count as a change")
	}
}
