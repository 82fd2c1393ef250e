// Command attrctl reads and changes agents' attributes in etcd, with the
// key layout of package attrs (<prefix>/agents/<agent>/attributes/<name>),
// so that operators need not spell keys by hand.
//
//	attrctl --endpoints https://127.0.0.1:2379 --ca ca.pem --cert ops.pem --key ops-key.pem set agent-1 'rack:r1;zone:east;cores:16'
//	attrctl get agent-1
//	attrctl get agent-1 rack
//	attrctl set --if-revision 42 agent-1 rack:r2
//	attrctl delete agent-1 zone
//	attrctl delete agent-1
//	attrctl list
//	attrctl watch [agent-1]
//
// It reaches etcd over TLS as an operator: its certificate's common name
// is the etcd user (operator/<name>, see examples/certs), whose role may
// write under the cluster's prefix. -insecure speaks plaintext.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/gleaner/gleaner/attrs"
	"github.com/gleaner/gleaner/examples/internal/auth"
)

const usage = `usage: attrctl [flags] <command> [args]

commands:
  set [--if-revision N] AGENT ATTRIBUTES   set attributes given as "name:value;name:value"
  get AGENT [NAME]                         print an agent's attributes (name, value, revision)
  delete AGENT [NAME]                      delete one attribute, or all of an agent's
  list                                     print every agent's attributes, one agent a line
  watch [AGENT]                            print changes until interrupted

flags:
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("attrctl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	endpoints := fs.String("endpoints", "127.0.0.1:2379", "comma-separated etcd client endpoints")
	prefix := fs.String("prefix", attrs.DefaultPrefix, "key prefix")
	timeout := fs.Duration("timeout", 5*time.Second, "timeout of each request")
	var tlsFlags auth.Flags
	tlsFlags.Register(fs, "the operator")
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	tl, err := tlsFlags.Load()
	if err != nil {
		fmt.Fprintf(stderr, "attrctl: %v\n", err)
		return 2
	}
	cli, err := auth.NewEtcdClient(strings.Split(*endpoints, ","), tl)
	if err != nil {
		fmt.Fprintf(stderr, "attrctl: %v\n", err)
		return 1
	}
	defer cli.Close()

	store, err := attrs.NewEtcdStore(cli, attrs.WithPrefix(*prefix))
	if err != nil {
		fmt.Fprintf(stderr, "attrctl: %v\n", err)
		return 1
	}
	c := &command{cli: cli, store: store, prefix: *prefix, timeout: *timeout, out: stdout}
	cmd, rest := fs.Arg(0), fs.Args()[1:]
	switch cmd {
	case "set":
		err = c.set(ctx, rest)
	case "get":
		err = c.get(ctx, rest)
	case "delete":
		err = c.delete(ctx, rest)
	case "list":
		err = c.list(ctx, rest)
	case "watch":
		err = c.watch(ctx, rest)
	default:
		err = usageError("unknown command %q", cmd)
	}
	var ue usageErr
	switch {
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "attrctl %s: %v\n", cmd, err)
		fs.Usage()
		return 2
	case err != nil:
		fmt.Fprintf(stderr, "attrctl %s: %v\n", cmd, err)
		return 1
	}
	return 0
}

type usageErr struct{ msg string }

func (e usageErr) Error() string { return e.msg }

func usageError(format string, args ...any) error { return usageErr{fmt.Sprintf(format, args...)} }

type command struct {
	cli     *clientv3.Client
	store   *attrs.EtcdStore
	prefix  string
	timeout time.Duration
	out     io.Writer
}

func (c *command) set(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("set", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	ifRev := fs.Int64("if-revision", -1, "compare-and-set: write only if the attribute is at this revision (0: only if absent)")
	if err := fs.Parse(args); err != nil {
		return usageError("%v", err)
	}
	if fs.NArg() != 2 {
		return usageError("want AGENT ATTRIBUTES")
	}
	agent := fs.Arg(0)
	as, err := attrs.Parse(fs.Arg(1))
	if err != nil {
		return err
	}
	if len(as) == 0 {
		return usageError("no attributes in %q", fs.Arg(1))
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var rev int64
	switch {
	case *ifRev >= 0 && len(as) != 1:
		return usageError("--if-revision takes exactly one attribute")
	case *ifRev >= 0:
		rev, err = c.store.CompareAndSet(ctx, agent, as[0].Name, as[0].Value, *ifRev)
	default:
		rev, err = c.store.SetAgent(ctx, agent, as)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(c.out, "revision %d\n", rev)
	return nil
}

func (c *command) get(ctx context.Context, args []string) error {
	if len(args) < 1 || len(args) > 2 {
		return usageError("want AGENT [NAME]")
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var es []attrs.Entry
	if len(args) == 2 {
		e, err := c.store.Get(ctx, args[0], args[1])
		if err != nil {
			return err
		}
		es = []attrs.Entry{e}
	} else {
		var err error
		if es, _, err = c.store.Agent(ctx, args[0]); err != nil {
			return err
		}
	}
	for _, e := range es {
		fmt.Fprintf(c.out, "%s\t%s\t%d\n", e.Name, e.Value, e.Revision)
	}
	return nil
}

func (c *command) delete(ctx context.Context, args []string) error {
	if len(args) < 1 || len(args) > 2 {
		return usageError("want AGENT [NAME]")
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var rev int64
	var err error
	if len(args) == 2 {
		rev, err = c.store.Delete(ctx, args[0], args[1])
	} else {
		rev, err = c.store.DeleteAgent(ctx, args[0])
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(c.out, "revision %d\n", rev)
	return nil
}

func (c *command) list(ctx context.Context, args []string) error {
	if len(args) != 0 {
		return usageError("list takes no arguments")
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	es, _, err := c.store.List(ctx)
	if err != nil {
		return err
	}
	// Entries come sorted by agent: print one line per agent.
	for i := 0; i < len(es); {
		agent, as := es[i].Agent, attrs.Attributes(nil)
		for ; i < len(es) && es[i].Agent == agent; i++ {
			as = append(as, attrs.Attribute{Name: es[i].Name, Value: es[i].Value})
		}
		fmt.Fprintf(c.out, "%s\t%s\n", agent, as)
	}
	return nil
}

// watch prints every change (one line each: revision, agent, kind, name,
// old and new value) until ctx ends.
func (c *command) watch(ctx context.Context, args []string) error {
	if len(args) > 1 {
		return usageError("want [AGENT]")
	}
	view, err := attrs.NewClusterView(c.cli, attrs.WithPrefix(c.prefix), attrs.WithProbeInterval(c.timeout))
	if err != nil {
		return err
	}
	changes := view.Subscribe()
	defer changes.Close()
	done := make(chan error, 1)
	go func() { done <- view.Run(ctx) }()
	defer func() {
		view.Close()
		<-done
	}()
	select {
	case <-view.Ready():
	case <-ctx.Done():
		return nil
	}
	fmt.Fprintln(c.out, "watching")
	for {
		var ch attrs.Change
		select {
		case <-ctx.Done():
			return nil
		case ch = <-changes.C():
		}
		if len(args) == 1 && ch.Agent != args[0] {
			continue
		}
		switch ch.Kind {
		case attrs.AgentUp, attrs.AgentGone:
			fmt.Fprintf(c.out, "%d\t%s\t%s\n", ch.Revision, ch.Agent, ch.Kind)
		default:
			fmt.Fprintf(c.out, "%d\t%s\t%s\t%s\t%s\t%s\n", ch.Revision, ch.Agent, ch.Kind, ch.Name, orDash(ch.Old), orDash(ch.New))
		}
	}
}

func orDash(v attrs.Value) string {
	if v.IsZero() {
		return "-"
	}
	return v.String()
}
