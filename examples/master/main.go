// Command master is Gleaner's example master: it offers the agents'
// reservations to frameworks by weighted DRF, keeps its state in etcd and
// elects a leader with the other masters of the cluster.
//
//	master --etcd https://10.0.0.1:2379 --listen 10.0.0.1:5050 \
//	    --ca pki/ca.pem --cert pki/master-m1.pem --key pki/master-m1-key.pem \
//	    --acls acls.json --tokens tokens.json
//
// It serves TLS 1.3 with its certificate (one naming master/<id>, made with
// examples/certs), which also authenticates it to etcd as the etcd user
// master/<id>. Agents, frameworks and operators authenticate with their
// certificates of the same CA, or frameworks and operators with a bearer
// token of -tokens; -acls is the ACL policy (package examples/internal/auth)
// saying which framework and operator principals may do what: without it
// they may do nothing. -insecure serves plaintext and authenticates
// nobody; the dashboard then says so in red.
//
// Open https://10.0.0.1:5050/ for the dashboard (with a client certificate
// in the browser, or /#token=<token> with a read-only operator token) and
// /metrics for Prometheus. The API is described in package
// examples/internal/api.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gleaner/gleaner/attrs"
	"github.com/gleaner/gleaner/examples/internal/auth"
	"github.com/gleaner/gleaner/examples/internal/master"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "master:", err)
		os.Exit(1)
	}
}

// run is main without the process.
func run(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("master", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg master.Config
	endpoints := fs.String("etcd", "127.0.0.1:2379", "comma-separated etcd client endpoints")
	fs.StringVar(&cfg.Prefix, "prefix", attrs.DefaultPrefix, "etcd key prefix of the cluster")
	fs.StringVar(&cfg.ID, "id", "", "this master's ID (default: random)")
	fs.StringVar(&cfg.Listen, "listen", "127.0.0.1:5050", "address to serve the API, dashboard and /metrics on")
	fs.StringVar(&cfg.URL, "url", "", "URL other parties reach this master at (default: https://<listen>)")
	var tlsFlags auth.Flags
	tlsFlags.Register(fs, "the master")
	acls := fs.String("acls", "", "ACL policy file (JSON); without it frameworks and operators may do nothing")
	tokens := fs.String("tokens", "", "bearer token file of frameworks and operators (certs token makes them)")
	fs.DurationVar(&cfg.AllocationInterval, "allocation-interval", time.Second, "how often offers are made")
	fs.DurationVar(&cfg.ReportInterval, "report-interval", time.Second, "how often agents report")
	fs.DurationVar(&cfg.Refuse, "refuse", 5*time.Second, "default refuse time of declined offers")
	fs.DurationVar(&cfg.SessionTTL, "session-ttl", 5*time.Second, "TTL of the leader's etcd session")
	fs.DurationVar(&cfg.AgentGrace, "agent-grace", 10*time.Second, "how long a silent agent or unreported task is waited for")
	fs.Func("max-priority", "highest task priority a role's frameworks may use, role=N (repeat the flag for more roles; unlisted roles: 0)", func(s string) error {
		role, n, ok := strings.Cut(s, "=")
		p, err := strconv.Atoi(n)
		if !ok || role == "" || err != nil || p < 0 {
			return fmt.Errorf("%q: want role=N with N 0 or more", s)
		}
		if cfg.MaxPriority == nil {
			cfg.MaxPriority = map[string]int{}
		}
		cfg.MaxPriority[role] = p
		return nil
	})
	verbose := fs.Bool("v", false, "log at debug level")
	if err := fs.Parse(args); err != nil {
		return err
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	var err error
	if cfg.TLS, err = tlsFlags.Load(); err != nil {
		return err
	}
	cfg.Insecure = tlsFlags.Insecure
	if *acls != "" {
		if cfg.ACL, err = auth.LoadPolicy(*acls); err != nil {
			return err
		}
	} else if !cfg.Insecure {
		cfg.Logger.Warn("no -acls policy: every framework and operator action is denied")
	}
	if *tokens != "" {
		if cfg.Tokens, err = auth.LoadTokens(*tokens); err != nil {
			return err
		}
	}
	if cfg.Insecure {
		cfg.Logger.Warn("-insecure: serving plaintext, authenticating and authorizing nobody")
	}
	cli, err := auth.NewEtcdClient(strings.Split(*endpoints, ","), cfg.TLS)
	if err != nil {
		return err
	}
	defer cli.Close()
	cfg.Etcd = cli
	return master.Run(ctx, cfg)
}
