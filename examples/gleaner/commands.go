package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gleaner/gleaner/examples/internal/api"
	"github.com/gleaner/gleaner/examples/internal/framework"
)

// commands are the subcommands by name.
var commands = map[string]command{
	"agents": {args: "", help: "Lists the agents: up or gone, what each has, lends and the business uses, its tasks, and its drain.",
		flags: func(fs *flag.FlagSet) func(context.Context, *cli, []string) error { return noFlags((*cli).agents) }},
	"drain": {args: "[-deadline D] AGENT | -up AGENT",
		help: "Drains an agent: no new tasks; frameworks move its tasks (apps start elsewhere first, jobs may finish);\n" +
			"after -deadline the master kills what is left. -up ends the drain. Needs the grant update_maintenance.",
		flags: drainFlags},
	"tasks": {args: "", help: "Lists the master's tasks: the live ones, then those that ended lately.",
		flags: func(fs *flag.FlagSet) func(context.Context, *cli, []string) error { return noFlags((*cli).tasks) }},
	"logs": {args: "[-f] [-stream stdout|stderr] [-offset N] [-agent ID] TASK",
		help: "Prints a task's stdout or stderr, through the master, from the agent that holds its sandbox\n" +
			"(while it runs and after). -f follows until the task ends.",
		flags: logsFlags},
	"apps": {args: "[ID]", help: "Lists Marathon's apps, or shows one with its tasks.",
		flags: func(fs *flag.FlagSet) func(context.Context, *cli, []string) error { return noFlags((*cli).apps) }},
}

// noFlags adapts a command without flags.
func noFlags(f func(c *cli, ctx context.Context, args []string) error) func(context.Context, *cli, []string) error {
	return func(ctx context.Context, c *cli, args []string) error { return f(c, ctx, args) }
}

// ctx returns a context with the call timeout.
func (c *cli) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.timeout)
}

