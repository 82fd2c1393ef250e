// Command gleaner is the command-line client of a Gleaner cluster: it
// talks to the master (agents, tasks, logs, drains) and to the frameworks'
// APIs (Marathon's apps, Metronome's jobs and runs), prints tables for
// people and, with -o json, JSON for scripts.
//
//	gleaner -insecure agents
//	gleaner -ca ca.pem -cert ops.pem -key ops-key.pem drain -deadline 10m agent-2
//	gleaner apps
//	gleaner jobs
//	gleaner jobs run nightly.report
//	gleaner runs nightly.report
//	gleaner tasks
//	gleaner logs -f -stream stderr demo_batch.0f3a...
//	gleaner -o json tasks | jq .
//
// It authenticates as the certs helper's operator certificates do
// (examples/certs): -ca, -cert and -key, or -ca and -token (a bearer
// token); -insecure speaks plaintext. Every subcommand takes -help.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/gleaner/gleaner/examples/internal/api"
	"github.com/gleaner/gleaner/examples/internal/auth"
)

const usage = `usage: gleaner [flags] <command> [flags] [args]

commands:
  agents                 the agents: state, capacity, what they lend, drains
  drain AGENT            drain an agent (-deadline D); -up AGENT ends the drain
  tasks                  the master's tasks: live, then recently ended
  logs TASK              a task's stdout (-stream stderr), -f to follow
  apps [ID]              Marathon's apps, or one app with its tasks

Run "gleaner <command> -help" for a command's flags.

flags:
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// cli is what every command uses: the clients and the output format.
type cli struct {
	master    *api.Client
	http      *http.Client
	framework string // Marathon API base URL
	json      bool
	timeout   time.Duration
	out       io.Writer
}

// run is main without the process: it returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("gleaner", flag.ContinueOnError)
	fs.SetOutput(stderr)
	masters := fs.String("master", "http://127.0.0.1:5050", "comma-separated master URLs (the client follows the leader)")
	framework := fs.String("framework", "http://127.0.0.1:8080", "URL of the Marathon-style framework's API")
	output := fs.String("o", "table", "output: table or json")
	timeout := fs.Duration("timeout", 10*time.Second, "timeout of each call (not of logs -f)")
	token := fs.String("token", "", "bearer token of an operator, instead of a client certificate (with -ca)")
	var tlsFlags auth.Flags
	tlsFlags.Register(fs, "the operator")
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	if *output != "table" && *output != "json" {
		fmt.Fprintf(stderr, "gleaner: -o %q: want table or json\n", *output)
		return 2
	}
	tl, err := tlsFlags.Load()
	if err != nil {
		fmt.Fprintf(stderr, "gleaner: %v\n", err)
		return 2
	}
	hc := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	if tl != nil {
		hc = tl.HTTPClient()
	}
	if *token != "" {
		hc.Transport = bearer{token: *token, next: hc.Transport}
	}
	defer hc.CloseIdleConnections()
	c := &cli{
		master:    api.NewClient(strings.Split(*masters, ","), api.WithHTTPClient(hc)),
		http:      hc,
		framework: strings.TrimRight(*framework, "/"),
		json:      *output == "json",
		timeout:   *timeout,
		out:       stdout,
	}
	name, rest := fs.Arg(0), fs.Args()[1:]
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "gleaner: unknown command %q\n", name)
		fs.Usage()
		return 2
	}
	sub := flag.NewFlagSet("gleaner "+name, flag.ContinueOnError)
	sub.SetOutput(stderr)
	runCmd := cmd.flags(sub)
	sub.Usage = func() {
		fmt.Fprintf(stderr, "usage: gleaner %s %s\n\n%s\n", name, cmd.args, cmd.help)
		if hasFlags(sub) {
			fmt.Fprintln(stderr, "\nflags:")
			sub.PrintDefaults()
		}
	}
	if err := sub.Parse(rest); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	err = runCmd(ctx, c, sub.Args())
	var ue usageErr
	switch {
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "gleaner %s: %v\n", name, err)
		sub.Usage()
		return 2
	case err != nil:
		fmt.Fprintf(stderr, "gleaner %s: %v\n", name, err)
		return 1
	}
	return 0
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

// command is one subcommand: its arguments and help for people, and flags
// registers its flags and returns what runs it.
type command struct {
	args, help string
	flags      func(fs *flag.FlagSet) func(ctx context.Context, c *cli, args []string) error
}

type usageErr struct{ msg string }

func (e usageErr) Error() string { return e.msg }

func usageError(format string, args ...any) error { return usageErr{fmt.Sprintf(format, args...)} }

// bearer adds an operator's token to every request.
type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}
