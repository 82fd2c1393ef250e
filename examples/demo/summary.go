//go:build linux

package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/gleaner/gleaner/examples/internal/api"
)

// summarize turns the master's state into a few lines for the terminal:
// agents with their reservation and isolation, task counts by state, why
// apps are pending, and the latest events.
func summarize(st api.State, lastEvents int) string {
	var b strings.Builder
	up := 0
	for _, a := range st.Agents {
		if a.Up {
			up++
		}
	}
	states := map[api.TaskState]int{}
	for _, t := range st.Tasks {
		states[t.State]++
	}
	fmt.Fprintf(&b, "%s  agents %d/%d up  tasks:", st.Time.Format(time.TimeOnly), up, len(st.Agents))
	if len(states) == 0 {
		b.WriteString(" none")
	}
	names := make([]string, 0, len(states))
	for s := range states {
		names = append(names, string(s))
	}
	sort.Strings(names)
	for _, s := range names {
		fmt.Fprintf(&b, " %s %d", strings.TrimPrefix(s, "TASK_"), states[api.TaskState(s)])
	}
	b.WriteByte('\n')
	for _, a := range st.Agents {
		fmt.Fprintf(&b, "  %-8s %-5s reserve cpus %.2f mem %.0f  business cpus %.2f  harvested cpus %.2f  tasks %d  [%s]  isolation: %s\n",
			a.ID, upWord(a.Up), a.Reservation["cpus"], a.Reservation["mem"], a.Business["cpus"], a.Harvested["cpus"], a.Tasks,
			attributeList(a.Attributes), a.Isolation)
	}
	for _, p := range st.Pending {
		fmt.Fprintf(&b, "  pending %s: %d waiting (%s)\n", p.AppID, p.Waiting, p.Reason)
	}
	start := max(0, len(st.Events)-lastEvents)
	for _, e := range st.Events[start:] {
		fmt.Fprintf(&b, "  event %s %s: %s\n", e.Time.Format(time.TimeOnly), e.Kind, e.Message)
	}
	return b.String()
}

func upWord(up bool) string {
	if up {
		return "up"
	}
	return "down"
}

func attributeList(m map[string]string) string {
	parts := make([]string, 0, len(m))
	for k, v := range m {
		parts = append(parts, k+":"+v)
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

// fullEvery is how often the summary is printed when only figures moved.
const fullEvery = 30 * time.Second

// printSummaries checks the master's state every interval until ctx ends
// and prints the summary when tasks, pending apps or events changed, or
// every fullEvery for the figures (which move with every sample).
func printSummaries(ctx context.Context, w io.Writer, c *api.Client, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	var last string
	var printed time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		st, err := c.State(ctx)
		if err != nil {
			if ctx.Err() == nil {
				fmt.Fprintf(w, "state: %v\n", err)
			}
			continue
		}
		key := changes(st)
		if key == last && time.Since(printed) < fullEvery {
			continue
		}
		last, printed = key, time.Now()
		fmt.Fprint(w, summarize(st, 3))
	}
}

// changes is what of st a person watches for: agents coming and going,
// task states, pending apps and the latest event.
func changes(st api.State) string {
	var b strings.Builder
	for _, a := range st.Agents {
		fmt.Fprintf(&b, "%s %v %s|", a.ID, a.Up, attributeList(a.Attributes))
	}
	for _, t := range st.Tasks {
		fmt.Fprintf(&b, "%s %s|", t.TaskID, t.State)
	}
	for _, p := range st.Pending {
		fmt.Fprintf(&b, "%s %d %s|", p.AppID, p.Waiting, p.Reason)
	}
	if n := len(st.Events); n > 0 {
		e := st.Events[n-1]
		fmt.Fprintf(&b, "%s %s", e.Time, e.Message)
	}
	return b.String()
}