// print writes v as JSON with -o json, else calls table.
func (c *cli) print(v any, table func(w *tabwriter.Writer)) error {
	if c.json {
		enc := json.NewEncoder(c.out)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	w := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
	table(w)
	return w.Flush()
}

func (c *cli) agents(ctx context.Context, args []string) error {
	if len(args) > 0 {
		return usageError("agents takes no argument")
	}
	cctx, cancel := c.ctx(ctx)
	defer cancel()
	st, err := c.master.State(cctx)
	if err != nil {
		return err
	}
	return c.print(st.Agents, func(w *tabwriter.Writer) {
		fmt.Fprintln(w, "AGENT\tSTATE\tCAPACITY\tLENT\tBUSINESS\tHARVESTED\tTASKS\tMAINTENANCE")
		for _, a := range st.Agents {
			state := "up"
			if !a.Up {
				state = "gone"
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", a.ID, state, scalars(a.Capacity), scalars(a.Reservation),
				scalars(a.Business), scalars(a.Harvested), a.Tasks, maintenance(a.Maintenance))
		}
	})
}

// maintenance says an agent's drain and windows in a few words.
func maintenance(m *api.AgentMaintenance) string {
	if m == nil {
		return "-"
	}
	var parts []string
	switch {
	case m.Drained:
		parts = append(parts, "drained")
	case m.Draining && !m.Deadline.IsZero():
		parts = append(parts, "draining until "+m.Deadline.Local().Format(time.TimeOnly))
	case m.Draining:
		parts = append(parts, "draining")
	}
	for _, w := range m.Windows {
		parts = append(parts, fmt.Sprintf("window %s for %s", w.Start.Local().Format(time.DateTime),
			time.Duration(w.DurationSeconds*float64(time.Second))))
	}
	return strings.Join(parts, "; ")
}

// scalars prints resources with their units: cores, MiB or GiB.
func scalars(s api.Scalars) string {
	var parts []string
	if v, ok := s["cpus"]; ok {
		parts = append(parts, fmt.Sprintf("%.2f cores", v))
	}
	for _, name := range []string{"mem", "disk"} {
		if v, ok := s[name]; ok {
			parts = append(parts, mib(v)+" "+name)
		}
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}

// mib prints an amount of MiB (Mesos's unit for mem and disk) readably.
func mib(v float64) string {
	if v >= 1024 {
		return fmt.Sprintf("%.1f GiB", v/1024)
	}
	return fmt.Sprintf("%.0f MiB", v)
}

func drainFlags(fs *flag.FlagSet) func(context.Context, *cli, []string) error {
	deadline := fs.Duration("deadline", 0, "kill the tasks still on the agent after this long (default: never)")
	up := fs.Bool("up", false, "end the agent's drain instead")
	return func(ctx context.Context, c *cli, args []string) error {
		if len(args) != 1 {
			return usageError("name one agent")
		}
		cctx, cancel := c.ctx(ctx)
		defer cancel()
		var m api.AgentMaintenance
		var err error
		if *up {
			m, err = c.master.Up(cctx, args[0])
		} else {
			d := api.DrainAgent{AgentID: args[0]}
			if *deadline > 0 {
				s := deadline.Seconds()
				d.DeadlineSeconds = &s
			}
			m, err = c.master.Drain(cctx, d)
		}
		if err != nil {
			return err
		}
		return c.print(m, func(w *tabwriter.Writer) {
			fmt.Fprintln(w, "AGENT\tMAINTENANCE")
			fmt.Fprintf(w, "%s\t%s\n", m.AgentID, strings.Replace(maintenance(&m), "-", "up", 1))
		})
	}
}

func (c *cli) tasks(ctx context.Context, args []string) error {
	if len(args) > 0 {
		return usageError("tasks takes no argument")
	}
	cctx, cancel := c.ctx(ctx)
	defer cancel()
	st, err := c.master.State(cctx)
	if err != nil {
		return err
	}
	return c.print(st.Tasks, func(w *tabwriter.Writer) {
		fmt.Fprintln(w, "TASK\tAPP\tAGENT\tSTATE\tPRIORITY\tRESOURCES\tREASON")
		for _, t := range st.Tasks {
			prio := fmt.Sprint(t.Priority)
			if t.Revocable {
				prio += " revocable"
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.TaskID, t.AppID, t.AgentID, t.State, prio, t.Resources,
				oneLine(firstOf(t.Reason, t.Message)))
		}
	})
}

func firstOf(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// oneLine shortens text for a table cell.
func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 100 {
		s = s[:97] + "..."
	}
	return s
}

func logsFlags(fs *flag.FlagSet) func(context.Context, *cli, []string) error {
	follow := fs.Bool("f", false, "follow: print what the task writes until it ends")
	stream := fs.String("stream", api.StreamStdout, "stdout or stderr")
	offset := fs.Int64("offset", 0, "start at this byte of the stream; negative: that many bytes before its end")
	agentID := fs.String("agent", "", "the agent holding the sandbox, for a task the master no longer lists")
	return func(ctx context.Context, c *cli, args []string) error {
		if len(args) != 1 {
			return usageError("name one task")
		}
		q := api.LogQuery{Stream: *stream, Offset: *offset, Follow: *follow, AgentID: *agentID}
		if _, err := api.ParseLogQuery(q.Values()); err != nil {
			return usageError("%v", err)
		}
		if !*follow {
			var cancel context.CancelFunc
			ctx, cancel = c.ctx(ctx)
			defer cancel()
		}
		body, _, err := c.master.Logs(ctx, args[0], q)
		if err != nil {
			return err
		}
		defer body.Close()
		_, err = io.Copy(c.out, body)
		if ctx.Err() != nil && *follow {
			return nil // interrupted: a follow's normal end
		}
		return err
	}
}

func (c *cli) apps(ctx context.Context, args []string) error {
	switch len(args) {
	case 0:
		var out struct {
			Apps []framework.AppStatus `json:"apps"`
		}
		if err := c.getJSON(ctx, c.framework+"/v2/apps", &out); err != nil {
			return err
		}
		return c.print(out.Apps, func(w *tabwriter.Writer) {
			fmt.Fprintln(w, "APP\tINSTANCES\tRUNNING\tHEALTHY\tPRIORITY\tRESOURCES\tWAITING")
			for _, a := range out.Apps {
				waiting := "-"
				if a.Pending != nil {
					waiting = fmt.Sprintf("%d: %s", a.Pending.Instances, oneLine(a.Pending.Reason))
				}
				fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d\t%g cores, %s mem\t%s\n", a.ID, a.Instances, a.TasksRunning,
					a.TasksHealthy, a.Priority, a.Cpus, mib(a.Mem), waiting)
			}
		})
	case 1:
		var out struct {
			App framework.AppStatus `json:"app"`
		}
		if err := c.getJSON(ctx, c.framework+"/v2/apps/"+strings.TrimPrefix(args[0], "/"), &out); err != nil {
			return err
		}
		a := out.App
		return c.print(a, func(w *tabwriter.Writer) {
			fmt.Fprintf(w, "app\t%s\nversion\t%s\ninstances\t%d (%d running, %d staged)\npriority\t%d\n",
				a.ID, a.Version, a.Instances, a.TasksRunning, a.TasksStaged, a.Priority)
			if a.Pending != nil {
				fmt.Fprintf(w, "waiting\t%d: %s\n", a.Pending.Instances, a.Pending.Reason)
			}
			if f := a.LastTaskFailure; f != nil {
				fmt.Fprintf(w, "last failure\t%s on %s: %s %s\n", f.TaskID, f.Host, f.State, oneLine(f.Message))
			}
			fmt.Fprintln(w, "\nTASK\tAGENT\tSTATE\tSTARTED\tLOGS")
			sort.Slice(a.Tasks, func(i, j int) bool { return a.Tasks[i].ID < a.Tasks[j].ID })
			for _, t := range a.Tasks {
				logs := "-"
				if t.Logs != nil {
					logs = t.Logs.Stderr
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", t.ID, t.AgentID, t.State, since(t.StartedAt), logs)
			}
		})
	}
	return usageError("apps takes at most one app ID")
}

// since prints how long ago t was.
func since(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return time.Since(t).Round(time.Second).String() + " ago"
}

// getJSON GETs a framework API's URL into out.
func (c *cli) getJSON(ctx context.Context, u string, out any) error {
	return c.callJSON(ctx, http.MethodGet, u, nil, out)
}

// callJSON sends a JSON body (when in is not nil) and decodes a 2xx answer
// into out (when not nil); another answer is an error with its message.
func (c *cli) callJSON(ctx context.Context, method, u string, in, out any) error {
	ctx, cancel := c.ctx(ctx)
	defer cancel()
	var body io.Reader
	if in != nil {
		b, ok := in.([]byte)
		if !ok {
			var err error
			if b, err = json.Marshal(in); err != nil {
				return err
			}
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", api.ContentTypeJSON)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		var e api.ErrorResponse
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			return fmt.Errorf("%s %s: %d %s", method, u, resp.StatusCode, e.Error)
		}
		return fmt.Errorf("%s %s: %d %s", method, u, resp.StatusCode, strings.TrimSpace(string(data)))
	}
	if out == nil || len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: %w", method, u, err)
	}
	return nil
}
