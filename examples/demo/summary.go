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

// printSummaries prints the summary every interval until ctx ends, skipping
// the print when nothing but the clock changed.
func printSummaries(ctx context.Context, w io.Writer, c *api.Client, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	var last string
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
		s := summarize(st, 3)
		// The first line starts with the time: compare the rest.
		body := s[strings.IndexByte(s, ' ')+1:]
		if body == last {
			continue
		}
		last = body
		fmt.Fprint(w, s)
	}
}
