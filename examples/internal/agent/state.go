//go:build linux

package agent

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gleaner/gleaner/examples/internal/api"
	"github.com/gleaner/gleaner/internal/atomicfile"
	"github.com/gleaner/gleaner/reserve"
)

// record is what the agent keeps on disk about one task, so that the next
// agent on the same directory can adopt it: state/tasks/<task-id>.json.
type record struct {
	Info       api.TaskInfo  `json:"info"`
	State      api.TaskState `json:"state"`
	Reason     string        `json:"reason,omitempty"`
	Message    string        `json:"message,omitempty"`
	PID        int           `json:"pid,omitempty"`
	StartTicks uint64        `json:"start_ticks,omitempty"`
	Isolated   bool          `json:"isolated"`
	Started    time.Time     `json:"started"`
	Updated    time.Time     `json:"updated"`
	Healthy    *bool         `json:"healthy,omitempty"`
	// Eviction is why QoS evicted the task, and who won.
	Eviction *api.Eviction `json:"eviction,omitempty"`
	// User is who the task runs as (isolated tasks).
	User *taskUser `json:"user,omitempty"`
}

func (r record) status(agentID string) api.TaskStatus {
	return api.TaskStatus{
		TaskID:      r.Info.TaskID,
		FrameworkID: r.Info.FrameworkID,
		AgentID:     agentID,
		AppID:       r.Info.AppID,
		State:       r.State,
		Reason:      r.Reason,
		Message:     r.Message,
		Time:        r.Updated,
		Healthy:     r.Healthy,
		Revocable:   r.Info.Revocable,
		Eviction:    r.Eviction,
	}
}

// saveRecord writes r as <dir>/<task-id>.json.
func saveRecord(dir string, r record) error {
	if err := saveJSON(filepath.Join(dir, r.Info.TaskID+".json"), r); err != nil {
		return fmt.Errorf("write task state: %w", err)
	}
	return nil
}

func removeRecord(dir, id string) error {
	err := os.Remove(filepath.Join(dir, id+".json"))
	if os.IsNotExist(err) {
		return nil
	}
	return err
}

// loadRecords reads every task record; unreadable ones are returned as
// errors and skipped.
func loadRecords(dir string) ([]record, []error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, []error{err}
	}
	var out []record
	var errs []error
	for _, e := range entries {
		name := e.Name()
		if atomicfile.IsTemp(name) {
			os.Remove(filepath.Join(dir, name)) // a write the previous agent did not finish
			continue
		}
		if !strings.HasSuffix(name, ".json") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var r record
		if err := json.Unmarshal(data, &r); err != nil || r.Info.TaskID+".json" != name {
			errs = append(errs, fmt.Errorf("task state %s: unreadable (%v)", name, err))
			continue
		}
		out = append(out, r)
	}
	return out, errs
}

// saveOverride keeps the operator's bounds across restarts.
func saveOverride(path string, o ReservationOverride) error {
	return saveJSON(path, o)
}

// saveJSON replaces path with v as JSON (atomicfile: a reader, or the next
// agent after a crash, sees the old record or the new one, never a part).
func saveJSON(path string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, data, 0o600)
}

// loadOverride reads the bounds saveOverride kept; none is no bounds.
func loadOverride(path string) (limit, floor partial, err error) {
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return limit, floor, nil
	}
	if err != nil {
		return limit, floor, err
	}
	var o ReservationOverride
	if err := json.Unmarshal(data, &o); err != nil {
		return limit, floor, fmt.Errorf("%s: %w", path, err)
	}
	if limit, err = parsePartial(o.Cap); err != nil {
		return limit, floor, fmt.Errorf("%s: cap: %w", path, err)
	}
	if floor, err = parsePartial(o.Floor); err != nil {
		return limit, floor, fmt.Errorf("%s: floor: %w", path, err)
	}
	return limit, floor, nil
}

// loadEstimate reads the estimate the previous agent on this directory
// published; ok is false when there is none.
func loadEstimate(path string) (est reserve.Resources, ok bool, err error) {
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return est, false, nil
	}
	if err != nil {
		return est, false, err
	}
	if err := json.Unmarshal(data, &est); err != nil {
		return est, false, fmt.Errorf("%s: %w", path, err)
	}
	return est, true, nil
}
